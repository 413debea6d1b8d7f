//! The SQLite schema, its version (`PRAGMA user_version`) and the upgrades
//! between versions, plus the connection settings. Nothing else in the crate
//! writes DDL or pragmas.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// `MIGRATIONS[i]` upgrades a store from version `i` to `i + 1`; the current
/// version is the number of migrations.
pub(crate) const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE streams (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        pending_records INTEGER NOT NULL DEFAULT 0,
        pending_bytes INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        stream_id INTEGER NOT NULL REFERENCES streams(id),
        partition_key TEXT NOT NULL,
        explicit_hash_key TEXT,
        data BLOB NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    -- Serves the batch query: the next records of one stream in save order.
    CREATE INDEX records_by_stream ON records(stream_id, id);
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // Version 2: records of a stream with an id at or below its mark were
    // delivered. Moving the mark settles a whole batch with one row update;
    // the rows themselves are deleted later, off the submission's path
    // (`Store::compact`).
    "ALTER TABLE streams ADD COLUMN delivered_through INTEGER NOT NULL DEFAULT 0;",
    // Version 3: 1 when the recorder made the partition key up (the app gave
    // none). Only those records may travel in an aggregate under another
    // made-up key (KPL aggregation). Rows saved before count as keyed by the
    // app: they are aggregated only with their own key, which is always safe.
    "ALTER TABLE records ADD COLUMN key_generated INTEGER NOT NULL DEFAULT 0;",
];

pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Takes the file for this connection alone, so a second process that opens
/// it fails fast instead of corrupting the in-memory accounting. Set before
/// the first read, it also spares WAL mode its shared-memory file (one less
/// file to create on a full disk).
pub(crate) fn lock(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
}

/// Connection settings. WAL with `synchronous=NORMAL`: a commit is durable
/// against a process crash at once and against power loss at the next
/// checkpoint.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "SQLite refused WAL mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Keep the WAL small (checkpoint every 256 KiB, truncate back to 256 KiB):
    // on a nearly full disk its pages are space the database itself needs.
    conn.pragma_update(None, "wal_autocheckpoint", 64)?;
    conn.pragma_update(None, "journal_size_limit", 256 * 1024)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// A connection set up exactly as the store's, schema included: for the
/// benchmark's raw-SQLite baselines, so they never drift from the store.
pub(crate) fn prepare(conn: &mut Connection) -> Result<()> {
    lock(conn).map_err(Error::sqlite("locking the store"))?;
    configure(conn).map_err(Error::sqlite("configuring the store"))?;
    upgrade(conn, "")
}

/// Refuses, before anything is written to the file, a store of a newer
/// version of the library and a database of another application. Returns the
/// version found.
pub(crate) fn check(conn: &Connection, path: &str) -> Result<i64> {
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(Error::sqlite("reading the schema version"))?;
    if found > CURRENT_VERSION {
        return Err(Error::StoreTooNew {
            path: path.to_owned(),
            found,
            supported: CURRENT_VERSION,
        });
    }
    if found == 0 {
        let foreign_tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
                [],
                |row| row.get(0),
            )
            .map_err(Error::sqlite("inspecting the schema"))?;
        if foreign_tables > 0 {
            return Err(Error::StoreCorrupt {
                path: path.to_owned(),
                detail: "an SQLite database of another application".to_owned(),
            });
        }
    }
    Ok(found)
}

/// Brings the schema to [`CURRENT_VERSION`].
pub(crate) fn upgrade(conn: &mut Connection, path: &str) -> Result<()> {
    let found = check(conn, path)?;
    for (version, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(Error::sqlite("upgrading the schema"))?;
        tx.execute_batch(migration)
            .map_err(Error::sqlite("upgrading the schema"))?;
        tx.pragma_update(None, "user_version", version as i64 + 1)
            .map_err(Error::sqlite("upgrading the schema"))?;
        tx.commit().map_err(Error::sqlite("upgrading the schema"))?;
    }
    Ok(())
}
