//! The KPL aggregated record: the magic number `F3 89 9A C2`, a protobuf
//! `AggregatedRecord`, then the MD5 of the protobuf bytes. KCL, the
//! published de-aggregation modules (Lambda) and Firehose read it.
//!
//! The message is written by hand: it is three small proto2 messages, of
//! which the recorder writes one shape (one partition key, at most one
//! explicit hash key, every sub-record pointing at index 0 of both tables),
//! and a protobuf crate would cost the mobile library more than this file
//! (README, "KPL aggregation"). The tests hold it to the bytes the published
//! Python aggregator makes.

use md5::{Digest, Md5};

use crate::submission::StoredRecord;

const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

// Field keys (field number << 3 | wire type: 0 varint, 2 length-delimited).
/// `AggregatedRecord.partition_key_table`, `.explicit_hash_key_table`, `.records`.
const PARTITION_KEY_TABLE: u8 = 1 << 3 | 2;
const EXPLICIT_HASH_KEY_TABLE: u8 = 2 << 3 | 2;
const RECORDS: u8 = 3 << 3 | 2;
/// `Record.partition_key_index`, `.explicit_hash_key_index`, `.data`.
const PARTITION_KEY_INDEX: u8 = 1 << 3;
const EXPLICIT_HASH_KEY_INDEX: u8 = 2 << 3;
const DATA: u8 = 3 << 3 | 2;

/// The data of one aggregated record carrying `records` (two or more), under
/// the first one's partition key and explicit hash key: every sub-record
/// refers to them. The upload policy groups only records that may.
pub(crate) fn encode(records: &[StoredRecord]) -> Vec<u8> {
    let first = &records[0];
    let hash_key = first.explicit_hash_key.as_deref();
    let data: usize = records.iter().map(|r| r.data.len() + 16).sum();
    let mut out = Vec::with_capacity(MAGIC.len() + first.partition_key.len() + 60 + data + 16);
    out.extend_from_slice(&MAGIC);
    field(&mut out, PARTITION_KEY_TABLE, first.partition_key.as_bytes());
    if let Some(key) = hash_key {
        field(&mut out, EXPLICIT_HASH_KEY_TABLE, key.as_bytes());
    }
    for record in records {
        debug_assert_eq!(record.explicit_hash_key.as_deref(), hash_key);
        let (data_len, data_len_bytes) = varint(record.data.len() as u64);
        let indexes = if hash_key.is_some() { 4 } else { 2 };
        let record_len = indexes + 1 + data_len_bytes + record.data.len();
        out.push(RECORDS);
        push_varint(&mut out, record_len as u64);
        out.extend_from_slice(&[PARTITION_KEY_INDEX, 0]);
        if hash_key.is_some() {
            out.extend_from_slice(&[EXPLICIT_HASH_KEY_INDEX, 0]);
        }
        out.push(DATA);
        out.extend_from_slice(&data_len[..data_len_bytes]);
        out.extend_from_slice(&record.data);
    }
    let digest = Md5::digest(&out[MAGIC.len()..]);
    out.extend_from_slice(&digest);
    out
}

/// A length-delimited field: key, varint length, bytes.
fn field(out: &mut Vec<u8>, key: u8, bytes: &[u8]) {
    out.push(key);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn push_varint(out: &mut Vec<u8>, value: u64) {
    let (bytes, len) = varint(value);
    out.extend_from_slice(&bytes[..len]);
}

/// `value` as a protobuf varint: 7 bits per byte, low bits first, the high
/// bit set on every byte but the last.
fn varint(mut value: u64) -> ([u8; 10], usize) {
    let mut bytes = [0; 10];
    let mut len = 0;
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes[len] = low;
            return (bytes, len + 1);
        }
        bytes[len] = low | 0x80;
        len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, hash: Option<&str>, data: &[u8]) -> StoredRecord {
        StoredRecord {
            id: 1,
            partition_key: key.into(),
            key_generated: false,
            explicit_hash_key: hash.map(Into::into),
            data: data.to_vec(),
            size: 0,
            attempts: 0,
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What aws-kinesis-agg 1.2.3 (the published Python aggregator,
    /// `AggRecord.add_user_record` then `get_contents`) makes of the same
    /// records, byte for byte.
    #[test]
    fn matches_the_published_aggregator() {
        let two_hundred: Vec<u8> = (0..200).map(|b| b as u8).collect();
        let encoded = encode(&[record("user-42", None, b"hello"), record("user-42", None, &two_hundred)]);
        let mut want = String::from("f3899ac20a07757365722d34321a0908001a0568656c6c6f1acd0108001ac801");
        want.push_str(&hex(&two_hundred));
        want.push_str("0e346917e88ba04422f6b58bb0a54817");
        assert_eq!(hex(&encoded), want);

        let max = "340282366920938463463374607431768211455";
        let encoded = encode(&[record("p", Some(max), b"a"), record("p", Some(max), b"b")]);
        assert_eq!(
            hex(&encoded),
            "f3899ac20a017012273334303238323336363932303933383436333436333337343630373433313736383231313435351a\
             07080010001a01611a07080010001a01629311647a3be8fad36ff7e8ab782ce2d2"
        );
    }

    #[test]
    fn varints() {
        for (value, bytes) in [
            (0u64, &[0u8][..]),
            (1, &[1]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] {
            let (buf, len) = varint(value);
            assert_eq!(&buf[..len], bytes, "{value}");
        }
    }
}
