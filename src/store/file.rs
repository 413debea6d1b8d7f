//! The store's file: opening it (owner-only permissions, a header check
//! before SQLite touches it, the lock, the schema), closing it, folding the
//! WAL back when empty, and moving an unusable file aside. Every error about
//! the file itself (corrupt, foreign, locked, too new, of another service) is
//! decided here.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{schema, Store};
use crate::error::{Error, Result};
use crate::service::Service;

impl Store {
    /// Opens (creating if needed) the store of `service` at `path`. A file
    /// that is not a store of this library, is locked by another process, or
    /// belongs to the other service is an error; nothing is ever wiped
    /// silently. See [`move_aside`] to recover from a damaged file.
    pub fn open(path: &str, service: Service) -> Result<Store> {
        schema::check_sqlite_version(rusqlite::version_number())?;
        create_private_file(path)?;
        let (mut conn, version, found) = inspect(path)?;
        if let Some(found) = found.filter(|found| *found != service) {
            return Err(Error::StoreOfOtherService {
                path: path.to_owned(),
                found,
                wanted: service,
            });
        }
        let sqlite_error = reading_error(path);
        schema::configure(&conn, version == 0).map_err(|e| open_error(path, e))?;
        schema::upgrade(&mut conn, path, service).map_err(sqlite_error)?;
        let incremental_vacuum = schema::has_incremental_vacuum(&conn).map_err(|e| open_error(path, e))?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            incremental_vacuum,
            streams: HashMap::new(),
            stream_ids: HashMap::new(),
            delivered_through: HashMap::new(),
            next_id: 1,
            // Delivered rows may be left from a run that stopped before compacting.
            compaction_due: true,
            delivered_bytes_waiting: 0,
            delivered_bytes_budget: u64::MAX,
            send_gate: Arc::default(),
            counters: HashMap::new(),
        };
        store.load_accounting().map_err(sqlite_error)?;
        Ok(store)
    }

    /// Closes the file (and releases its lock) so another recorder may open
    /// it; the accounting stays readable, every other call fails.
    pub fn close(&mut self) {
        let Ok(detached) = Connection::open_in_memory() else {
            return;
        };
        if let Err((_, error)) = std::mem::replace(&mut self.conn, detached).close() {
            tracing::warn!(%error, "closing the store");
        }
    }

    /// Gives free space back to the file system, after rows were deleted:
    /// the file's free pages (incremental vacuum), then the WAL (folded
    /// back, which also truncates the file, and truncated). A store made by
    /// an earlier build, without incremental vacuum, is switched to it here
    /// while it holds at most [`MIGRATE_BELOW_BYTES`] (the switch rewrites
    /// the file).
    pub(super) fn return_free_space(&mut self) {
        if self.incremental_vacuum {
            if let Err(error) = schema::incremental_vacuum(&self.conn) {
                tracing::warn!(%error, "returning free pages");
            }
        } else if self.pending_bytes() <= MIGRATE_BELOW_BYTES {
            match schema::migrate_to_incremental_vacuum(&self.conn) {
                Ok(()) => self.incremental_vacuum = true,
                Err(error) => tracing::warn!(%error, "switching the store to incremental vacuum"),
            }
        }
        if let Err(error) = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!(%error, "checkpoint after returning free pages");
        }
    }

    /// Bytes the store takes on disk: the database file and its WAL (the
    /// old AWS recorders' "disk bytes used"), free pages and delivered rows
    /// waiting for compaction included.
    pub fn file_bytes(&self) -> u64 {
        [self.path.clone(), format!("{}-wal", self.path)]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Delivered rows may take at most `bytes` in the file before settling
    /// deletes some itself.
    pub fn limit_delivered_bytes(&mut self, bytes: u64) {
        self.delivered_bytes_budget = bytes;
    }
}

/// A store without incremental vacuum is rewritten to get it only while its
/// records take at most this much (the `VACUUM` then takes milliseconds).
const MIGRATE_BELOW_BYTES: u64 = 1024 * 1024;

/// The service of the store at `path`, read without changing the file;
/// `None` when there is no file yet or it is a new, empty one. Errors as
/// [`Store::open`]'s for a file that is not a usable store or is in use.
pub(crate) fn stored_service(path: &str) -> Result<Option<Service>> {
    if !Path::new(path).exists() {
        return Ok(None);
    }
    Ok(inspect(path)?.2)
}

/// Opens the existing file at `path`, takes its lock and refuses it if it
/// is not a store of this library or is of a newer version, all before
/// anything is written to it. Returns the connection, the schema version
/// (0 for a new store) and the store's service (`None` for a new store).
fn inspect(path: &str) -> Result<(Connection, i64, Option<Service>)> {
    // A damaged header must not reach SQLite: it would delete the `-wal`,
    // which may hold the latest commits, before the app can move it aside.
    check_header(path)?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
    // Only another process can hold the lock: give it a moment to let go,
    // then refuse rather than hang.
    conn.busy_timeout(std::time::Duration::from_millis(250))
        .map_err(|e| open_error(path, e))?;
    schema::lock(&conn).map_err(|e| open_error(path, e))?;
    let sqlite_error = reading_error(path);
    let version = schema::check(&conn, path).map_err(sqlite_error)?;
    let service = schema::service(&conn, path, version).map_err(sqlite_error)?;
    Ok((conn, version, service))
}

/// Creates the file with owner-only permissions before SQLite opens it, so
/// records are never readable by other users (SQLite gives the `-wal` and
/// `-shm` files the same mode).
fn create_private_file(path: &str) -> Result<()> {
    let path = Path::new(path);
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            context: "creating the store's directory",
            source,
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::Io {
            context: "creating the store file",
            source,
        }),
    }
}

/// The first 16 bytes of an SQLite database; an empty file is a new store.
fn check_header(path: &str) -> Result<()> {
    const MAGIC: &[u8; 16] = b"SQLite format 3\0";
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path)
        .and_then(|file| std::io::Read::read_to_end(&mut std::io::Read::take(file, 16), &mut head))
        .map_err(|source| Error::Io {
            context: "reading the store's header",
            source,
        })?;
    if !head.is_empty() && head != MAGIC {
        return Err(Error::StoreCorrupt {
            path: path.to_owned(),
            detail: "the file is not an SQLite database".to_owned(),
        });
    }
    Ok(())
}

/// [`open_error`] for the SQLite errors of the first reads of a file.
fn reading_error(path: &str) -> impl Fn(Error) -> Error + Copy + '_ {
    move |error| match error {
        Error::Sqlite { source, .. } => open_error(path, source),
        other => other,
    }
}

fn open_error(path: &str, error: rusqlite::Error) -> Error {
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => Error::StoreCorrupt {
            path: path.to_owned(),
            detail: error.to_string(),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => Error::StoreLocked { path: path.to_owned() },
        _ => Error::Sqlite {
            context: "opening the store",
            source: error,
        },
    }
}

/// Moves an unusable store file (and its `-wal` / `-shm` companions) aside to
/// `<path>.corrupt-<unix ms>`, so a new store can be created at `path`. Returns
/// the new location of the old file, for the app to report or upload.
pub(crate) fn move_aside(path: &str) -> Result<String> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let target = format!("{path}.corrupt-{stamp}");
    std::fs::rename(path, &target).map_err(|source| Error::Io {
        context: "moving the store aside",
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let companion = format!("{path}{suffix}");
        if Path::new(&companion).exists() {
            std::fs::rename(&companion, format!("{target}{suffix}")).map_err(|source| Error::Io {
                context: "moving the store aside",
                source,
            })?;
        }
    }
    Ok(target)
}
