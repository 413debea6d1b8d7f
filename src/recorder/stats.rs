//! What the recorder reports about itself: [`RecorderStats`] and the
//! [`SubmitReport`] of one submission.

use std::time::Duration;

/// A snapshot of the recorder, to tell a network problem from a hot partition
/// key, an under-provisioned stream or a misconfigured one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecorderStats {
    /// Records stored and not yet delivered.
    pub pending_records: u64,
    /// Their bytes (data + partition keys): what counts against `max_storage_bytes`.
    pub pending_bytes: u64,
    /// Bytes the store's files take on disk (see `Recorder::disk_file_bytes`).
    pub file_bytes: u64,
    /// Saved records still in memory on their way to the disk.
    pub queued_records: u64,
    /// Age of the oldest pending record.
    pub oldest_pending_age: Option<Duration>,
    /// Per stream with pending records, or with a submission problem.
    pub streams: Vec<StreamStats>,
    /// Whether the app reported the network as available.
    pub network_available: bool,
    /// The last failure of the credentials or the account rather than of
    /// one stream (the provider failed or timed out, a signature or access
    /// key was refused), until a request goes through. While
    /// `account_retry_in` runs, automatic submission of every stream waits.
    pub account_error: Option<String>,
    pub account_retry_in: Option<Duration>,
    /// Records acknowledged by the service (since the store was created).
    pub records_submitted: u64,
    /// Kinesis records acknowledged: `records_submitted` without
    /// aggregation, far fewer with it (an aggregate counts once).
    pub kinesis_records_submitted: u64,
    /// Per-record rejections that will be retried.
    pub records_retried: u64,
    /// Per-record `ProvisionedThroughputExceededException`s: a hot shard or
    /// partition key, or too few shards.
    pub records_throttled: u64,
    /// PutRecords calls that got an answer with per-record results.
    pub requests_sent: u64,
    /// Calls that failed as a whole (network, 5xx, throttled, rejected).
    pub requests_failed: u64,
    /// Requests signed again with the service's time because the device's
    /// clock was more than five minutes off (learned from the answer's
    /// `Date`; the offset is then kept in memory for later requests).
    pub clock_corrections: u64,
    pub records_dropped_storage_full: u64,
    pub records_dropped_expired: u64,
    pub records_dropped_attempts_exhausted: u64,
    pub records_dropped_deleted: u64,
}

/// The state of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct StreamStats {
    pub stream_name: String,
    pub pending_records: u64,
    pub pending_bytes: u64,
    pub oldest_pending_age: Option<Duration>,
    /// How long automatic submission of this stream waits after failures.
    pub retry_in: Option<Duration>,
    /// The last failure of this stream, cleared by the next success.
    pub last_error: Option<String>,
}

/// What one `submit_all_records` call did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct SubmitReport {
    /// Records acknowledged by the service.
    pub records_submitted: u64,
    /// Kinesis records they travelled in (an aggregate counts once).
    pub kinesis_records_submitted: u64,
    /// Per-record rejections that will be retried.
    pub records_retried: u64,
    /// Records that left undelivered (attempts exhausted, expired).
    pub records_dropped: u64,
    /// Records still pending when the call returned.
    pub records_remaining: u64,
    /// PutRecords calls made.
    pub requests: u64,
    /// True when nothing was sent because the app marked the network unavailable.
    pub network_unavailable: bool,
    /// True when the call's deadline came before everything was sent.
    pub deadline_reached: bool,
    /// One entry per stream whose submission stopped on an error.
    pub errors: Vec<StreamError>,
}

/// Why the submission of one stream stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct StreamError {
    pub stream_name: String,
    pub kind: FailureKind,
    /// The service's error type, when it gave one.
    pub code: Option<String>,
    pub message: String,
}

/// What kind of trouble stopped a submission, so an app can react without
/// reading messages. Records are kept in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum FailureKind {
    /// No usable answer: connection, timeout, 5xx, malformed response.
    /// Retried with backoff.
    Network,
    /// The service throttled the call. Retried with backoff.
    Throttled,
    /// The credentials provider failed or timed out, or the service refused
    /// the credentials (expired even after a refresh, a wrong secret, an
    /// unknown access key). Concerns every stream: all of them wait.
    /// Retried with backoff (rarely for a refused secret or key).
    Credentials,
    /// The service refused the stream or the request (not found, access
    /// denied, KMS, invalid argument): needs a fix; retried rarely.
    StreamRejected,
    /// The local store failed while submitting.
    Storage,
}
