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
//!
//! One file per job, each adding its methods to [`Store`]:
//!
//! - [`schema`]: tables, `user_version` upgrades, pragmas.
//! - `file`: opening, closing and moving aside the file.
//! - `accounting`: per-stream totals, counters, marks, the transaction helper.
//! - `saving`: inserting a group of records (with drop-oldest eviction).
//! - `batches`: reading the next batch of a stream.
//! - `settling`: the batch in flight (behind a lock of its own, the
//!   `SendGate`, so a send never waits for a read), applying a request's
//!   outcome; compaction of delivered rows.
//! - `dropping`: eviction, expiry, delete-all.

mod accounting;
mod batches;
mod dropping;
mod file;
mod saving;
pub(crate) mod schema;
mod settling;

use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::Connection;

pub(crate) use accounting::{Counter, Dropped, StreamAccount};
pub(crate) use file::{move_aside, stored_service};
pub(crate) use settling::{SendGate, COMPACTION_CHUNK};

/// The open store: the connection and the in-memory accounting. Its methods
/// are defined in the submodules, by job.
pub(crate) struct Store {
    conn: Connection,
    path: String,
    /// Freed pages can go back to the file system (see `schema`).
    incremental_vacuum: bool,
    streams: HashMap<i64, StreamAccount>,
    stream_ids: HashMap<String, i64>,
    /// Stream id → the id through which its records were delivered.
    delivered_through: HashMap<i64, i64>,
    /// The id the next saved record gets: above every id ever stored or marked.
    next_id: i64,
    /// Delivered rows may still be in the file (see [`Store::compact`]).
    compaction_due: bool,
    /// Bytes of delivered rows still in the file, and how many may wait
    /// there before settling deletes a chunk itself (the worker compacts
    /// only when idle, and a long drain never is).
    delivered_bytes_waiting: u64,
    delivered_bytes_budget: u64,
    /// The clear count and the batch on its way to the service.
    send_gate: Arc<SendGate>,
    counters: HashMap<Counter, u64>,
}

#[cfg(test)]
mod tests;
