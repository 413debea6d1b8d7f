//! Saving: a group of new records in one transaction, with drop-oldest
//! eviction when the group takes the store past its byte limit.

use rusqlite::params;

use super::dropping::evict_oldest;
use super::{Dropped, Store};
use crate::error::{Error, Result};
use crate::record::NewRecord;

impl Store {
    /// Inserts a group of saved records in one transaction, their creation
    /// time moved by `created_at_offset_ms` (the recorder's clock stamps in
    /// its own frame). With a byte limit, the oldest records are then
    /// evicted until the store fits in it (drop-oldest policy); the evicted
    /// records are returned.
    pub fn insert(
        &mut self,
        records: &[NewRecord],
        evict_above_bytes: Option<u64>,
        created_at_offset_ms: i64,
    ) -> Result<Dropped> {
        let total_before = self.pending_bytes();
        let first_id = self.next_id;
        let (_, dropped) = self.write("saving records", |tx, delta, ids| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO records (id, stream_id, partition_key, explicit_hash_key, data, size, created_at, key_generated)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
                        record.created_at_ms + created_at_offset_ms,
                        record.key_generated
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
}
