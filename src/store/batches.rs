//! Reading: the next batch of one stream in save order, and the age of a
//! stream's oldest pending record. Reads skip the rows at or below the
//! stream's delivered mark.

use rusqlite::params;

use super::Store;
use crate::error::{Error, Result};
use crate::submission::StoredRecord;

impl Store {
    /// Up to `max_records` records of `stream` with id above `after_id`, in
    /// save order, as long as `admit` accepts each record: the packing rule
    /// is the caller's (`policy::batch`), and the first record it refuses
    /// ends the batch. Rows are read one at a time: the backlog never sits in
    /// memory.
    pub fn next_batch(
        &self,
        stream: &str,
        after_id: i64,
        max_records: u32,
        mut admit: impl FnMut(&StoredRecord) -> bool,
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
            "SELECT id, partition_key, explicit_hash_key, data, size, attempts, key_generated FROM records
             WHERE id > ?2 AND +stream_id = ?1 ORDER BY id LIMIT ?3"
        } else {
            "SELECT id, partition_key, explicit_hash_key, data, size, attempts, key_generated FROM records
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
        while let Some(row) = rows.next().map_err(Error::sqlite("reading a batch"))? {
            let record = (|| -> rusqlite::Result<StoredRecord> {
                Ok(StoredRecord {
                    id: row.get(0)?,
                    partition_key: row.get(1)?,
                    key_generated: row.get(6)?,
                    explicit_hash_key: row.get(2)?,
                    data: row.get(3)?,
                    size: row.get::<_, i64>(4)? as u64,
                    attempts: row.get::<_, i64>(5)? as u32,
                })
            })()
            .map_err(Error::sqlite("reading a batch"))?;
            if !admit(&record) {
                break;
            }
            batch.push(record);
        }
        Ok(batch)
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
}
