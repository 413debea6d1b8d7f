//! The store's file: opening it (owner-only permissions, a header check
//! before SQLite touches it, the lock, the schema), closing it, folding the
//! WAL back when empty, and moving an unusable file aside. Every error about
//! the file itself (corrupt, foreign, locked, too new) is decided here.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{schema, Store};
use crate::error::{Error, Result};

impl Store {
    /// Opens (creating if needed) the store at `path`. A file that is not a
    /// store of this library, or is locked by another process, is an error;
    /// nothing is ever wiped silently. See [`move_aside`] to recover.
    pub fn open(path: &str) -> Result<Store> {
        schema::check_sqlite_version(rusqlite::version_number())?;
        create_private_file(path)?;
        // A damaged header must not reach SQLite: it would delete the `-wal`,
        // which may hold the latest commits, before the app can move it aside.
        check_header(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, e))?;
        // Only another process can hold the lock: give it a moment to let go,
        // then refuse rather than hang.
        conn.busy_timeout(std::time::Duration::from_millis(250))
            .map_err(|e| open_error(path, e))?;
        schema::lock(&conn).map_err(|e| open_error(path, e))?;
        let sqlite_error = |e| match e {
            Error::Sqlite { source, .. } => open_error(path, source),
            other => other,
        };
        // Refuse foreign or newer files before the pragmas change them.
        schema::check(&conn, path).map_err(sqlite_error)?;
        schema::configure(&conn).map_err(|e| open_error(path, e))?;
        schema::upgrade(&mut conn, path).map_err(sqlite_error)?;
        let mut store = Store {
            conn,
            streams: HashMap::new(),
            stream_ids: HashMap::new(),
            delivered_through: HashMap::new(),
            next_id: 1,
            // Delivered rows may be left from a run that stopped before compacting.
            compaction_due: true,
            clears: 0,
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

    /// Once the store is empty, folds the WAL back into the database and
    /// truncates it, returning its space to the file system.
    pub(super) fn checkpoint_if_empty(&self) {
        if self.pending_records() == 0 {
            if let Err(error) = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
                tracing::warn!(%error, "checkpoint of an empty store");
            }
        }
    }
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
