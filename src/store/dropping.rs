//! Records that leave the store undelivered: evicted when it is full
//! (drop-oldest), expired past `max_record_age`, or deleted by the app. Each
//! is counted and reported per stream and reason.

use std::collections::HashMap;

use rusqlite::Transaction;

use super::accounting::{Delta, StreamIds};
use super::{Counter, Dropped, Store};
use crate::error::{DropReason, Error, Result};

impl Store {
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
        self.return_free_space();
        Ok(dropped)
    }

    /// Deletes every record, reported as dropped with reason `Deleted`;
    /// except the records of a request on its way, counted once its answer
    /// comes (see `settling`).
    pub fn delete_all(&mut self) -> Result<Dropped> {
        const CONTEXT: &str = "deleting all records";
        let streams = self.streams.clone();
        // Held throughout: a batch either leaves before the clear (and is
        // told which of its records it removed) or is refused after it.
        let send_gate = self.send_gate.clone();
        let mut departures = send_gate.lock();
        let in_flight = departures
            .in_flight
            .as_ref()
            .map(|f| (f.stream().to_owned(), f.ids().to_vec()));
        let (in_flight_stored, dropped) = self.write(CONTEXT, |tx, delta, ids| {
            let mut in_flight_stored = Vec::new();
            let mut in_flight_stream = None;
            if let Some((stream, batch)) = &in_flight {
                let mut stored = tx
                    .prepare_cached("SELECT 1 FROM records WHERE id = ?1")
                    .map_err(Error::sqlite(CONTEXT))?;
                for &id in batch {
                    if stored.exists([id]).map_err(Error::sqlite(CONTEXT))? {
                        in_flight_stored.push(id);
                    }
                }
                in_flight_stream = ids.get(stream);
            }
            // Delivered rows waiting for compaction go too.
            tx.execute("DELETE FROM records", []).map_err(Error::sqlite(CONTEXT))?;
            for (&stream_id, account) in &streams {
                if account.records > 0 {
                    delta.records(stream_id, -(account.records as i64), -(account.bytes as i64));
                    let in_flight = if in_flight_stream == Some(stream_id) {
                        in_flight_stored.len() as u64
                    } else {
                        0
                    };
                    let deleted = account.records.saturating_sub(in_flight);
                    delta.count(Counter::Dropped(DropReason::Deleted), deleted);
                    if deleted > 0 {
                        delta
                            .dropped
                            .by_stream
                            .insert((account.name.clone(), DropReason::Deleted), deleted);
                    }
                }
            }
            Ok(in_flight_stored)
        })?;
        if let Some(in_flight) = &mut departures.in_flight {
            in_flight.clear(in_flight_stored);
        }
        departures.clears += 1;
        drop(departures);
        self.compaction_due = false;
        self.delivered_bytes_waiting = 0;
        self.return_free_space();
        Ok(dropped)
    }

    /// Moves the creation time of the records with id `from_id` or later
    /// by `ms` (the wall clock stepped, see `policy::age`).
    pub fn shift_created_at(&mut self, from_id: i64, ms: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE records SET created_at = created_at + ?2 WHERE id >= ?1")
            .and_then(|mut stmt| stmt.execute([from_id, ms]))
            .map_err(Error::sqlite("following a step of the clock"))?;
        Ok(())
    }

    /// Re-stamps with `now_ms` the records created before `before_ms` (by a
    /// clock that was never set, see `policy::age`).
    pub fn restamp_before(&mut self, before_ms: i64, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE records SET created_at = ?2 WHERE created_at < ?1")
            .and_then(|mut stmt| stmt.execute([before_ms, now_ms]))
            .map_err(Error::sqlite("re-stamping records"))?;
        Ok(())
    }

    /// The id the next saved record gets.
    pub fn next_record_id(&self) -> i64 {
        self.next_id
    }

    /// Changes each time [`Store::delete_all`] runs.
    pub fn clears(&self) -> u64 {
        self.send_gate.lock().clears
    }
}

/// Evicts records in save order until `excess` bytes are freed, with one
/// range delete.
pub(super) fn evict_oldest(tx: &Transaction<'_>, delta: &mut Delta, excess: u64, ids: &StreamIds<'_>) -> Result<()> {
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

fn record_drop(delta: &mut Delta, names: &HashMap<i64, &str>, stream_id: i64, size: i64, reason: DropReason) {
    let name = names.get(&stream_id).copied().unwrap_or_default();
    delta.records(stream_id, -1, -size);
    delta.count(Counter::Dropped(reason), 1);
    *delta.dropped.by_stream.entry((name.to_owned(), reason)).or_default() += 1;
}
