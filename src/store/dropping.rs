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
