//! Storage accounting: pending records and bytes per stream, the counters
//! kept across restarts, and the delivered marks. They live both in memory
//! and in the `streams` / `counters` tables; [`Store::write`] changes them in
//! the same transaction as the records and applies them in memory only once
//! it committed, so they are exact and never need a scan.

use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::Store;
use crate::error::{DropReason, Error, Result};

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
    /// Kinesis records acknowledged: an aggregate counts once.
    KinesisRecordsSubmitted,
    Retried,
    Throttled,
    RequestsSent,
    RequestsFailed,
    /// Requests signed again with the service's time (the device clock was off).
    ClockCorrections,
    Dropped(DropReason),
}

impl Counter {
    fn name(self) -> String {
        match self {
            Counter::Submitted => "records_submitted".into(),
            Counter::KinesisRecordsSubmitted => "kinesis_records_submitted".into(),
            Counter::Retried => "records_retried".into(),
            Counter::Throttled => "records_throttled".into(),
            Counter::RequestsSent => "requests_sent".into(),
            Counter::RequestsFailed => "requests_failed".into(),
            Counter::ClockCorrections => "clock_corrections".into(),
            Counter::Dropped(reason) => format!("dropped_{}", reason.as_str()),
        }
    }

    fn all() -> impl Iterator<Item = Counter> {
        [
            Counter::Submitted,
            Counter::KinesisRecordsSubmitted,
            Counter::Retried,
            Counter::Throttled,
            Counter::RequestsSent,
            Counter::RequestsFailed,
            Counter::ClockCorrections,
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

/// Changes made inside one transaction, applied to the in-memory accounting
/// only once the transaction committed.
#[derive(Default)]
pub(super) struct Delta {
    streams: HashMap<i64, (i64, i64)>,
    /// Stream id → its new delivered mark.
    pub(super) marks: HashMap<i64, i64>,
    counters: HashMap<Counter, u64>,
    pub(super) dropped: Dropped,
}

impl Delta {
    pub(super) fn records(&mut self, stream_id: i64, records: i64, bytes: i64) {
        let entry = self.streams.entry(stream_id).or_default();
        entry.0 += records;
        entry.1 += bytes;
    }

    pub(super) fn count(&mut self, counter: Counter, n: u64) {
        if n > 0 {
            *self.counters.entry(counter).or_default() += n;
        }
    }
}

/// Stream ids known before a transaction, plus those it creates (kept apart
/// so a rolled-back transaction leaves no trace in memory), and the streams'
/// delivered marks.
pub(super) struct StreamIds<'a> {
    pub(super) known: &'a HashMap<String, i64>,
    pub(super) added: HashMap<String, i64>,
    delivered_through: &'a HashMap<i64, i64>,
}

impl StreamIds<'_> {
    pub(super) fn get(&self, name: &str) -> Option<i64> {
        self.known.get(name).or_else(|| self.added.get(name)).copied()
    }

    /// Records of `stream_id` at or below this id were delivered.
    pub(super) fn delivered(&self, stream_id: i64) -> i64 {
        self.delivered_through.get(&stream_id).copied().unwrap_or(0)
    }

    pub(super) fn names_by_id(&self) -> HashMap<i64, &str> {
        self.known
            .iter()
            .chain(&self.added)
            .map(|(name, &id)| (id, name.as_str()))
            .collect()
    }
}

impl Store {
    pub(super) fn load_accounting(&mut self) -> Result<()> {
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
    pub(super) fn write<T>(
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

    pub(super) fn delivered(&self, stream_id: i64) -> i64 {
        self.delivered_through.get(&stream_id).copied().unwrap_or(0)
    }

    pub fn pending_records(&self) -> u64 {
        self.streams.values().map(|s| s.records).sum()
    }

    pub fn pending_bytes(&self) -> u64 {
        self.streams.values().map(|s| s.bytes).sum()
    }

    /// Pending records and bytes of `stream` (none for a stream never seen).
    pub fn pending_in(&self, stream: &str) -> (u64, u64) {
        self.stream_ids
            .get(stream)
            .and_then(|id| self.streams.get(id))
            .map_or((0, 0), |account| (account.records, account.bytes))
    }

    /// Streams with pending records, in a stable order.
    pub fn pending_streams(&self) -> Vec<StreamAccount> {
        let mut streams: Vec<_> = self.streams.values().filter(|s| s.records > 0).cloned().collect();
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        streams
    }

    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters.get(&counter).copied().unwrap_or(0)
    }

    /// Adds `n` to a counter, in a transaction of its own.
    pub fn add_to_counter(&mut self, counter: Counter, n: u64) -> Result<()> {
        self.write("updating a counter", |_, delta, _| {
            delta.count(counter, n);
            Ok(())
        })?;
        Ok(())
    }
}
