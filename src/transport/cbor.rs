//! The small part of CBOR (RFC 8949) that Kinesis' `application/x-amz-cbor-1.1`
//! protocol needs: writing maps, arrays, text and byte strings, and reading
//! any well-formed item into a [`Value`]. Binary data travels as bytes, not
//! base64, so a request is about a quarter smaller than its JSON twin.

/// A decoded CBOR item; numbers other than unsigned integers, and tags, are
/// kept only as far as the protocol needs them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Unsigned(u64),
    Negative,
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Bool(bool),
    Null,
    Float,
}

impl Value {
    /// The value under a text key of a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// Appends CBOR items to a buffer.
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    fn head(&mut self, major: u8, length: u64) {
        let major = major << 5;
        match length {
            0..=23 => self.0.push(major | length as u8),
            24..=0xff => self.0.extend_from_slice(&[major | 24, length as u8]),
            0x100..=0xffff => {
                self.0.push(major | 25);
                self.0.extend_from_slice(&(length as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                self.0.push(major | 26);
                self.0.extend_from_slice(&(length as u32).to_be_bytes());
            }
            _ => {
                self.0.push(major | 27);
                self.0.extend_from_slice(&length.to_be_bytes());
            }
        }
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.head(2, bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    pub fn text(&mut self, text: &str) {
        self.head(3, text.len() as u64);
        self.0.extend_from_slice(text.as_bytes());
    }

    pub fn array(&mut self, length: usize) {
        self.head(4, length as u64);
    }

    pub fn map(&mut self, entries: usize) {
        self.head(5, entries as u64);
    }
}

/// Deepest nesting accepted: a PutRecords answer needs 3.
const MAX_DEPTH: usize = 16;

/// Reads one complete item that must span the whole input.
pub(crate) fn decode(input: &[u8]) -> Result<Value, String> {
    let mut reader = Reader { input, at: 0 };
    let value = reader.item(0)?;
    if reader.at != input.len() {
        return Err(format!("{} bytes after the CBOR item", input.len() - reader.at));
    }
    Ok(value)
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

/// Marks an indefinite length in [`Reader::head`].
const INDEFINITE: u64 = u64::MAX;

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or("CBOR item cut short")?;
        let bytes = &self.input[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn head(&mut self) -> Result<(u8, u8, u64), String> {
        let first = self.take(1)?[0];
        let (major, info) = (first >> 5, first & 0x1f);
        let length = match info {
            0..=23 => info as u64,
            24 => self.take(1)?[0] as u64,
            25 => u16::from_be_bytes(self.take(2)?.try_into().unwrap()) as u64,
            26 => u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64,
            27 => u64::from_be_bytes(self.take(8)?.try_into().unwrap()),
            31 if matches!(major, 2..=5 | 7) => INDEFINITE,
            _ => return Err(format!("invalid CBOR head byte {first:#04x}")),
        };
        Ok((major, info, length))
    }

    /// A definite length, bounded by what is left of the input (every
    /// element takes at least one byte), so a lying length cannot make us
    /// allocate.
    fn count(&self, length: u64) -> Result<usize, String> {
        if length > (self.input.len() - self.at) as u64 {
            return Err("CBOR length past the end of the input".into());
        }
        Ok(length as usize)
    }

    fn is_break(&mut self) -> Result<bool, String> {
        if self.input.get(self.at) == Some(&0xff) {
            self.at += 1;
            return Ok(true);
        }
        if self.at >= self.input.len() {
            return Err("CBOR item cut short".into());
        }
        Ok(false)
    }

    fn string(&mut self, major: u8, length: u64, depth: usize) -> Result<Vec<u8>, String> {
        if length != INDEFINITE {
            let n = self.count(length)?;
            return Ok(self.take(n)?.to_vec());
        }
        let mut joined = Vec::new();
        while !self.is_break()? {
            match self.item(depth + 1)? {
                Value::Bytes(chunk) if major == 2 => joined.extend(chunk),
                Value::Text(chunk) if major == 3 => joined.extend(chunk.into_bytes()),
                _ => return Err("invalid chunk in an indefinite-length CBOR string".into()),
            }
        }
        Ok(joined)
    }

    fn item(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("CBOR nested too deep".into());
        }
        let (major, info, length) = self.head()?;
        Ok(match major {
            0 => Value::Unsigned(length),
            1 => Value::Negative,
            2 => Value::Bytes(self.string(2, length, depth)?),
            3 => Value::Text(String::from_utf8(self.string(3, length, depth)?).map_err(|_| "CBOR text is not UTF-8")?),
            4 => {
                let mut items = Vec::new();
                if length == INDEFINITE {
                    while !self.is_break()? {
                        items.push(self.item(depth + 1)?);
                    }
                } else {
                    for _ in 0..self.count(length)? {
                        items.push(self.item(depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            5 => {
                let mut entries = Vec::new();
                if length == INDEFINITE {
                    while !self.is_break()? {
                        entries.push((self.item(depth + 1)?, self.item(depth + 1)?));
                    }
                } else {
                    for _ in 0..self.count(length)? {
                        entries.push((self.item(depth + 1)?, self.item(depth + 1)?));
                    }
                }
                Value::Map(entries)
            }
            6 => self.item(depth + 1)?, // a tag: keep the tagged item
            _ => match (info, length) {
                (20, _) => Value::Bool(false),
                (21, _) => Value::Bool(true),
                (22 | 23, _) => Value::Null,
                (25..=27, _) => Value::Float,
                (_, INDEFINITE) => return Err("unexpected CBOR break".into()),
                _ => Value::Null,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_it_reads() {
        let mut w = Writer(Vec::new());
        w.map(2);
        w.text("a");
        w.bytes(&[0, 1, 255]);
        w.text("b");
        w.array(1);
        w.text(&"x".repeat(300));
        let value = decode(&w.0).unwrap();
        assert_eq!(value.get("a"), Some(&Value::Bytes(vec![0, 1, 255])));
        assert_eq!(value.get("b"), Some(&Value::Array(vec![Value::Text("x".repeat(300))])));
    }

    #[test]
    fn reads_rfc_8949_examples() {
        // {_ "a": 1, "b": [_ 2, 3]} and (_ h'0102', h'03')
        assert_eq!(
            decode(&[0xbf, 0x61, 0x61, 0x01, 0x61, 0x62, 0x9f, 0x02, 0x03, 0xff, 0xff]).unwrap(),
            Value::Map(vec![
                (Value::Text("a".into()), Value::Unsigned(1)),
                (
                    Value::Text("b".into()),
                    Value::Array(vec![Value::Unsigned(2), Value::Unsigned(3)])
                ),
            ])
        );
        assert_eq!(
            decode(&[0x5f, 0x42, 0x01, 0x02, 0x41, 0x03, 0xff]).unwrap(),
            Value::Bytes(vec![1, 2, 3])
        );
        assert_eq!(decode(&[0xf6]).unwrap(), Value::Null);
        assert_eq!(
            decode(&[0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0]).unwrap(),
            Value::Unsigned(1363896240)
        );
        assert_eq!(decode(&[0xfb, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap(), Value::Float);
    }

    #[test]
    fn refuses_malformed_input() {
        for bad in [
            &[][..],
            &[0x62, 0x61],                                           // text cut short
            &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // huge array
            &[0xbf, 0x61, 0x61],                                     // unterminated map
            &[0x1c],                                                 // reserved info
            &[0xff],                                                 // lone break
            &[0x01, 0x02],                                           // trailing bytes
            &[0x62, 0xff, 0xfe],                                     // invalid UTF-8
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(0x81, 100).chain([0x00]).collect();
        assert!(decode(&deep).is_err());
    }
}
