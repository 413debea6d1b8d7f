//! Errors: one internal [`Error`] used inside the crate, one public
//! [`RecorderError`] that callers (and the FFI) see. The mapping between them
//! lives here and nowhere else.

use std::fmt;

use crate::service::Service;

/// What went wrong inside the crate. Converted to [`RecorderError`] at the API
/// boundary.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },

    #[error("storage limit reached: {0}")]
    StorageFull(String),

    #[error("the save queue is full ({queued_bytes} bytes waiting for the disk); try again shortly")]
    Overloaded { queued_bytes: u64 },

    #[error("SQLite error while {context}: {source}")]
    Sqlite {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "the file at {path} is not a usable record store ({detail}); move it aside or delete it to start a new store"
    )]
    StoreCorrupt { path: String, detail: String },

    #[error(
        "the store at {path} is in use by another recorder (one recorder per file: shut the other one down first)"
    )]
    StoreLocked { path: String },

    #[error("the store at {path} was written by a newer version (schema {found}, this build knows up to {supported})")]
    StoreTooNew { path: String, found: i64, supported: i64 },

    /// A configuration mistake, not a damaged file: the app gave the wrong
    /// path or the wrong service, so the store must not be moved aside.
    #[error(
        "the store at {path} belongs to a {found} recorder, not to a {wanted} one: \
         give each service its own file, or open this one for {found}"
    )]
    StoreOfOtherService {
        path: String,
        found: Service,
        wanted: Service,
    },

    #[error("I/O error while {context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("network error: {0}")]
    Network(String),

    #[error("the recorder has been shut down")]
    ShutDown,
}

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
        move |source| Error::Sqlite { context, source }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The error type of the public API, designed so an app can act on the
/// variant: fix its input, free space, slow down, wait for the network, or
/// supply credentials. (Errors of a stream during submission, such as a
/// missing stream or a denied permission, are reported per stream in
/// `SubmitReport::errors` and `RecorderEvent::SubmissionFailed`.) The field is
/// `reason`, not `message`, which Kotlin exceptions already have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "ffi", derive(uniffi::Error))]
pub enum RecorderError {
    /// A value given to the API is invalid, or the store file belongs to a
    /// recorder of the other service. Nothing was stored.
    #[error("invalid input: {reason}")]
    InvalidInput { reason: String },
    /// The store is at `max_storage_bytes` and the policy is to reject new
    /// records. Nothing was stored.
    #[error("storage full: {reason}")]
    StorageFull { reason: String },
    /// Saves arrive faster than the disk takes them and the in-memory queue is
    /// full. Nothing was stored; saving again a moment later will succeed.
    #[error("overloaded: {reason}")]
    Overloaded { reason: String },
    /// The SQLite store failed (disk full, I/O error, corrupt or too new file).
    #[error("storage failure: {reason}")]
    StorageFailure { reason: String },
    /// The endpoint could not be reached or answered unusably; records are kept.
    #[error("network error: {reason}")]
    Network { reason: String },
    /// The credentials provider failed or the credentials were refused.
    #[error("credentials error: {reason}")]
    Credentials { reason: String },
    /// The recorder has been shut down; create a new one.
    #[error("the recorder has been shut down")]
    ShutDown,
}

impl From<Error> for RecorderError {
    fn from(error: Error) -> Self {
        let reason = error.to_string();
        match error {
            Error::InvalidInput { .. } | Error::StoreOfOtherService { .. } => RecorderError::InvalidInput { reason },
            Error::StorageFull(_) => RecorderError::StorageFull { reason },
            Error::Overloaded { .. } => RecorderError::Overloaded { reason },
            Error::Sqlite { .. }
            | Error::StoreCorrupt { .. }
            | Error::StoreLocked { .. }
            | Error::StoreTooNew { .. }
            | Error::Io { .. } => RecorderError::StorageFailure { reason },
            Error::Network(_) => RecorderError::Network { reason },
            Error::ShutDown => RecorderError::ShutDown,
        }
    }
}

/// Why a record left the store without being delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum DropReason {
    /// Evicted to make room under the drop-oldest storage policy.
    StorageFull,
    /// Older than `max_record_age`.
    Expired,
    /// The service rejected it `max_attempts` times.
    AttemptsExhausted,
    /// Removed by `delete_all_records`.
    Deleted,
}

impl DropReason {
    pub const ALL: [DropReason; 4] = [
        DropReason::StorageFull,
        DropReason::Expired,
        DropReason::AttemptsExhausted,
        DropReason::Deleted,
    ];

    /// The stable name used in the store's counters and in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::StorageFull => "storage_full",
            DropReason::Expired => "expired",
            DropReason::AttemptsExhausted => "attempts_exhausted",
            DropReason::Deleted => "deleted",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
