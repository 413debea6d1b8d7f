//! A minimal CBOR (RFC 8949) reader and writer for the loopback servers of
//! the tests and the benchmark: enough to check a PutRecords body, count its
//! records and answer it. Written apart from the crate's own codec
//! (`src/transport/cbor.rs`) on purpose, so a server built on it checks the
//! crate's encoding independently.
//!
//! Shared by file (`#[path = ".../tests/common/cbor.rs"] mod cbor;`), so it
//! depends on std only.

/// Reads an item head: (major type, argument); `None` argument = indefinite.
fn head(b: &[u8], p: &mut usize) -> Option<(u8, Option<u64>)> {
    let initial = *b.get(*p)?;
    *p += 1;
    let (major, info) = (initial >> 5, initial & 0x1f);
    let extra = match info {
        0..=23 => return Some((major, Some(u64::from(info)))),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 if matches!(major, 2..=5) => return Some((major, None)),
        _ => return None,
    };
    let bytes = b.get(*p..*p + extra)?;
    *p += extra;
    Some((major, Some(bytes.iter().fold(0u64, |v, &x| v << 8 | u64::from(x)))))
}

fn is_break(b: &[u8], p: &mut usize) -> Option<bool> {
    if *b.get(*p)? == 0xff {
        *p += 1;
        return Some(true);
    }
    Some(false)
}

/// Skips one well-formed item.
fn skip(b: &[u8], p: &mut usize, depth: u32) -> Option<()> {
    if depth > 32 {
        return None;
    }
    let (major, arg) = head(b, p)?;
    match (major, arg) {
        (0 | 1 | 7, _) => Some(()),
        (2 | 3, Some(n)) => {
            *p = p.checked_add(usize::try_from(n).ok()?)?;
            (*p <= b.len()).then_some(())
        }
        (4 | 5, Some(n)) => {
            let items = if major == 5 { n.checked_mul(2)? } else { n };
            for _ in 0..items {
                skip(b, p, depth + 1)?;
            }
            Some(())
        }
        (2..=5, None) => {
            while !is_break(b, p)? {
                skip(b, p, depth + 1)?;
                if major == 5 {
                    skip(b, p, depth + 1)?;
                }
            }
            Some(())
        }
        (6, _) => skip(b, p, depth + 1),
        _ => None,
    }
}

/// The number of entries of the `Records` array of a PutRecords body; `None`
/// if the body is not one well-formed CBOR map.
pub fn count_put_records(b: &[u8]) -> Option<usize> {
    let mut p = 0;
    let (major, pairs) = head(b, &mut p)?;
    if major != 5 {
        return None;
    }
    let mut records = None;
    let mut i = 0u64;
    loop {
        match pairs {
            Some(n) if i == n => break,
            None if is_break(b, &mut p)? => break,
            _ => {}
        }
        i += 1;
        let (key_major, key_len) = head(b, &mut p)?;
        let key_len = usize::try_from(key_len?).ok()?;
        let key = b.get(p..p + key_len)?;
        p += key_len;
        if key_major == 3 && key == b"Records" {
            let (array_major, len) = head(b, &mut p)?;
            if array_major != 4 {
                return None;
            }
            let mut count = 0;
            loop {
                match len {
                    Some(n) if count as u64 == n => break,
                    None if is_break(b, &mut p)? => break,
                    _ => {}
                }
                skip(b, &mut p, 1)?;
                count += 1;
            }
            records = Some(count);
        } else {
            skip(b, &mut p, 1)?;
        }
    }
    (p == b.len()).then_some(records?)
}

fn put_head(out: &mut Vec<u8>, major: u8, n: u64) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, n as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(major | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    put_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// A PutRecords answer with `n` successful entries.
pub fn put_records_answer(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + n * 110);
    put_head(&mut out, 5, 3);
    put_text(&mut out, "FailedRecordCount");
    put_head(&mut out, 0, 0);
    put_text(&mut out, "EncryptionType");
    put_text(&mut out, "NONE");
    put_text(&mut out, "Records");
    put_head(&mut out, 4, n as u64);
    for _ in 0..n {
        put_head(&mut out, 5, 2);
        put_text(&mut out, "SequenceNumber");
        put_text(&mut out, "49546986683135544286507457936321625675700192471156785154");
        put_text(&mut out, "ShardId");
        put_text(&mut out, "shardId-000000000000");
    }
    out
}
