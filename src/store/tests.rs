//! Store tests on real SQLite files in a temporary directory.

use rusqlite::Connection;

use super::*;
use crate::error::{DropReason, Error, Result};
use crate::policy::batch::{Limits, Packer};
use crate::record::NewRecord;
use crate::service::Service;
use crate::submission::{Settlement, StoredRecord};

fn record(stream: &str, data: &[u8], created_at_ms: i64) -> NewRecord {
    NewRecord {
        stream: stream.into(),
        partition_key: "pk".into(),
        key_generated: false,
        explicit_hash_key: None,
        data: data.to_vec(),
        created_at_ms,
    }
}

/// Records 0..n of `stream`: 8 bytes of `i` each (10 bytes with the key),
/// created at `i`.
fn numbered(stream: &str, n: u8) -> Vec<NewRecord> {
    (0..n).map(|i| record(stream, &[i; 8], i as i64)).collect()
}

/// A batch packed as the worker packs it.
fn read_batch(
    store: &Store,
    stream: &str,
    after_id: i64,
    max_records: u32,
    max_bytes: u64,
) -> Result<Vec<StoredRecord>> {
    let mut packer = Packer::new(Limits {
        max_records,
        max_bytes,
        max_aggregate_bytes: None,
    });
    store.next_batch(stream, after_id, max_records, |record| packer.try_add(record))
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let store = Store::open(path.to_str().unwrap(), Service::KinesisDataStreams).unwrap();
    (dir, store)
}

fn path(dir: &tempfile::TempDir) -> String {
    dir.path().join("store.db").to_str().unwrap().to_owned()
}

#[test]
fn accounting_survives_reopen() {
    let (dir, mut store) = open();
    store
        .insert(
            &[record("a", b"1234", 1), record("b", b"12", 2), record("a", b"1", 3)],
            None,
            0,
        )
        .unwrap();
    assert_eq!(store.pending_records(), 3);
    assert_eq!(store.pending_bytes(), (4 + 2) + (2 + 2) + (1 + 2));
    drop(store);
    let store = Store::open(&path(&dir), Service::KinesisDataStreams).unwrap();
    assert_eq!(store.pending_records(), 3);
    let streams = store.pending_streams();
    assert_eq!(
        streams
            .iter()
            .map(|s| (s.name.as_str(), s.records, s.bytes))
            .collect::<Vec<_>>(),
        vec![("a", 2, 9), ("b", 1, 4)]
    );
    assert_eq!(store.oldest_created_at("a").unwrap(), Some(1));
    assert_eq!(store.oldest_created_at("zzz").unwrap(), None);
}

#[test]
fn batches_are_per_stream_in_order_within_limits() {
    let (_dir, mut store) = open();
    let records: Vec<_> = (0..10)
        .map(|i| record(if i % 2 == 0 { "a" } else { "b" }, &[i as u8; 8], i))
        .collect();
    store.insert(&records, None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 3, 1000).unwrap();
    assert_eq!(batch.iter().map(|r| r.data[0]).collect::<Vec<_>>(), vec![0, 2, 4]);
    let next = read_batch(&store, "a", batch.last().unwrap().id, 3, 1000).unwrap();
    assert_eq!(next.iter().map(|r| r.data[0]).collect::<Vec<_>>(), vec![6, 8]);
    // 10 bytes per record: 25 bytes hold two.
    assert_eq!(read_batch(&store, "b", 0, 500, 25).unwrap().len(), 2);
    assert!(read_batch(&store, "nope", 0, 500, 25).unwrap().is_empty());
}

#[test]
fn the_callers_rule_ends_a_batch_at_its_first_refusal() {
    let (_dir, mut store) = open();
    let records = [
        record("a", &[1; 8], 1),
        record("a", &[2; 38], 2),
        record("a", &[3; 8], 3),
    ];
    store.insert(&records, None, 0).unwrap();
    // The 40-byte record is refused: the batch ends there, though the rule
    // would take the record after it.
    let batch = store.next_batch("a", 0, 500, |record| record.size < 20).unwrap();
    assert_eq!(batch.iter().map(|r| r.data[0]).collect::<Vec<_>>(), vec![1]);
    // `max_records` bounds the rows read, whatever the rule.
    assert_eq!(store.next_batch("a", 0, 2, |_| true).unwrap().len(), 2);
}

#[test]
fn settle_deletes_delivered_counts_attempts_and_drops_exhausted() {
    let (_dir, mut store) = open();
    store
        .insert(
            &[
                record("a", b"x", 1),
                record("a", b"y", 2),
                record("a", b"z", 3),
                record("a", b"t", 4),
            ],
            None,
            0,
        )
        .unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    let settlement = Settlement {
        delivered: vec![(batch[0].id, batch[0].size)],
        retry: vec![batch[1].id],
        exhausted: vec![(batch[2].id, batch[2].size)],
        throttled: vec![batch[3].id],
        kinesis_records: 1,
    };
    let dropped = store.settle("a", &settlement).unwrap();
    assert_eq!(
        dropped.by_stream.get(&("a".into(), DropReason::AttemptsExhausted)),
        Some(&1)
    );
    let left = read_batch(&store, "a", 0, 500, 1000).unwrap();
    // The refused record spent an attempt; the throttled one did not.
    assert_eq!(
        left.iter().map(|r| (r.data.clone(), r.attempts)).collect::<Vec<_>>(),
        vec![(b"y".to_vec(), 1), (b"t".to_vec(), 0)]
    );
    assert_eq!(store.pending_records(), 2);
    assert_eq!(store.pending_bytes(), 6);
    assert_eq!(store.counter(Counter::Submitted), 1);
    assert_eq!(store.counter(Counter::Retried), 2);
    assert_eq!(store.counter(Counter::Throttled), 1);
    assert_eq!(store.counter(Counter::Dropped(DropReason::AttemptsExhausted)), 1);
    // Settling a record that is already gone changes nothing.
    store.settle("a", &settlement).unwrap();
    assert_eq!(store.pending_records(), 2);
    assert_eq!(store.pending_bytes(), 6);
}

fn delivered(batch: &[StoredRecord]) -> Settlement {
    Settlement {
        delivered: batch.iter().map(|r| (r.id, r.size)).collect(),
        ..Default::default()
    }
}

fn rows_in_file(store: &Store) -> i64 {
    store
        .conn
        .query_row("SELECT count(*) FROM records", [], |row| row.get(0))
        .unwrap()
}

#[test]
fn a_batch_delivered_from_the_front_moves_the_mark_and_compaction_deletes_it() {
    let (dir, mut store) = open();
    let records: Vec<_> = (0..10)
        .map(|i| record(if i < 6 { "a" } else { "b" }, &[i as u8; 8], i))
        .collect();
    store.insert(&records, None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 4, 1000).unwrap();
    store.settle("a", &delivered(&batch)).unwrap();
    // Settled without a delete: the rows are still in the file, skipped by every query.
    assert_eq!(rows_in_file(&store), 10);
    assert_eq!((store.pending_records(), store.pending_bytes()), (6, 60));
    let rest: Vec<u8> = read_batch(&store, "a", 0, 500, 1000)
        .unwrap()
        .iter()
        .map(|r| r.data[0])
        .collect();
    assert_eq!(rest, vec![4, 5]);
    assert_eq!(store.oldest_created_at("a").unwrap(), Some(4));
    assert_eq!(store.counter(Counter::Submitted), 4);
    assert_eq!(store.counter(Counter::RequestsSent), 1);

    // The mark survives a restart; compaction deletes exactly the delivered rows.
    drop(store);
    let mut store = Store::open(&path(&dir), Service::KinesisDataStreams).unwrap();
    assert_eq!(store.pending_records(), 6);
    assert!(store.compact(3).unwrap(), "a full chunk may leave more");
    assert!(!store.compact(3).unwrap());
    assert_eq!(rows_in_file(&store), 6);
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap().len(), 2);
    assert_eq!(read_batch(&store, "b", 0, 500, 1000).unwrap().len(), 4);
}

#[test]
fn a_batch_settled_twice_is_counted_once() {
    let (_dir, mut store) = open();
    store.insert(&numbered("a", 4), None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 2, 1000).unwrap();
    store.settle("a", &delivered(&batch)).unwrap();
    assert_eq!((store.pending_records(), store.pending_bytes()), (2, 20));
    // Its rows are still in the file (not compacted): they must not be taken
    // for pending records and subtracted again.
    store.settle("a", &delivered(&batch)).unwrap();
    assert_eq!((store.pending_records(), store.pending_bytes()), (2, 20));
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap().len(), 2);
}

#[test]
fn records_after_a_rejected_one_are_deleted_one_by_one() {
    let (_dir, mut store) = open();
    store.insert(&numbered("a", 4), None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    // Record 1 is throttled: 0 moves the mark, 2 and 3 are deleted.
    let settlement = Settlement {
        delivered: vec![(batch[0].id, 10), (batch[2].id, 10), (batch[3].id, 10)],
        throttled: vec![batch[1].id],
        ..Default::default()
    };
    store.settle("a", &settlement).unwrap();
    assert_eq!(rows_in_file(&store), 2);
    let left = read_batch(&store, "a", 0, 500, 1000).unwrap();
    assert_eq!(
        left.iter().map(|r| (r.data[0], r.attempts)).collect::<Vec<_>>(),
        vec![(1, 0)]
    );
    assert_eq!((store.pending_records(), store.pending_bytes()), (1, 10));
    // A later batch that does not start at the front is deleted row by row too.
    store.insert(&[record("a", &[7; 8], 7)], None, 0).unwrap();
    let later = read_batch(&store, "a", left[0].id, 500, 1000).unwrap();
    store.settle("a", &delivered(&later)).unwrap();
    assert_eq!((store.pending_records(), store.pending_bytes()), (1, 10));
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap()[0].data[0], 1);
}

#[test]
fn records_evicted_or_cleared_in_flight_are_not_counted_twice() {
    let (_dir, mut store) = open();
    store.insert(&numbered("a", 4), None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    // While the batch is in flight, a new save evicts the two oldest.
    let dropped = store.insert(&[record("a", &[9; 8], 9)], Some(30), 0).unwrap();
    assert_eq!(dropped.total(), 2);
    store.settle("a", &delivered(&batch)).unwrap();
    assert_eq!((store.pending_records(), store.pending_bytes()), (1, 10));
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap()[0].data[0], 9);

    // Cleared in flight: the settlement changes nothing, and new records are
    // never taken for delivered ones, even after the file is emptied and reopened.
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    store.delete_all().unwrap();
    store.settle("a", &delivered(&batch)).unwrap();
    assert_eq!(store.pending_records(), 0);
    store.insert(&[record("a", b"fresh", 10)], None, 0).unwrap();
    assert_eq!(store.pending_records(), 1);
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap()[0].data, b"fresh");
}

#[test]
fn ids_are_never_reused_after_compaction_and_reopen() {
    let (dir, mut store) = open();
    store
        .insert(&[record("a", b"1", 1), record("a", b"2", 2)], None, 0)
        .unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    store.settle("a", &delivered(&batch)).unwrap();
    assert!(!store.compact(100).unwrap());
    assert_eq!(rows_in_file(&store), 0);
    drop(store);
    let mut store = Store::open(&path(&dir), Service::KinesisDataStreams).unwrap();
    store.insert(&[record("a", b"3", 3)], None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    assert_eq!(batch.len(), 1, "a new record must not fall under the old mark");
    assert!(batch[0].id > 2);
}

#[test]
fn a_version_1_store_is_upgraded_with_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(&dir);
    {
        let conn = Connection::open(&file).unwrap();
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.execute_batch(
            "INSERT INTO streams (id, name, pending_records, pending_bytes) VALUES (1, 'a', 2, 6);
             INSERT INTO records (stream_id, partition_key, data, size, created_at) VALUES (1, 'pk', x'01', 3, 1), (1, 'pk', x'02', 3, 2);
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut store = Store::open(&file, Service::KinesisDataStreams).unwrap();
    assert_eq!((store.pending_records(), store.pending_bytes()), (2, 6));
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::CURRENT_VERSION);
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    assert_eq!(batch.iter().map(|r| r.data[0]).collect::<Vec<_>>(), vec![1, 2]);
    // Rows from before the app's keys were told from made-up ones count as
    // the app's: they are aggregated with their own key only.
    assert!(batch.iter().all(|r| !r.key_generated));
    store.settle("a", &delivered(&batch)).unwrap();
    assert_eq!(store.pending_records(), 0);
}

#[test]
fn drop_oldest_evicts_in_save_order() {
    let (_dir, mut store) = open();
    // Each record is 8 + 2 = 10 bytes; limit 35 keeps three.
    for i in 0..3 {
        store.insert(&[record("a", &[i; 8], i as i64)], Some(35), 0).unwrap();
    }
    let dropped = store.insert(&[record("b", &[9; 8], 9)], Some(35), 0).unwrap();
    assert_eq!(dropped.total(), 1);
    assert_eq!(dropped.by_stream.get(&("a".into(), DropReason::StorageFull)), Some(&1));
    assert_eq!(store.pending_bytes(), 30);
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap()[0].data[0], 1);
    // A group bigger than the limit keeps its newest records.
    let group: Vec<_> = (10..20).map(|i| record("c", &[i; 8], i as i64)).collect();
    store.insert(&group, Some(35), 0).unwrap();
    assert_eq!(store.pending_records(), 3);
    let kept: Vec<u8> = read_batch(&store, "c", 0, 500, 1000)
        .unwrap()
        .iter()
        .map(|r| r.data[0])
        .collect();
    assert_eq!(kept, vec![17, 18, 19]);
    assert_eq!(store.counter(Counter::Dropped(DropReason::StorageFull)), 1 + 3 + 7);
}

#[test]
fn expired_records_are_dropped() {
    let (_dir, mut store) = open();
    store
        .insert(&[record("a", b"old", 100), record("a", b"new", 300)], None, 0)
        .unwrap();
    assert_eq!(store.drop_expired(50).unwrap().total(), 0);
    let dropped = store.drop_expired(200).unwrap();
    assert_eq!(dropped.by_stream.get(&("a".into(), DropReason::Expired)), Some(&1));
    assert_eq!(store.pending_records(), 1);
    assert_eq!(read_batch(&store, "a", 0, 500, 1000).unwrap()[0].data, b"new");
}

#[test]
fn delete_all_empties_and_counts() {
    let (_dir, mut store) = open();
    store
        .insert(&[record("a", b"1", 1), record("b", b"2", 2)], None, 0)
        .unwrap();
    assert_eq!(store.delete_all().unwrap().total(), 2);
    assert_eq!((store.pending_records(), store.pending_bytes()), (0, 0));
    assert_eq!(store.counter(Counter::Dropped(DropReason::Deleted)), 2);
}

#[test]
fn refuses_files_that_are_not_stores() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x42; 8192]).unwrap();
    assert!(matches!(
        Store::open(garbage.to_str().unwrap(), Service::KinesisDataStreams),
        Err(Error::StoreCorrupt { .. })
    ));

    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE users (id INTEGER)")
        .unwrap();
    assert!(matches!(
        Store::open(foreign.to_str().unwrap(), Service::KinesisDataStreams),
        Err(Error::StoreCorrupt { .. })
    ));

    let newer = dir.path().join("newer.db");
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    assert!(matches!(
        Store::open(newer.to_str().unwrap(), Service::KinesisDataStreams),
        Err(Error::StoreTooNew { found: 99, .. })
    ));

    // Moving aside keeps the bad file and frees the path.
    let moved = move_aside(garbage.to_str().unwrap()).unwrap();
    assert_eq!(std::fs::read(&moved).unwrap(), vec![0x42; 8192]);
    assert!(Store::open(garbage.to_str().unwrap(), Service::KinesisDataStreams).is_ok());
}

#[test]
fn a_second_opener_is_refused() {
    let (dir, _store) = open();
    match Store::open(&path(&dir), Service::KinesisDataStreams) {
        Err(error @ Error::StoreLocked { .. }) => assert!(error.to_string().contains("in use by another recorder")),
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
}

#[test]
fn close_releases_the_file() {
    let (dir, mut store) = open();
    store.insert(&[record("a", b"1", 1)], None, 0).unwrap();
    store.close();
    let reopened = Store::open(&path(&dir), Service::KinesisDataStreams).unwrap();
    assert_eq!(reopened.pending_records(), 1);
}

#[cfg(unix)]
#[test]
fn the_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _store) = open();
    let mode = std::fs::metadata(path(&dir)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_sqlite_older_than_the_store_needs_is_refused_by_name() {
    // The SQLite this build links (bundled, or the system's) is new enough.
    schema::check_sqlite_version(rusqlite::version_number()).unwrap();
    schema::check_sqlite_version(schema::MIN_SQLITE_VERSION).unwrap();
    // One release older is not: the message names both versions.
    let error = schema::check_sqlite_version(3_034_001).unwrap_err();
    assert!(matches!(error, Error::SqliteTooOld { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "the SQLite library linked into this app is 3.34.1; the record store needs 3.35.0 or newer"
    );
    assert!(matches!(
        crate::RecorderError::from(error),
        crate::RecorderError::StorageFailure { .. }
    ));
}

fn auto_vacuum(store: &Store) -> i64 {
    store
        .conn
        .pragma_query_value(None, "auto_vacuum", |row| row.get(0))
        .unwrap()
}

/// Records 0..n of `stream` with `size` bytes of data each.
fn sized(stream: &str, n: usize, size: usize) -> Vec<NewRecord> {
    (0..n).map(|i| record(stream, &vec![i as u8; size], i as i64)).collect()
}

/// Sends and settles everything of `stream`, as the worker would.
fn deliver_all(store: &mut Store, stream: &str) {
    loop {
        let batch = read_batch(store, stream, 0, 500, 5 << 20).unwrap();
        if batch.is_empty() {
            return;
        }
        store.settle(stream, &delivered(&batch)).unwrap();
    }
}

#[test]
fn a_new_store_returns_freed_pages_to_the_file_system() {
    let (_dir, mut store) = open();
    assert_eq!(auto_vacuum(&store), 2, "incremental vacuum from the first table on");
    store.insert(&sized("a", 4_000, 1_000), None, 0).unwrap();
    let full = store.file_bytes();
    assert!(full > 4_000_000, "{full}");
    deliver_all(&mut store, "a");
    while store.compact(COMPACTION_CHUNK).unwrap() {}
    let after = store.file_bytes();
    assert!(after < 300_000, "{full} bytes before, {after} after compaction");
}

#[test]
fn an_older_store_switches_to_incremental_vacuum_once_it_holds_little() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(&dir);
    {
        // A store as earlier builds made it: no auto_vacuum.
        let mut store = Store::open(&file, Service::KinesisDataStreams).unwrap();
        store.conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;").unwrap();
        assert_eq!(auto_vacuum(&store), 0);
        store.insert(&sized("a", 3_000, 1_000), None, 0).unwrap();
    }
    let mut store = Store::open(&file, Service::KinesisDataStreams).unwrap();
    // Holding 3 MB: compacting does not rewrite the file.
    store.compact(COMPACTION_CHUNK).unwrap();
    assert_eq!(auto_vacuum(&store), 0);
    let full = store.file_bytes();
    deliver_all(&mut store, "a");
    store.insert(&sized("b", 10, 100), None, 0).unwrap();
    while store.compact(COMPACTION_CHUNK).unwrap() {}
    // Holding little: switched, and the file shrank.
    assert_eq!(auto_vacuum(&store), 2);
    assert_eq!(
        (
            store.pending_records(),
            read_batch(&store, "b", 0, 500, 5 << 20).unwrap().len()
        ),
        (10, 10)
    );
    let after = store.file_bytes();
    assert!(after < full / 5, "{full} bytes before, {after} after");
}

#[test]
fn settling_keeps_delivered_rows_within_their_budget() {
    let (_dir, mut store) = open();
    store.limit_delivered_bytes(100_000);
    let mut peak = 0;
    for round in 0..20 {
        store.insert(&sized("a", 500, 1_000), None, 0).unwrap();
        deliver_all(&mut store, "a");
        let waiting: i64 = store
            .conn
            .query_row(
                "SELECT coalesce(sum(size), 0) FROM records WHERE id <= (SELECT delivered_through FROM streams WHERE name = 'a')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        peak = peak.max(waiting);
        assert!(store.pending_records() == 0, "round {round}");
    }
    // Budget plus at most one batch and one chunk's slack.
    assert!(
        peak <= 100_000 + 2 * 500 * 1_002,
        "{peak} bytes of delivered rows waited"
    );
}

#[test]
fn a_store_belongs_to_the_service_that_created_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = path(&dir);
    let mut store = Store::open(&path, Service::Firehose).unwrap();
    store.insert(&[record("d", b"1", 1)], None, 0).unwrap();
    drop(store);
    assert_eq!(stored_service(&path).unwrap(), Some(Service::Firehose));
    let before = std::fs::read(&path).unwrap();
    match Store::open(&path, Service::KinesisDataStreams) {
        Err(error @ Error::StoreOfOtherService { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains("Firehose") && message.contains("Kinesis Data Streams"),
                "{message}"
            );
            assert!(message.contains(&path), "{message}");
        }
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the refused open changed the file"
    );
    let store = Store::open(&path, Service::Firehose).unwrap();
    assert_eq!(store.pending_records(), 1);
}

#[test]
fn reading_the_service_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = path(&dir);
    assert_eq!(stored_service(&path).unwrap(), None);
    assert!(!std::path::Path::new(&path).exists(), "reading created the file");
    // A store in use cannot be read (its owner holds the lock).
    let store = Store::open(&path, Service::KinesisDataStreams).unwrap();
    assert!(matches!(stored_service(&path), Err(Error::StoreLocked { .. })));
    drop(store);
    let before = std::fs::read(&path).unwrap();
    assert_eq!(stored_service(&path).unwrap(), Some(Service::KinesisDataStreams));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// Stores of schema version 2, before the service was kept, were all made for
/// Kinesis Data Streams.
#[test]
fn stores_from_before_the_service_was_kept_are_kinesis_stores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db").to_str().unwrap().to_owned();
    {
        let conn = Connection::open(&path).unwrap();
        for migration in &schema::MIGRATIONS[..2] {
            conn.execute_batch(migration).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO streams (name, pending_records, pending_bytes) VALUES ('s', 1, 3);
             INSERT INTO records (id, stream_id, partition_key, data, size, created_at) VALUES (1, 1, 'pk', x'01', 3, 0);",
        )
        .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
    }
    assert_eq!(stored_service(&path).unwrap(), Some(Service::KinesisDataStreams));
    assert!(matches!(
        Store::open(&path, Service::Firehose),
        Err(Error::StoreOfOtherService {
            found: Service::KinesisDataStreams,
            ..
        })
    ));
    let version: i64 = Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 2, "the refused store was upgraded");
    let store = Store::open(&path, Service::KinesisDataStreams).unwrap();
    assert_eq!(store.pending_records(), 1);
    drop(store);
    assert_eq!(stored_service(&path).unwrap(), Some(Service::KinesisDataStreams));
}

#[test]
fn a_store_of_an_unknown_service_is_refused() {
    let (dir, store) = open();
    drop(store);
    Connection::open(path(&dir))
        .unwrap()
        .pragma_update(None, "application_id", 42)
        .unwrap();
    for result in [
        Store::open(&path(&dir), Service::KinesisDataStreams).map(|_| ()),
        stored_service(&path(&dir)).map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(Error::StoreCorrupt { detail, .. }) if detail.contains("42")),
            "{result:?}"
        );
    }
}

#[test]
fn made_up_keys_are_told_from_the_apps_and_kinesis_records_are_counted() {
    let (dir, mut store) = open();
    let mut generated = record("a", b"1", 1);
    generated.key_generated = true;
    store.insert(&[generated, record("a", b"2", 2)], None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    assert_eq!(
        batch.iter().map(|r| r.key_generated).collect::<Vec<_>>(),
        vec![true, false]
    );
    // Both records in one aggregate: two records submitted, one Kinesis record.
    let settlement = Settlement {
        kinesis_records: 1,
        ..delivered(&batch)
    };
    store.settle("a", &settlement).unwrap();
    drop(store);
    let store = Store::open(&path(&dir), Service::KinesisDataStreams).unwrap();
    assert_eq!(store.counter(Counter::Submitted), 2);
    assert_eq!(store.counter(Counter::KinesisRecordsSubmitted), 1);
}

/// A store of schema version 3 as the build before aggregation wrote it
/// (`MIGRATIONS[..3]`, the service in the header): its records come back
/// with the keys the app gave and those the recorder made up alike marked as
/// the app's (the file cannot tell them apart), and every record saved after
/// the upgrade carries its flag.
#[test]
fn a_version_3_store_is_upgraded_and_its_records_count_as_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(&dir);
    {
        let conn = Connection::open(&file).unwrap();
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;")
            .unwrap();
        for migration in &schema::MIGRATIONS[..3] {
            conn.execute_batch(migration).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO streams (id, name, pending_records, pending_bytes) VALUES (1, 'a', 2, 44);
             INSERT INTO records (id, stream_id, partition_key, explicit_hash_key, data, size, created_at)
               VALUES (1, 1, 'user-7', NULL, x'01', 7, 1),
                      (2, 1, '0b6c1a4e-5d7f-4a52-9c1d-2f3e4a5b6c7d', '42', x'02', 37, 2);
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    assert_eq!(stored_service(&file).unwrap(), Some(Service::KinesisDataStreams));
    let mut store = Store::open(&file, Service::KinesisDataStreams).unwrap();
    let version: i64 = store
        .conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, schema::CURRENT_VERSION);
    assert_eq!((store.pending_records(), store.pending_bytes()), (2, 44));
    let mut generated = record("a", &[3], 3);
    generated.key_generated = true;
    store.insert(&[generated, record("a", &[4], 4)], None, 0).unwrap();
    let batch = read_batch(&store, "a", 0, 500, 1000).unwrap();
    assert_eq!(
        batch
            .iter()
            .map(|r| (
                r.data[0],
                r.partition_key.as_str(),
                r.explicit_hash_key.as_deref(),
                r.key_generated
            ))
            .collect::<Vec<_>>(),
        vec![
            (1, "user-7", None, false),
            (2, "0b6c1a4e-5d7f-4a52-9c1d-2f3e4a5b6c7d", Some("42"), false),
            (3, "pk", None, true),
            (4, "pk", None, false),
        ]
    );
    drop(store);
    assert_eq!(stored_service(&file).unwrap(), Some(Service::KinesisDataStreams));
}

/// A Firehose store of version 3 keeps its service through the upgrade.
#[test]
fn a_version_3_firehose_store_stays_a_firehose_store() {
    let dir = tempfile::tempdir().unwrap();
    let file = path(&dir);
    let mut store = Store::open(&file, Service::Firehose).unwrap();
    store.insert(&[record("d", b"1", 1)], None, 0).unwrap();
    // Back to version 3, as the build before aggregation left it.
    store
        .conn
        .execute_batch("ALTER TABLE records DROP COLUMN key_generated; PRAGMA user_version = 3;")
        .unwrap();
    drop(store);
    assert!(matches!(
        Store::open(&file, Service::KinesisDataStreams),
        Err(Error::StoreOfOtherService {
            found: Service::Firehose,
            ..
        })
    ));
    let store = Store::open(&file, Service::Firehose).unwrap();
    assert_eq!(store.pending_records(), 1);
    let batch = read_batch(&store, "d", 0, 500, 1000).unwrap();
    assert_eq!(batch.len(), 1);
    assert!(!batch[0].key_generated);
}
