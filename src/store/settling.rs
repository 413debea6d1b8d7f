//! Settling: the batch in flight, applying the outcome of a request
//! (delivered marks, attempts, exhausted records, counters), and
//! compaction, which deletes the delivered rows later, a chunk at a time,
//! off the submission's path.
//!
//! A clear ([`Store::delete_all`]) and a request race: a batch read before
//! a clear is never sent after it ([`SendGate::begin_send`] refuses it), and
//! the records of a request already sent are counted once, when its answer
//! comes: as submitted if the service took them, otherwise as deleted.

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::params;

use super::accounting::Delta;
use super::{Counter, Dropped, Store};
use crate::error::{DropReason, Error, Result};
use crate::submission::{Entry, Settlement};

/// Delivered rows deleted per compaction transaction: a few milliseconds of
/// the store's lock, so group commits of new saves never wait long.
pub(crate) const COMPACTION_CHUNK: u32 = 2_000;

/// Where a clear and a send meet: how many clears ran, and the batch on its
/// way to the service. It has a lock of its own, so the worker can mark a
/// batch as leaving while the read-ahead of the next batch holds the
/// store's lock for a whole read (the send would otherwise wait for it).
/// Lock order: the store's, then this one.
#[derive(Debug, Default)]
pub(crate) struct SendGate(Mutex<Departures>);

#[derive(Debug, Default)]
pub(super) struct Departures {
    /// How many times [`Store::delete_all`] ran: a batch read before a
    /// clear must not be sent after it.
    pub(super) clears: u64,
    pub(super) in_flight: Option<InFlight>,
}

impl SendGate {
    /// Marks the records of `batch`, read when [`Store::clears`] was
    /// `read_at_clears`, as leaving now; false when the store was cleared
    /// since (do not send it).
    pub fn begin_send(&self, stream: &str, batch: &[Entry], read_at_clears: u64) -> bool {
        let mut departures = self.lock();
        if departures.clears != read_at_clears {
            return false;
        }
        departures.in_flight = Some(InFlight {
            stream: stream.to_owned(),
            ids: batch.iter().flat_map(Entry::records).map(|r| r.id).collect(),
            cleared: None,
        });
        true
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Departures> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The batch on its way to the service.
#[derive(Debug)]
pub(crate) struct InFlight {
    stream: String,
    ids: Vec<i64>,
    /// Its records that a clear removed while it was away, not counted as
    /// deleted yet: they count as submitted if the service took them.
    cleared: Option<Vec<i64>>,
}

impl InFlight {
    /// A clear removed these records (the ones still stored) from the store.
    pub(super) fn clear(&mut self, still_stored: Vec<i64>) {
        self.cleared.get_or_insert_with(Vec::new).extend(still_stored);
    }

    pub(super) fn ids(&self) -> &[i64] {
        &self.ids
    }

    pub(super) fn stream(&self) -> &str {
        &self.stream
    }
}

impl Store {
    /// The gate the worker marks its sends at, without the store's lock.
    pub fn send_gate(&self) -> Arc<SendGate> {
        self.send_gate.clone()
    }

    /// The batch was not sent after all: records of it that a clear removed
    /// count as deleted now.
    pub fn withdraw_send(&mut self) -> Result<Dropped> {
        let Some((stream, cleared)) = self.end_send() else {
            return Ok(Dropped::default());
        };
        let (_, dropped) = self.write("recording a submission", |_, delta, _| {
            count_deleted(delta, stream, cleared.len() as u64);
            Ok(())
        })?;
        Ok(dropped)
    }

    /// Ends the batch in flight; the stream and ids of its records that a
    /// clear removed meanwhile, if any.
    fn end_send(&mut self) -> Option<(String, Vec<i64>)> {
        let in_flight = self.send_gate.lock().in_flight.take()?;
        Some((in_flight.stream, in_flight.cleared?))
    }

    /// Settles a request whose records a clear removed while it was away:
    /// those the service took count as submitted, the others as deleted.
    fn settle_cleared(&mut self, stream: String, cleared: Vec<i64>, settlement: &Settlement) -> Result<Dropped> {
        let deleted = cleared
            .iter()
            .filter(|id| !settlement.delivered.iter().any(|(delivered, _)| delivered == *id))
            .count() as u64;
        let (_, dropped) = self.write("recording a submission", |_, delta, _| {
            delta.count(Counter::RequestsSent, 1);
            delta.count(Counter::Submitted, settlement.delivered.len() as u64);
            delta.count(Counter::Throttled, settlement.throttled.len() as u64);
            count_deleted(delta, stream, deleted);
            Ok(())
        })?;
        Ok(dropped)
    }

    /// Applies the outcome of one request that went through: records what
    /// was delivered, counts an attempt on what will be retried (not on what
    /// was throttled), deletes what was exhausted, and counts the request.
    ///
    /// Delivered records that begin at the front of the stream (no pending
    /// record of the stream before them) move the stream's mark instead of
    /// being deleted one by one; the others are deleted here.
    pub fn settle(&mut self, stream: &str, settlement: &Settlement) -> Result<Dropped> {
        if let Some((stream, cleared)) = self.end_send() {
            return self.settle_cleared(stream, cleared, settlement);
        }
        let Some(&stream_id) = self.stream_ids.get(stream) else {
            return Ok(Dropped::default());
        };
        const CONTEXT: &str = "recording a submission";
        let (marked_bytes, dropped) = self.write(CONTEXT, |tx, delta, ids| {
            let mut marked_bytes = 0;
            // The delivered records before the first rejected one were
            // contiguous in the stream when the batch was read; ids only grow,
            // so no pending record can have appeared among them since.
            let first_rejected = settlement
                .retry
                .iter()
                .chain(&settlement.throttled)
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
                    marked_bytes = bytes as u64;
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
            delta.count(Counter::KinesisRecordsSubmitted, settlement.kinesis_records);
            delta.count(
                Counter::Retried,
                (settlement.retry.len() + settlement.throttled.len()) as u64,
            );
            delta.count(Counter::Throttled, settlement.throttled.len() as u64);
            delta.count(Counter::Dropped(DropReason::AttemptsExhausted), exhausted);
            if exhausted > 0 {
                delta
                    .dropped
                    .by_stream
                    .insert((stream.to_owned(), DropReason::AttemptsExhausted), exhausted);
            }
            Ok(marked_bytes)
        })?;
        self.delivered_bytes_waiting += marked_bytes;
        // A long drain leaves the worker no idle moment to compact in: keep
        // the delivered rows within their budget here, so the file does not
        // grow far past the records it holds.
        if self.delivered_bytes_waiting > self.delivered_bytes_budget {
            if let Err(error) = self.delete_delivered(COMPACTION_CHUNK) {
                tracing::warn!(%error, "cannot delete delivered records");
            }
        }
        Ok(dropped)
    }

    /// Counts a request that failed as a whole (one that went through is
    /// counted by [`Store::settle`]); records of it that a clear removed
    /// meanwhile count as deleted now.
    pub fn count_failed_request(&mut self) -> Result<Dropped> {
        let cleared = self.end_send();
        let (_, dropped) = self.write("counting a request", |_, delta, _| {
            delta.count(Counter::RequestsFailed, 1);
            if let Some((stream, cleared)) = cleared {
                count_deleted(delta, stream, cleared.len() as u64);
            }
            Ok(())
        })?;
        Ok(dropped)
    }

    /// Deletes up to `max_rows` delivered rows (those at or below their
    /// stream's mark) in one transaction. Returns whether some may be left;
    /// once none are, gives the free space back to the file system.
    pub fn compact(&mut self, max_rows: u32) -> Result<bool> {
        if !self.compaction_due {
            return Ok(false);
        }
        if self.delete_delivered(max_rows)? < max_rows {
            self.compaction_due = false;
            self.delivered_bytes_waiting = 0;
            self.return_free_space();
        }
        Ok(self.compaction_due)
    }

    /// Deletes up to `max_rows` delivered rows; how many it deleted.
    fn delete_delivered(&mut self, max_rows: u32) -> Result<u32> {
        let marks: Vec<(i64, i64)> = self
            .delivered_through
            .iter()
            .map(|(&s, &m)| (s, m))
            .filter(|&(_, m)| m > 0)
            .collect();
        const CONTEXT: &str = "deleting delivered records";
        let ((deleted, bytes), _) = self.write(CONTEXT, |tx, _, _| {
            let mut stmt = tx
                .prepare_cached(
                    "DELETE FROM records WHERE id IN
                     (SELECT id FROM records WHERE stream_id = ?1 AND id <= ?2 ORDER BY id LIMIT ?3)
                     RETURNING size",
                )
                .map_err(Error::sqlite(CONTEXT))?;
            let (mut deleted, mut bytes) = (0u32, 0u64);
            for (stream_id, mark) in marks {
                if deleted >= max_rows {
                    break;
                }
                let mut rows = stmt
                    .query(params![stream_id, mark, max_rows - deleted])
                    .map_err(Error::sqlite(CONTEXT))?;
                while let Some(row) = rows.next().map_err(Error::sqlite(CONTEXT))? {
                    deleted += 1;
                    bytes += row.get::<_, i64>(0).map_err(Error::sqlite(CONTEXT))? as u64;
                }
            }
            Ok((deleted, bytes))
        })?;
        self.delivered_bytes_waiting = self.delivered_bytes_waiting.saturating_sub(bytes);
        Ok(deleted)
    }
}

fn count_deleted(delta: &mut Delta, stream: String, deleted: u64) {
    delta.count(Counter::Dropped(DropReason::Deleted), deleted);
    if deleted > 0 {
        *delta
            .dropped
            .by_stream
            .entry((stream, DropReason::Deleted))
            .or_default() += deleted;
    }
}
