//! Packing records into one request within the service's limits and, with
//! aggregation on, into KPL aggregated records. The worker hands a [`Packer`]
//! to `Store::next_batch`, which reads records until it refuses one: the
//! store never decides what fits.
//!
//! Who may share an aggregate is what makes aggregation safe for every
//! consumer: KCL drops the sub-records whose key hashes outside the shard the
//! aggregate landed on, and no shard map is read (ListShards is rate-limited
//! and needs a permission of its own). So an aggregate holds only records
//! that land on the same shard whatever the shard map is:
//!
//! - records saved with a partition key or an explicit hash key share one
//!   only with records of the same partition key and explicit hash key, and
//!   it travels under those keys;
//! - records saved without a key (the recorder made a random one up) share
//!   one with each other, under the first one's made-up key, which every
//!   sub-record then carries. No key the app chose is ever changed.
//!
//! Sizes are counted byte for byte as the aggregate is encoded (magic number,
//! protobuf tags and lengths, MD5), so an aggregate never passes its limit.

use std::collections::HashMap;

use crate::submission::{Entry, StoredRecord};

/// The limits of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Kinesis records per request.
    pub max_records: u32,
    /// Data and partition keys of one request.
    pub max_bytes: u64,
    /// With aggregation on, the largest aggregated record (data + partition key).
    pub max_aggregate_bytes: Option<u64>,
}

/// Admits records into a batch while every limit holds, and plans the
/// Kinesis record each one travels in. The first record is always admitted:
/// validation guarantees it fits in a request.
pub(crate) struct Packer {
    limits: Limits,
    planned: Vec<Planned>,
    /// The index in `planned` of each admitted record, in read order.
    placed: Vec<u32>,
    /// Per group, the aggregate still open to the group's next records.
    open: HashMap<Group, usize>,
    bytes: u64,
}

/// Records that may share an aggregate have equal groups.
#[derive(Debug, Hash, PartialEq, Eq)]
struct Group {
    /// The app's key; `None` for made-up keys, which any other may replace.
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

/// One Kinesis record of the batch, as planned so far.
#[derive(Debug, Clone, Copy)]
struct Planned {
    records: u32,
    /// Data + partition key of the first record: the size sent plain.
    plain_size: u64,
    /// The keys the aggregate travels under (the first record's).
    key_len: u64,
    hash_key_len: Option<u64>,
    /// Encoded `records` fields of the sub-records.
    sub_records_len: u64,
}

impl Planned {
    fn new(record: &StoredRecord) -> Self {
        let hash_key_len = record.explicit_hash_key.as_ref().map(|k| k.len() as u64);
        Planned {
            records: 1,
            plain_size: record.size,
            key_len: record.partition_key.len() as u64,
            hash_key_len,
            sub_records_len: sub_record_len(record.data.len() as u64, hash_key_len.is_some()),
        }
    }

    fn with(self, record: &StoredRecord) -> Self {
        Planned {
            records: self.records + 1,
            sub_records_len: self.sub_records_len
                + sub_record_len(record.data.len() as u64, self.hash_key_len.is_some()),
            ..self
        }
    }

    /// Data + partition key of the Kinesis record: one record goes plain.
    fn size(&self) -> u64 {
        if self.records == 1 {
            self.plain_size
        } else {
            aggregate_size(self.key_len, self.hash_key_len, self.sub_records_len)
        }
    }
}

/// The magic number before the protobuf message, the MD5 after it.
const AGGREGATE_FRAMING: u64 = 4 + 16;

/// Data + partition key of an aggregate: framing, the protobuf message (key
/// tables and sub-records), and the key it travels under.
fn aggregate_size(key_len: u64, hash_key_len: Option<u64>, sub_records_len: u64) -> u64 {
    AGGREGATE_FRAMING + field_len(key_len) + hash_key_len.map_or(0, field_len) + sub_records_len + key_len
}

/// One sub-record as a `records` field: `Record { partition_key_index: 0,
/// explicit_hash_key_index: 0 (when hashed), data }`, each index a 1-byte tag
/// and a 1-byte varint.
fn sub_record_len(data_len: u64, hashed: bool) -> u64 {
    field_len(2 + if hashed { 2 } else { 0 } + field_len(data_len))
}

/// A length-delimited protobuf field: 1-byte tag, varint length, bytes.
fn field_len(len: u64) -> u64 {
    1 + varint_len(len) + len
}

/// Bytes of `value` as a protobuf varint (7 bits per byte).
fn varint_len(value: u64) -> u64 {
    u64::from(64 - (value | 1).leading_zeros()).div_ceil(7)
}

impl Packer {
    pub fn new(limits: Limits) -> Self {
        Packer {
            limits,
            planned: Vec::new(),
            placed: Vec::new(),
            open: HashMap::new(),
            bytes: 0,
        }
    }

    /// Rows worth reading for one batch: one per Kinesis record, or with
    /// aggregation as many as the request's bytes may hold.
    pub fn max_rows(&self) -> u32 {
        match self.limits.max_aggregate_bytes {
            None => self.limits.max_records,
            Some(_) => u32::try_from(self.limits.max_bytes).unwrap_or(u32::MAX),
        }
    }

    /// Admits `record` if it fits; false means the batch is full.
    pub fn try_add(&mut self, record: &StoredRecord) -> bool {
        let Some(max_aggregate) = self.limits.max_aggregate_bytes else {
            return self.add_plain(record);
        };
        let group = Group {
            partition_key: (!record.key_generated).then(|| record.partition_key.clone()),
            explicit_hash_key: record.explicit_hash_key.clone(),
        };
        if let Some(&index) = self.open.get(&group) {
            let planned = self.planned[index];
            let joined = planned.with(record);
            let grown = joined.size() - planned.size();
            if joined.size() <= max_aggregate && self.bytes + grown <= self.limits.max_bytes {
                self.planned[index] = joined;
                self.bytes += grown;
                self.placed.push(index as u32);
                return true;
            }
        }
        // No aggregate of its group, or that one is full: it starts one,
        // unless it could never share one (then the group's stays open).
        if !self.add_plain(record) {
            return false;
        }
        let index = self.planned.len() - 1;
        let alone = self.planned[index];
        if aggregate_size(alone.key_len, alone.hash_key_len, alone.sub_records_len) < max_aggregate {
            self.open.insert(group, index);
        }
        true
    }

    /// Admits `record` as a Kinesis record of its own.
    fn add_plain(&mut self, record: &StoredRecord) -> bool {
        let fits = self.planned.len() < self.limits.max_records as usize
            && (self.planned.is_empty() || self.bytes + record.size <= self.limits.max_bytes);
        if fits {
            self.placed.push(self.planned.len() as u32);
            self.planned.push(Planned::new(record));
            self.bytes += record.size;
        }
        fits
    }

    /// The admitted `records` (as read, in order) in the Kinesis records
    /// planned for them.
    pub fn into_entries(self, records: Vec<StoredRecord>) -> Vec<Entry> {
        debug_assert_eq!(records.len(), self.placed.len());
        if self.planned.len() == records.len() {
            return records.into_iter().map(Entry::Plain).collect();
        }
        let mut groups: Vec<Vec<StoredRecord>> = self
            .planned
            .iter()
            .map(|p| Vec::with_capacity(p.records as usize))
            .collect();
        for (record, &index) in records.into_iter().zip(&self.placed) {
            groups[index as usize].push(record);
        }
        groups
            .into_iter()
            .map(|mut records| match records.len() {
                1 => Entry::Plain(records.remove(0)),
                _ => Entry::Aggregate(records),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record(id: i64, key: Option<&str>, hash: Option<&str>, data_len: usize) -> StoredRecord {
        let partition_key = key.map_or_else(|| format!("{id:036}"), str::to_owned);
        StoredRecord {
            id,
            size: (data_len + partition_key.len()) as u64,
            partition_key,
            key_generated: key.is_none(),
            explicit_hash_key: hash.map(str::to_owned),
            data: vec![id as u8; data_len],
            attempts: 0,
        }
    }

    fn limits(max_records: u32, max_bytes: u64) -> Limits {
        Limits {
            max_records,
            max_bytes,
            max_aggregate_bytes: None,
        }
    }

    fn sized(size: u64) -> StoredRecord {
        record(1, Some("k"), None, size as usize - 1)
    }

    #[test]
    fn stops_at_the_record_limit() {
        let mut packer = Packer::new(limits(3, 1000));
        assert_eq!((0..5).filter(|_| packer.try_add(&sized(2))).count(), 3);
    }

    #[test]
    fn stops_before_the_byte_limit() {
        let mut packer = Packer::new(limits(500, 10));
        assert!(packer.try_add(&sized(4)));
        assert!(packer.try_add(&sized(6)));
        assert!(!packer.try_add(&sized(2)));
    }

    #[test]
    fn always_admits_a_first_record() {
        assert!(Packer::new(limits(500, 10)).try_add(&sized(11)));
    }

    #[test]
    fn varints_take_seven_bits_a_byte() {
        for (value, len) in [
            (0, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(value), len, "{value}");
        }
    }

    fn aggregated(records: &[StoredRecord], max_aggregate: u64) -> Vec<Entry> {
        let mut packer = Packer::new(Limits {
            max_records: 500,
            max_bytes: 5 << 20,
            max_aggregate_bytes: Some(max_aggregate),
        });
        let admitted = records.iter().take_while(|r| packer.try_add(r)).count();
        packer.into_entries(records[..admitted].to_vec())
    }

    fn ids(entry: &Entry) -> Vec<i64> {
        entry.records().iter().map(|r| r.id).collect()
    }

    #[test]
    fn unkeyed_records_share_aggregates_and_keyed_ones_keep_to_their_key() {
        let records = [
            record(1, None, None, 10),
            record(2, Some("a"), None, 10),
            record(3, None, None, 10),
            record(4, Some("a"), None, 10),
            record(5, Some("b"), None, 10),
            record(6, Some("a"), Some("7"), 10),
            record(7, None, Some("7"), 10),
            record(8, None, Some("7"), 10),
            record(9, None, None, 10),
        ];
        let entries = aggregated(&records, 25_000);
        let groups: Vec<Vec<i64>> = entries.iter().map(ids).collect();
        assert_eq!(groups, vec![vec![1, 3, 9], vec![2, 4], vec![5], vec![6], vec![7, 8]]);
        assert!(matches!(entries[2], Entry::Plain(_)), "a group of one goes plain");
    }

    #[test]
    fn a_full_aggregate_makes_way_for_the_next() {
        // 100-byte sub-records take 106 bytes; the frame and a 36-byte key 94.
        let records: Vec<_> = (0..10).map(|i| record(i, None, None, 100)).collect();
        let entries = aggregated(&records, 94 + 3 * 106);
        let groups: Vec<Vec<i64>> = entries.iter().map(ids).collect();
        assert_eq!(groups, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6, 7, 8], vec![9]]);
    }

    #[test]
    fn a_record_too_big_to_aggregate_goes_plain() {
        let records = [
            record(1, None, None, 10),
            record(2, None, None, 5_000),
            record(3, None, None, 10),
        ];
        let entries = aggregated(&records, 1_000);
        let groups: Vec<Vec<i64>> = entries.iter().map(ids).collect();
        assert_eq!(groups, vec![vec![1, 3], vec![2]]);
    }

    fn planned_size(entry: &Entry) -> u64 {
        match entry {
            Entry::Plain(record) => record.size,
            Entry::Aggregate(records) => {
                let first = &records[0];
                let hashed = first.explicit_hash_key.is_some();
                aggregate_size(
                    first.partition_key.len() as u64,
                    first.explicit_hash_key.as_ref().map(|k| k.len() as u64),
                    records
                        .iter()
                        .map(|r| sub_record_len(r.data.len() as u64, hashed))
                        .sum(),
                )
            }
        }
    }

    /// Records of a few app keys, hash keys and made-up keys, of sizes
    /// around the varint steps (127/128 bytes, 16 KiB).
    fn records() -> impl Strategy<Value = Vec<StoredRecord>> {
        let one = (
            prop_oneof![Just(None), Just(Some("a")), Just(Some("b")), Just(Some("é😀"))],
            prop_oneof![3 => Just(None), 1 => Just(Some("42")), 1 => Just(Some("340282366920938463463374607431768211455"))],
            prop_oneof![1..200usize, 100..140usize, 16_300..16_500usize, 1..60_000usize],
        );
        prop::collection::vec(one, 1..400).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(i, (key, hash, len))| record(i as i64 + 1, key, hash, len))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn packing_keeps_every_limit_and_every_key(
            records in records(),
            max_records in 1u32..600,
            max_bytes in 60_000u64..400_000,
            max_aggregate in 1_000u64..60_000,
            aggregate in any::<bool>(),
        ) {
            let limits = Limits { max_records, max_bytes, max_aggregate_bytes: aggregate.then_some(max_aggregate) };
            let mut packer = Packer::new(limits);
            let admitted = records.iter().take_while(|r| packer.try_add(r)).count();
            prop_assert!(admitted >= 1);
            let entries = packer.into_entries(records[..admitted].to_vec());

            // Every admitted record is in exactly one Kinesis record, in read order within it.
            let mut seen: Vec<i64> = entries.iter().flat_map(ids).collect();
            seen.sort();
            prop_assert_eq!(seen, records[..admitted].iter().map(|r| r.id).collect::<Vec<_>>());
            for entry in &entries {
                prop_assert!(ids(entry).windows(2).all(|w| w[0] < w[1]));
            }
            // The request's limits hold (a lone first record always goes).
            prop_assert!(entries.len() <= max_records as usize);
            let total: u64 = entries.iter().map(planned_size).sum();
            prop_assert!(total <= max_bytes || entries.len() == 1, "{} > {}", total, max_bytes);
            for entry in &entries {
                if let Entry::Aggregate(members) = entry {
                    prop_assert!(aggregate && members.len() >= 2);
                    prop_assert!(planned_size(entry) <= max_aggregate);
                    // One key per aggregate: the app's own, or only made-up ones.
                    let first = &members[0];
                    for member in members {
                        prop_assert_eq!(&member.explicit_hash_key, &first.explicit_hash_key);
                        prop_assert_eq!(member.key_generated, first.key_generated);
                        if !member.key_generated {
                            prop_assert_eq!(&member.partition_key, &first.partition_key);
                        }
                    }
                }
            }
            // The batch ends only when the next record would not fit.
            if admitted < records.len() && !aggregate {
                let next = &records[admitted];
                prop_assert!(entries.len() == max_records as usize || total + next.size > max_bytes);
            }
        }
    }
}
