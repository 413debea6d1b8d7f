//! The record store: one SQLite file, one connection, owned by whoever holds
//! the [`Store`] (the recorder keeps it behind a mutex, so there is exactly one
//! writer). It knows nothing of HTTP or retry rules: callers tell it what to
//! insert, which batch to read and how each record of a batch was settled.
//!
//! Storage accounting (records and bytes per stream, counters) lives both in
//! memory and in the `streams` / `counters` tables, changed in the same
//! transaction as the records, so it is exact and never needs a scan.
//!
//! Delivery is recorded with a mark per stream (`delivered_through`): a
//! batch delivered from the front of its stream moves the mark in one row
//! update, and every query skips the rows at or below it. Deleting those
//! rows costs microseconds each, so [`Store::compact`] does it later, a
//! chunk at a time, when the worker has nothing else to do. Record ids are
//! assigned here and never reused, so a new record can never fall under a
//! mark.

pub(crate) mod schema;

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, ErrorCode, OpenFlags, Transaction};

use crate::error::{DropReason, Error, Result};
use crate::record::NewRecord;

/// A record read back for submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRecord {
    pub id: i64,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub size: u64,
    pub attempts: u32,
}

/// Pending records and bytes of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StreamAccount {
    pub name: String,
    pub records: u64,
    pub bytes: u64,
}

/// Persistent counters, kept across restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Counter {
    Submitted,
    Retried,
    Throttled,
    RequestsSent,
    RequestsFailed,
    Dropped(DropReason),
}

impl Counter {
    fn name(self) -> String {
        match self {
            Counter::Submitted => "records_submitted".into(),
            Counter::Retried => "records_retried".into(),
            Counter::Throttled => "records_throttled".into(),
            Counter::RequestsSent => "requests_sent".into(),
            Counter::RequestsFailed => "requests_failed".into(),
            Counter::Dropped(reason) => format!("dropped_{}", reason.as_str()),
        }
    }

    fn all() -> impl Iterator<Item = Counter> {
        [
            Counter::Submitted,
            Counter::Retried,
            Counter::Throttled,
            Counter::RequestsSent,
            Counter::RequestsFailed,
        ]
        .into_iter()
        .chain(DropReason::ALL.into_iter().map(Counter::Dropped))
    }
}

/// Records that left the store undelivered, per stream, for events and stats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// (stream name, reason) → number of records.
    pub by_stream: HashMap<(String, DropReason), u64>,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.by_stream.values().sum()
    }
}

/// How one submitted batch ended, record by record. Built by the upload
/// policy, applied here in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settlement {
    /// Acknowledged by the service: deleted.
    pub delivered: Vec<(i64, u64)>,
    /// Rejected but retryable: the attempt counts.
    pub retry: Vec<i64>,
    /// Rejected for the last allowed time: deleted and reported.
    pub exhausted: Vec<(i64, u64)>,
    /// Among `retry` and `exhausted`, how many were throttled.
    pub throttled: u64,
}

/// Changes made inside one transaction, applied to the in-memory accounting
/// only once the transaction committed.
#[derive(Default)]
struct Delta {
    streams: HashMap<i64, (i64, i64)>,
    /// Stream id → its new delivered mark.
    marks: HashMap<i64, i64>,
    counters: HashMap<Counter, u64>,
    dropped: Dropped,
}

impl Delta {
    fn records(&mut self, stream_id: i64, records: i64, bytes: i64) {
        let entry = self.streams.entry(stream_id).or_default();
        entry.0 += records;
        entry.1 += bytes;
    }

    fn count(&mut self, counter: Counter, n: u64) {
        if n > 0 {
            *self.counters.entry(counter).or_default() += n;
        }
    }
}

pub(crate) struct Store {
    conn: Connection,
    streams: HashMap<i64, StreamAccount>,
    stream_ids: HashMap<String, i64>,
    /// Stream id → the id through which its records were delivered.
    delivered_through: HashMap<i64, i64>,
    /// The id the next saved record gets: above every id ever stored or marked.
    next_id: i64,
    /// Delivered rows may still be in the file (see [`Store::compact`]).
    compaction_due: bool,
    /// How many times [`Store::delete_all`] ran: a batch read before a clear
    /// must not be sent after it.
    clears: u64,
    counters: HashMap<Counter, u64>,
}

impl Store {
    /// Opens (creating if needed) the store at `path`. A file that is not a
    /// store of this library, or is locked by another process, is an error;
    /// nothing is ever wiped silently. See [`move_aside`] to recover.
    pub fn open(path: &str) -> Result<Store> {
        schema::check_sqlite_version(rusqlite::version_number())?;
        create_private_file(path)?;
        // A damaged header must not reach SQLite: it would delete the `-wal`,
        // which may hold the latest commits, before the app can move it aside.
        check_header(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
        // Only another process can hold the lock: give it a moment to let go,
        // then refuse rather than hang.
        conn.busy_timeout(std::time::Duration::from_millis(250))
            .map_err(|e| open_error(path, e))?;
        schema::lock(&conn).map_err(|e| open_error(path, e))?;
        let sqlite_error = |e| match e {
            Error::Sqlite { source, .. } => open_error(path, source),
            other => other,
        };
        // Refuse foreign or newer files before the pragmas change them.
        schema::check(&conn, path).map_err(sqlite_error)?;
        schema::configure(&conn).map_err(|e| open_error(path, e))?;
        schema::upgrade(&mut conn, path).map_err(sqlite_error)?;
        let mut store = Store {
            conn,
            streams: HashMap::new(),
            stream_ids: HashMap::new(),
            delivered_through: HashMap::new(),
            next_id: 1,
            // Delivered rows may be left from a run that stopped before compacting.
            compaction_due: true,
            clears: 0,
            counters: HashMap::new(),
        };
        store.load_accounting().map_err(sqlite_error)?;
        Ok(store)
    }

    fn load_accounting(&mut self) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, pending_records, pending_bytes, delivered_through FROM streams")
            .map_err(Error::sqlite("loading the accounting"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    StreamAccount {
                        name: row.get(1)?,
                        records: row.get::<_, i64>(2)? as u64,
                        bytes: row.get::<_, i64>(3)? as u64,
                    },
                    row.get::<_, i64>(4)?,
                ))
            })
            .map_err(Error::sqlite("loading the accounting"))?;
        for row in rows {
            let (id, account, delivered_through) = row.map_err(Error::sqlite("loading the accounting"))?;
            self.stream_ids.insert(account.name.clone(), id);
            self.streams.insert(id, account);
            self.delivered_through.insert(id, delivered_through);
        }
        drop(stmt);
        let max_id: Option<i64> = self
            .conn
            .query_row("SELECT max(id) FROM records", [], |row| row.get(0))
            .map_err(Error::sqlite("loading the accounting"))?;
        let max_mark = self.delivered_through.values().copied().max();
        self.next_id = max_id.max(max_mark).unwrap_or(0) + 1;
        let mut stmt = self
            .conn
            .prepare("SELECT name, value FROM counters")
            .map_err(Error::sqlite("loading the counters"))?;
        let stored: HashMap<String, i64> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(Error::sqlite("loading the counters"))?;
        for counter in Counter::all() {
            if let Some(value) = stored.get(&counter.name()) {
                self.counters.insert(counter, *value as u64);
            }
        }
        Ok(())
    }

    /// Runs `f` in an immediate transaction, persists the accounting changes
    /// it made, commits, and only then applies them in memory.
    fn write<T>(
        &mut self,
        context: &'static str,
        f: impl FnOnce(&Transaction<'_>, &mut Delta, &mut StreamIds<'_>) -> Result<T>,
    ) -> Result<(T, Dropped)> {
        let mut delta = Delta::default();
        let mut ids = StreamIds {
            known: &self.stream_ids,
            added: HashMap::new(),
            delivered_through: &self.delivered_through,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(Error::sqlite(context))?;
        let value = f(&tx, &mut delta, &mut ids)?;
        let added = ids.added;
        for (&stream_id, &(records, bytes)) in &delta.streams {
            tx.prepare_cached(
                "UPDATE streams SET pending_records = pending_records + ?2, pending_bytes = pending_bytes + ?3 WHERE id = ?1",
            )
            .and_then(|mut stmt| stmt.execute(params![stream_id, records, bytes]))
            .map_err(Error::sqlite(context))?;
        }
        for (&counter, &n) in &delta.counters {
            tx.prepare_cached(
                "INSERT INTO counters (name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            )
            .and_then(|mut stmt| stmt.execute(params![counter.name(), n as i64]))
            .map_err(Error::sqlite(context))?;
        }
        for (&stream_id, &mark) in &delta.marks {
            tx.prepare_cached("UPDATE streams SET delivered_through = ?2 WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute(params![stream_id, mark]))
                .map_err(Error::sqlite(context))?;
        }
        tx.commit().map_err(Error::sqlite(context))?;

        if !delta.marks.is_empty() {
            self.compaction_due = true;
        }
        self.delivered_through.extend(delta.marks);

        for (name, id) in added {
            self.stream_ids.insert(name.clone(), id);
            self.streams.insert(
                id,
                StreamAccount {
                    name,
                    ..Default::default()
                },
            );
        }
        for (stream_id, (records, bytes)) in delta.streams {
            let account = self.streams.entry(stream_id).or_default();
            account.records = account.records.saturating_add_signed(records);
            account.bytes = account.bytes.saturating_add_signed(bytes);
        }
        for (counter, n) in delta.counters {
            *self.counters.entry(counter).or_default() += n;
        }
        Ok((value, delta.dropped))
    }

    /// Inserts a group of saved records in one transaction. With a byte limit,
    /// the oldest records are then evicted until the store fits in it
    /// (drop-oldest policy); the evicted records are returned.
    pub fn insert(&mut self, records: &[NewRecord], evict_above_bytes: Option<u64>) -> Result<Dropped> {
        let total_before = self.pending_bytes();
        let first_id = self.next_id;
        let (_, dropped) = self.write("saving records", |tx, delta, ids| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO records (id, stream_id, partition_key, explicit_hash_key, data, size, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(Error::sqlite("saving records"))?;
            let mut added = 0i64;
            for (id, record) in (first_id..).zip(records) {
                let stream_id = match ids.get(&record.stream) {
                    Some(id) => id,
                    None => {
                        tx.execute("INSERT INTO streams (name) VALUES (?1)", [&record.stream])
                            .map_err(Error::sqlite("saving records"))?;
                        let id = tx.last_insert_rowid();
                        ids.added.insert(record.stream.clone(), id);
                        id
                    }
                };
                let size = record.size() as i64;
                insert
                    .execute(params![
                        id,
                        stream_id,
                        record.partition_key,
                        record.explicit_hash_key,
                        record.data,
                        size,
                        record.created_at_ms
                    ])
                    .map_err(Error::sqlite("saving records"))?;
                delta.records(stream_id, 1, size);
                added += size;
            }
            if let Some(limit) = evict_above_bytes {
                let excess = (total_before as i64 + added) - limit as i64;
                if excess > 0 {
                    evict_oldest(tx, delta, excess as u64, ids)?;
                }
            }
            Ok(())
        })?;
        self.next_id = first_id + records.len() as i64;
        Ok(dropped)
    }

    /// Up to `max_records` records of `stream` with id above `after_id`, in
    /// save order, stopping before the one that would take the batch past
    /// `max_bytes`. Rows are read one at a time: the backlog never sits in
    /// memory.
    pub fn next_batch(
        &self,
        stream: &str,
        after_id: i64,
        max_records: u32,
        max_bytes: u64,
    ) -> Result<Vec<StoredRecord>> {
        let Some(&stream_id) = self.stream_ids.get(stream) else {
            return Ok(Vec::new());
        };
        let after_id = after_id.max(self.delivered(stream_id));
        // When this stream holds every pending record (one stream, or the
        // others drained), walking the table in id order reads each row once;
        // otherwise the (stream_id, id) index finds this stream's rows.
        let only_stream = self
            .streams
            .get(&stream_id)
            .is_some_and(|s| s.records == self.pending_records());
        let sql = if only_stream {
            "SELECT id, partition_key, explicit_hash_key, data, size, attempts FROM records
             WHERE id > ?2 AND +stream_id = ?1 ORDER BY id LIMIT ?3"
        } else {
            "SELECT id, partition_key, explicit_hash_key, data, size, attempts FROM records
             WHERE stream_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        };
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(Error::sqlite("reading a batch"))?;
        let mut rows = stmt
            .query(params![stream_id, after_id, max_records])
            .map_err(Error::sqlite("reading a batch"))?;
        let mut batch = Vec::new();
        let mut packer = crate::policy::batch::Packer::new(max_records, max_bytes);
        while let Some(row) = rows.next().map_err(Error::sqlite("reading a batch"))? {
            let size = row.get::<_, i64>(4).map_err(Error::sqlite("reading a batch"))? as u64;
            if !packer.try_add(size) {
                break;
            }
            let record = (|| -> rusqlite::Result<StoredRecord> {
                Ok(StoredRecord {
                    id: row.get(0)?,
                    partition_key: row.get(1)?,
                    explicit_hash_key: row.get(2)?,
                    data: row.get(3)?,
                    size,
                    attempts: row.get::<_, i64>(5)? as u32,
                })
            })()
            .map_err(Error::sqlite("reading a batch"))?;
            batch.push(record);
        }
        Ok(batch)
    }

    /// Applies the outcome of one request that went through: records what
    /// was delivered, counts an attempt on what will be retried, deletes what
    /// was exhausted, and counts the request.
    ///
    /// Delivered records that begin at the front of the stream (no pending
    /// record of the stream before them) move the stream's mark instead of
    /// being deleted one by one; the others are deleted here.
    pub fn settle(&mut self, stream: &str, settlement: &Settlement) -> Result<Dropped> {
        let Some(&stream_id) = self.stream_ids.get(stream) else {
            return Ok(Dropped::default());
        };
        const CONTEXT: &str = "recording a submission";
        let (_, dropped) = self.write(CONTEXT, |tx, delta, ids| {
            // The delivered records before the first rejected one were
            // contiguous in the stream when the batch was read; ids only grow,
            // so no pending record can have appeared among them since.
            let first_rejected = settlement
                .retry
                .iter()
                .chain(settlement.exhausted.iter().map(|(id, _)| id))
                .copied()
                .min()
                .unwrap_or(i64::MAX);
            let (prefix, rest): (Vec<&(i64, u64)>, Vec<_>) =
                settlement.delivered.iter().partition(|(id, _)| *id < first_rejected);
            let mark = ids.delivered(stream_id);
            let mut delete_one_by_one = rest;
            if let (Some(first), Some(last)) = (prefix.iter().map(|r| r.0).min(), prefix.iter().map(|r| r.0).max()) {
                let first_pending: Option<i64> = tx
                    .prepare_cached("SELECT min(id) FROM records WHERE stream_id = ?1 AND id > ?2")
                    .and_then(|mut stmt| stmt.query_row(params![stream_id, mark], |row| row.get(0)))
                    .map_err(Error::sqlite(CONTEXT))?;
                // (A mark never moves back: a batch is always read above it.)
                if first_pending.is_none_or(|id| id >= first) && last > mark {
                    // Count what is really there (the index alone answers):
                    // records evicted or cleared while the batch was in
                    // flight are already accounted for.
                    let range = params![stream_id, mark, last];
                    let records: i64 = tx
                        .prepare_cached("SELECT count(*) FROM records WHERE stream_id = ?1 AND id > ?2 AND id <= ?3")
                        .and_then(|mut stmt| stmt.query_row(range, |row| row.get(0)))
                        .map_err(Error::sqlite(CONTEXT))?;
                    let bytes: i64 = if records == prefix.len() as i64 {
                        prefix.iter().map(|&&(_, size)| size as i64).sum()
                    } else {
                        tx.prepare_cached(
                            "SELECT coalesce(sum(size), 0) FROM records WHERE stream_id = ?1 AND id > ?2 AND id <= ?3",
                        )
                        .and_then(|mut stmt| stmt.query_row(range, |row| row.get(0)))
                        .map_err(Error::sqlite(CONTEXT))?
                    };
                    delta.records(stream_id, -records, -bytes);
                    delta.marks.insert(stream_id, last);
                } else {
                    delete_one_by_one.extend(prefix);
                }
            }
            let mut delete = tx
                .prepare_cached("DELETE FROM records WHERE id = ?1")
                .map_err(Error::sqlite(CONTEXT))?;
            let mut removed = |id: i64, size: u64, delta: &mut Delta| -> Result<bool> {
                // At or below the mark it was already accounted as delivered.
                if id <= mark {
                    return Ok(false);
                }
                // A record evicted or cleared while in flight is already gone.
                let gone = delete.execute([id]).map_err(Error::sqlite(CONTEXT))? == 1;
                if gone {
                    delta.records(stream_id, -1, -(size as i64));
                }
                Ok(gone)
            };
            for &(id, size) in delete_one_by_one {
                removed(id, size, delta)?;
            }
            let mut exhausted = 0;
            for &(id, size) in &settlement.exhausted {
                if removed(id, size, delta)? {
                    exhausted += 1;
                }
            }
            let mut bump = tx
                .prepare_cached("UPDATE records SET attempts = attempts + 1 WHERE id = ?1")
                .map_err(Error::sqlite(CONTEXT))?;
            for &id in &settlement.retry {
                bump.execute([id]).map_err(Error::sqlite(CONTEXT))?;
            }
            delta.count(Counter::RequestsSent, 1);
            delta.count(Counter::Submitted, settlement.delivered.len() as u64);
            delta.count(Counter::Retried, settlement.retry.len() as u64);
            delta.count(Counter::Throttled, settlement.throttled);
            delta.count(Counter::Dropped(DropReason::AttemptsExhausted), exhausted);
            if exhausted > 0 {
                delta
                    .dropped
                    .by_stream
                    .insert((stream.to_owned(), DropReason::AttemptsExhausted), exhausted);
            }
            Ok(())
        })?;
        Ok(dropped)
    }

    /// Deletes up to `max_rows` delivered rows (those at or below their
    /// stream's mark) in one transaction. Returns whether some may be left.
    pub fn compact(&mut self, max_rows: u32) -> Result<bool> {
        if !self.compaction_due {
            return Ok(false);
        }
        let marks: Vec<(i64, i64)> = self
            .delivered_through
            .iter()
            .map(|(&s, &m)| (s, m))
            .filter(|&(_, m)| m > 0)
            .collect();
        let (deleted, _) = self.write("deleting delivered records", |tx, _, _| {
            let mut stmt = tx
                .prepare_cached(
                    "DELETE FROM records WHERE id IN
                     (SELECT id FROM records WHERE stream_id = ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
                )
                .map_err(Error::sqlite("deleting delivered records"))?;
            let mut deleted = 0u32;
            for (stream_id, mark) in marks {
                if deleted >= max_rows {
                    break;
                }
                deleted += stmt
                    .execute(params![stream_id, mark, max_rows - deleted])
                    .map_err(Error::sqlite("deleting delivered records"))? as u32;
            }
            Ok(deleted)
        })?;
        if deleted < max_rows {
            self.compaction_due = false;
            self.checkpoint_if_empty();
        }
        Ok(self.compaction_due)
    }

    fn delivered(&self, stream_id: i64) -> i64 {
        self.delivered_through.get(&stream_id).copied().unwrap_or(0)
    }

    /// Once the store is empty, folds the WAL back into the database and
    /// truncates it, returning its space to the file system.
    fn checkpoint_if_empty(&self) {
        if self.pending_records() == 0 {
            if let Err(error) = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(%error, "checkpoint of an empty store");
            }
        }
    }

    /// Counts a request that failed as a whole (one that went through is
    /// counted by [`Store::settle`]).
    pub fn count_failed_request(&mut self) -> Result<()> {
        self.write("counting a request", |_, delta, _| {
            delta.count(Counter::RequestsFailed, 1);
            Ok(())
        })?;
        Ok(())
    }

    /// Drops every record created before `cutoff_ms` (unix milliseconds).
    pub fn drop_expired(&mut self, cutoff_ms: i64) -> Result<Dropped> {
        const PENDING: &str = "id > (SELECT delivered_through FROM streams WHERE streams.id = records.stream_id)";
        let oldest: Option<i64> = self
            .conn
            .query_row(
                &format!("SELECT min(created_at) FROM records WHERE {PENDING}"),
                [],
                |row| row.get(0),
            )
            .map_err(Error::sqlite("checking record ages"))?;
        if oldest.is_none_or(|oldest| oldest >= cutoff_ms) {
            return Ok(Dropped::default());
        }
        let (_, dropped) = self.write("dropping expired records", |tx, delta, ids| {
            let names = ids.names_by_id();
            let mut stmt = tx
                .prepare_cached(&format!(
                    "DELETE FROM records WHERE created_at < ?1 AND {PENDING} RETURNING stream_id, size"
                ))
                .map_err(Error::sqlite("dropping expired records"))?;
            let rows = stmt
                .query_map([cutoff_ms], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)))
                .map_err(Error::sqlite("dropping expired records"))?;
            for row in rows {
                let (stream_id, size) = row.map_err(Error::sqlite("dropping expired records"))?;
                record_drop(delta, &names, stream_id, size, DropReason::Expired);
            }
            Ok(())
        })?;
        self.checkpoint_if_empty();
        Ok(dropped)
    }

    /// Deletes every record, reported as dropped with reason `Deleted`.
    pub fn delete_all(&mut self) -> Result<Dropped> {
        let streams = self.streams.clone();
        let (_, dropped) = self.write("deleting all records", |tx, delta, _| {
            // Delivered rows waiting for compaction go too.
            tx.execute("DELETE FROM records", [])
                .map_err(Error::sqlite("deleting all records"))?;
            for (&stream_id, account) in &streams {
                if account.records > 0 {
                    delta.records(stream_id, -(account.records as i64), -(account.bytes as i64));
                    delta.count(Counter::Dropped(DropReason::Deleted), account.records);
                    delta
                        .dropped
                        .by_stream
                        .insert((account.name.clone(), DropReason::Deleted), account.records);
                }
            }
            Ok(())
        })?;
        self.compaction_due = false;
        self.clears += 1;
        self.checkpoint_if_empty();
        Ok(dropped)
    }

    /// Changes each time [`Store::delete_all`] runs.
    pub fn clears(&self) -> u64 {
        self.clears
    }

    /// Closes the file (and releases its lock) so another recorder may open
    /// it; the accounting stays readable, every other call fails.
    pub fn close(&mut self) {
        let Ok(detached) = Connection::open_in_memory() else {
            return;
        };
        if let Err((_, error)) = std::mem::replace(&mut self.conn, detached).close() {
            tracing::warn!(%error, "closing the store");
        }
    }

    pub fn pending_records(&self) -> u64 {
        self.streams.values().map(|s| s.records).sum()
    }

    pub fn pending_bytes(&self) -> u64 {
        self.streams.values().map(|s| s.bytes).sum()
    }

    /// Streams with pending records, in a stable order.
    pub fn pending_streams(&self) -> Vec<StreamAccount> {
        let mut streams: Vec<_> = self.streams.values().filter(|s| s.records > 0).cloned().collect();
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        streams
    }

    /// Creation time (unix ms) of the oldest pending record of `stream`.
    pub fn oldest_created_at(&self, stream: &str) -> Result<Option<i64>> {
        let Some(&stream_id) = self.stream_ids.get(stream) else {
            return Ok(None);
        };
        // The oldest by id is the first above the mark in the (stream_id, id) index.
        self.conn
            .prepare_cached("SELECT created_at FROM records WHERE stream_id = ?1 AND id > ?2 ORDER BY id LIMIT 1")
            .and_then(|mut stmt| stmt.query_row([stream_id, self.delivered(stream_id)], |row| row.get(0)))
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(Error::sqlite("reading record ages"))
    }

    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters.get(&counter).copied().unwrap_or(0)
    }
}

/// Evicts records in save order until `excess` bytes are freed, with one
/// range delete.
fn evict_oldest(tx: &Transaction<'_>, delta: &mut Delta, excess: u64, ids: &StreamIds<'_>) -> Result<()> {
    let mut freed = 0u64;
    let mut last_id = None;
    let mut victims = Vec::new();
    // Rows below every stream's mark were all delivered: start above them.
    let all_delivered_through = ids
        .known
        .values()
        .chain(ids.added.values())
        .map(|&stream_id| ids.delivered(stream_id))
        .min()
        .unwrap_or(0);
    {
        let mut stmt = tx
            .prepare_cached("SELECT id, stream_id, size FROM records WHERE id > ?1 ORDER BY id")
            .map_err(Error::sqlite("evicting old records"))?;
        let mut rows = stmt
            .query([all_delivered_through])
            .map_err(Error::sqlite("evicting old records"))?;
        while freed < excess {
            let Some(row) = rows.next().map_err(Error::sqlite("evicting old records"))? else {
                break;
            };
            let (id, stream_id, size): (i64, i64, i64) =
                (|| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))().map_err(Error::sqlite("evicting old records"))?;
            if id <= ids.delivered(stream_id) {
                continue;
            }
            freed += size as u64;
            last_id = Some(id);
            victims.push((stream_id, size));
        }
    }
    if let Some(last_id) = last_id {
        // Delivered rows below it go too: they were only waiting for compaction.
        tx.execute("DELETE FROM records WHERE id <= ?1", [last_id])
            .map_err(Error::sqlite("evicting old records"))?;
        // `ids` includes the streams created in this same transaction.
        let names = ids.names_by_id();
        for (stream_id, size) in victims {
            record_drop(delta, &names, stream_id, size, DropReason::StorageFull);
        }
    }
    Ok(())
}

/// Stream ids known before a transaction, plus those it creates (kept apart
/// so a rolled-back transaction leaves no trace in memory), and the streams'
/// delivered marks.
struct StreamIds<'a> {
    known: &'a HashMap<String, i64>,
    added: HashMap<String, i64>,
    delivered_through: &'a HashMap<i64, i64>,
}

impl StreamIds<'_> {
    fn get(&self, name: &str) -> Option<i64> {
        self.known.get(name).or_else(|| self.added.get(name)).copied()
    }

    /// Records of `stream_id` at or below this id were delivered.
    fn delivered(&self, stream_id: i64) -> i64 {
        self.delivered_through.get(&stream_id).copied().unwrap_or(0)
    }

    fn names_by_id(&self) -> HashMap<i64, &str> {
        self.known
            .iter()
            .chain(&self.added)
            .map(|(name, &id)| (id, name.as_str()))
            .collect()
    }
}

fn record_drop(delta: &mut Delta, names: &HashMap<i64, &str>, stream_id: i64, size: i64, reason: DropReason) {
    let name = names.get(&stream_id).copied().unwrap_or_default();
    delta.records(stream_id, -1, -size);
    delta.count(Counter::Dropped(reason), 1);
    *delta.dropped.by_stream.entry((name.to_owned(), reason)).or_default() += 1;
}

/// Creates the file with owner-only permissions before SQLite opens it, so
/// records are never readable by other users (SQLite gives the `-wal` and
/// `-shm` files the same mode).
fn create_private_file(path: &str) -> Result<()> {
    let path = Path::new(path);
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            context: "creating the store's directory",
            source,
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::Io {
            context: "creating the store file",
            source,
        }),
    }
}

/// The first 16 bytes of an SQLite database; an empty file is a new store.
fn check_header(path: &str) -> Result<()> {
    const MAGIC: &[u8; 16] = b"SQLite format 3\0";
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|file| std::io::Read::read_to_end(&mut std::io::Read::take(file, 16), &mut head))
        .map_err(|source| Error::Io {
            context: "reading the store's header",
            source,
        })?;
    if !head.is_empty() && head != MAGIC {
        return Err(Error::StoreCorrupt {
            path: path.to_owned(),
            detail: "the file is not an SQLite database".to_owned(),
        });
    }
    Ok(())
}

fn open_error(path: &str, error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => Error::StoreCorrupt {
            path: path.to_owned(),
            detail: error.to_string(),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => Error::StoreLocked { path: path.to_owned() },
        _ => Error::Sqlite {
            context: "opening the store",
            source: error,
        },
    }
}

/// Moves an unusable store file (and its `-wal` / `-shm` companions) aside to
/// `<path>.corrupt-<unix ms>`, so a new store can be created at `path`. Returns
/// the new location of the old file, for the app to report or upload.
pub(crate) fn move_aside(path: &str) -> Result<String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let target = format!("{path}.corrupt-{stamp}");
    std::fs::rename(path, &target).map_err(|source| Error::Io {
        context: "moving the store aside",
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let companion = format!("{path}{suffix}");
        if Path::new(&companion).exists() {
            std::fs::rename(&companion, format!("{target}{suffix}")).map_err(|source| Error::Io {
                context: "moving the store aside",
                source,
            })?;
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests;
