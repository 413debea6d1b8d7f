//! Settling: applying the outcome of a request (delivered marks, attempts,
//! exhausted records, counters), and compaction, which deletes the delivered
//! rows later, a chunk at a time, off the submission's path.

use rusqlite::params;

use super::accounting::Delta;
use super::{Counter, Dropped, Store};
use crate::error::{DropReason, Error, Result};
use crate::submission::Settlement;

impl Store {
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
            delta.count(Counter::KinesisRecordsSubmitted, settlement.kinesis_records);
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

    /// Counts a request that failed as a whole (one that went through is
    /// counted by [`Store::settle`]).
    pub fn count_failed_request(&mut self) -> Result<()> {
        self.write("counting a request", |_, delta, _| {
            delta.count(Counter::RequestsFailed, 1);
            Ok(())
        })?;
        Ok(())
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
}
