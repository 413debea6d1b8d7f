//! The SQLite schema, its version (`PRAGMA user_version`) and the upgrades
//! between versions, the service a store belongs to (`PRAGMA
//! application_id`), plus the connection settings. Nothing else in the crate
//! writes DDL or pragmas.

use rusqlite::Connection;

use crate::error::{Error, Result};
use crate::service::Service;

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
    // Version 3: the header's application id names the service the store
    // belongs to (`application_id`). Every older store was made for Kinesis
    // Data Streams; a new store gets its own service's id in the same
    // transaction (`upgrade`).
    "PRAGMA application_id = 1263684420;",
    // Version 4: 1 when the recorder made the partition key up (the app gave
    // none). Only those records may travel in an aggregate under another
    // made-up key (KPL aggregation). Rows saved before count as keyed by the
    // app: they are aggregated only with their own key, which is always safe.
    "ALTER TABLE records ADD COLUMN key_generated INTEGER NOT NULL DEFAULT 0;",
];

/// The first version whose stores keep their service in the header.
const SERVICE_VERSION: i64 = 3;

/// The header's `application_id` of a store of `service`: "KRKD" and "KRFH"
/// in ASCII, so SQLite tools (and `file`) can tell whose file it is.
fn application_id(service: Service) -> i64 {
    match service {
        Service::KinesisDataStreams => 0x4B52_4B44,
        Service::Firehose => 0x4B52_4648,
    }
}

pub(crate) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The oldest SQLite the store's statements run on (`RETURNING` came in
/// 3.35.0). Apple platforms link the system's SQLite, so this is a run-time
/// check.
pub(crate) const MIN_SQLITE_VERSION: i32 = 3_035_000;

/// Refuses an SQLite library older than [`MIN_SQLITE_VERSION`] (`found` as
/// `sqlite3_libversion_number()` gives it) before any file is touched.
pub(crate) fn check_sqlite_version(found: i32) -> Result<()> {
    if found >= MIN_SQLITE_VERSION {
        return Ok(());
    }
    let dotted = |v: i32| format!("{}.{}.{}", v / 1_000_000, v / 1000 % 1000, v % 1000);
    Err(Error::SqliteTooOld {
        found: dotted(found),
        required: dotted(MIN_SQLITE_VERSION),
    })
}

/// Takes the file for this connection alone, so a second process that opens
/// it fails fast instead of corrupting the in-memory accounting. Set before
/// the first read, it also spares WAL mode its shared-memory file (one less
/// file to create on a full disk).
pub(crate) fn lock(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
}

/// Connection settings. WAL with `synchronous=NORMAL`: a commit is durable
/// against a process crash at once and against power loss at the next
/// checkpoint. A new store gets incremental vacuum (it can only be chosen
/// before the file takes WAL mode and its first table): pages that
/// compaction frees then go back to the file system with `PRAGMA
/// incremental_vacuum` instead of staying in the file for ever.
pub(crate) fn configure(conn: &Connection, new_store: bool) -> rusqlite::Result<()> {
    if new_store {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
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
    let new_store = check(conn, "")? == 0;
    configure(conn, new_store).map_err(Error::sqlite("configuring the store"))?;
    upgrade(conn, "", Service::KinesisDataStreams)
}

/// Refuses, before anything is written to the file, a store of a newer
/// version of the library and a database of another application. Returns the
/// version found.
pub(crate) fn check(conn: &Connection, path: &str) -> Result<i64> {
    let found = header_value(conn, "user_version").map_err(Error::sqlite("reading the schema version"))?;
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

/// Brings the schema to [`CURRENT_VERSION`] in one transaction; a new store
/// becomes a store of `service`.
pub(crate) fn upgrade(conn: &mut Connection, path: &str, service: Service) -> Result<()> {
    let found = check(conn, path)?;
    if found == CURRENT_VERSION {
        return Ok(());
    }
    let context = "upgrading the schema";
    let tx = conn.transaction().map_err(Error::sqlite(context))?;
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration).map_err(Error::sqlite(context))?;
    }
    if found == 0 {
        tx.pragma_update(None, "application_id", application_id(service))
            .map_err(Error::sqlite(context))?;
    }
    tx.pragma_update(None, "user_version", CURRENT_VERSION)
        .map_err(Error::sqlite(context))?;
    tx.commit().map_err(Error::sqlite(context))
}

/// The service the store belongs to, read before any upgrade (`version` is
/// what [`check`] found): `None` for a new store; Kinesis Data Streams for a
/// store from before [`SERVICE_VERSION`], the only service then.
pub(crate) fn service(conn: &Connection, path: &str, version: i64) -> Result<Option<Service>> {
    if version < SERVICE_VERSION {
        return Ok((version > 0).then_some(Service::KinesisDataStreams));
    }
    let id = header_value(conn, "application_id").map_err(Error::sqlite("reading the store's service"))?;
    [Service::KinesisDataStreams, Service::Firehose]
        .into_iter()
        .find(|s| application_id(*s) == id)
        .map(Some)
        .ok_or_else(|| Error::StoreCorrupt {
            path: path.to_owned(),
            detail: format!("application id {id} is not one of this library's services"),
        })
}

/// An integer field of the database header (`user_version`, `application_id`).
fn header_value(conn: &Connection, pragma: &str) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, pragma, |row| row.get(0))
}

/// `PRAGMA auto_vacuum` value of incremental vacuum.
const INCREMENTAL_VACUUM: i64 = 2;

/// Whether the store returns freed pages to the file system (stores made
/// by earlier builds kept them in the file).
pub(crate) fn has_incremental_vacuum(conn: &Connection) -> rusqlite::Result<bool> {
    conn.pragma_query_value(None, "auto_vacuum", |row| row.get::<_, i64>(0))
        .map(|mode| mode == INCREMENTAL_VACUUM)
}

/// Returns every free page to the file system (at the next checkpoint in
/// WAL mode). The statement is stepped to its end: `execute_batch` steps
/// it once, which frees a single page.
pub(crate) fn incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached("PRAGMA incremental_vacuum")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Switches an older store to incremental vacuum. That takes a `VACUUM`,
/// which rewrites the whole file (and needs as much room again): the store
/// does it only while it holds little.
pub(crate) fn migrate_to_incremental_vacuum(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.execute_batch("VACUUM")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_stores_are_marked_as_kinesis_stores() {
        assert_eq!(
            MIGRATIONS[SERVICE_VERSION as usize - 1],
            format!(
                "PRAGMA application_id = {};",
                application_id(Service::KinesisDataStreams)
            )
        );
        assert_ne!(
            application_id(Service::Firehose),
            application_id(Service::KinesisDataStreams)
        );
    }
}
