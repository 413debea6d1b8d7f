//! Validation of what callers save: stream names, partition keys, explicit
//! hash keys and sizes. A record that passes is a [`NewRecord`], ready for the
//! store.

use crate::error::{Error, Result};

/// A validated record on its way to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewRecord {
    pub stream: String,
    pub partition_key: String,
    /// No key was given: `partition_key` is a random UUID.
    pub key_generated: bool,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub created_at_ms: i64,
}

impl NewRecord {
    /// Bytes counted against the service's and the store's limits: data plus
    /// partition key, as Kinesis counts them.
    pub fn size(&self) -> u64 {
        record_size(self.data.len(), &self.partition_key)
    }
}

pub(crate) fn record_size(data_len: usize, partition_key: &str) -> u64 {
    (data_len + partition_key.len()) as u64
}

/// Stream names: 1 to 128 of `[a-zA-Z0-9_.-]`.
pub(crate) fn validate_stream_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 {
        return Err(Error::invalid(
            "stream name",
            format!("must be 1 to 128 characters, got {}", name.len()),
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::invalid(
            "stream name",
            format!("{bad:?} is not allowed (use letters, digits, '_', '.', '-')"),
        ));
    }
    Ok(())
}

/// Partition keys: 1 to 256 characters, counted as the service counts them
/// (UTF-16 code units: an emoji counts two).
pub(crate) fn validate_partition_key(key: &str) -> Result<()> {
    let chars = key.encode_utf16().count();
    if chars == 0 || chars > 256 {
        return Err(Error::invalid(
            "partition key",
            format!("must be 1 to 256 characters, got {chars}"),
        ));
    }
    Ok(())
}

/// Explicit hash keys: a decimal integer in [0, 2^128 - 1] without leading
/// zeros (the service's pattern is `0|([1-9]\d{0,38})`).
pub(crate) fn validate_explicit_hash_key(key: &str) -> Result<()> {
    let valid = !key.is_empty()
        && (key == "0" || !key.starts_with('0'))
        && key.len() <= 39
        && key.bytes().all(|b| b.is_ascii_digit())
        && key.parse::<u128>().is_ok();
    if !valid {
        return Err(Error::invalid(
            "explicit hash key",
            format!("{key:?} is not a decimal integer between 0 and 2^128-1"),
        ));
    }
    Ok(())
}

/// Validates everything about a save and builds the record. A missing
/// partition key becomes a random UUID, so retries keep the same key.
pub(crate) fn new_record(
    data: Vec<u8>,
    stream: &str,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
    max_record_bytes: u64,
    created_at_ms: i64,
) -> Result<NewRecord> {
    validate_stream_name(stream)?;
    let key_generated = partition_key.is_none();
    let partition_key = match partition_key {
        Some(key) => {
            validate_partition_key(&key)?;
            key
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    if let Some(key) = &explicit_hash_key {
        validate_explicit_hash_key(key)?;
    }
    if data.is_empty() {
        return Err(Error::invalid("data", "must not be empty"));
    }
    let size = record_size(data.len(), &partition_key);
    if size > max_record_bytes {
        return Err(Error::invalid(
            "data",
            format!("record is {size} bytes (data + partition key), the limit is {max_record_bytes}"),
        ));
    }
    Ok(NewRecord {
        stream: stream.to_owned(),
        partition_key,
        key_generated,
        explicit_hash_key,
        data,
        created_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(data: &[u8], stream: &str, key: Option<&str>, hash: Option<&str>) -> Result<NewRecord> {
        new_record(
            data.to_vec(),
            stream,
            key.map(str::to_owned),
            hash.map(str::to_owned),
            1000,
            0,
        )
    }

    #[test]
    fn accepts_valid_records_and_generates_keys() {
        let record = save(b"x", "a-b_c.1", None, None).unwrap();
        assert_eq!(record.partition_key.len(), 36);
        assert!(record.key_generated);
        assert!(!save(b"x", "s", Some("k"), None).unwrap().key_generated);
        let other = save(b"x", "s", None, None).unwrap();
        assert_ne!(record.partition_key, other.partition_key);
        assert!(save(b"x", &"s".repeat(128), Some(&"é".repeat(256)), Some("0")).is_ok());
        assert!(save(b"x", "s", Some(&"😀".repeat(128)), None).is_ok());
        assert!(save(b"x", "s", Some("k"), Some(&u128::MAX.to_string())).is_ok());
    }

    #[test]
    fn rejects_bad_stream_names() {
        for name in ["", "a b", "a/b", "ü", &"s".repeat(129)] {
            assert!(
                matches!(
                    save(b"x", name, None, None),
                    Err(Error::InvalidInput {
                        field: "stream name",
                        ..
                    })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn rejects_bad_partition_keys() {
        for key in ["".to_owned(), "k".repeat(257), "é".repeat(257), "😀".repeat(129)] {
            assert!(matches!(
                save(b"x", "s", Some(&key), None),
                Err(Error::InvalidInput {
                    field: "partition key",
                    ..
                })
            ));
        }
    }

    #[test]
    fn rejects_bad_explicit_hash_keys() {
        let too_big = "340282366920938463463374607431768211456"; // 2^128
        for key in ["", "-1", "1.0", " 1", "abc", too_big, "+5", "00", "007"] {
            assert!(
                matches!(
                    save(b"x", "s", Some("k"), Some(key)),
                    Err(Error::InvalidInput {
                        field: "explicit hash key",
                        ..
                    })
                ),
                "{key:?}"
            );
        }
    }

    #[test]
    fn rejects_empty_and_oversize_data() {
        assert!(matches!(
            save(b"", "s", Some("k"), None),
            Err(Error::InvalidInput { field: "data", .. })
        ));
        assert!(save(&[0; 999], "s", Some("k"), None).is_ok());
        assert!(matches!(
            save(&[0; 1000], "s", Some("k"), None),
            Err(Error::InvalidInput { field: "data", .. })
        ));
    }
}
