//! Events the recorder reports to the app's [`RecorderListener`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use crate::error::DropReason;
use crate::recorder::stats::FailureKind;

/// Something the app may want to know about, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum RecorderEvent {
    /// The service acknowledged `count` records of `stream_name`.
    RecordsSubmitted { stream_name: String, count: u64 },
    /// `count` records of `stream_name` left the store undelivered.
    RecordsDropped {
        stream_name: String,
        reason: DropReason,
        count: u64,
    },
    /// Stored bytes rose past `notification_byte_threshold`.
    StorageThresholdCrossed { bytes_used: u64, threshold: u64 },
    /// A request for `stream_name` failed. The records are kept; when
    /// `will_retry`, the recorder tries again by itself later. `code` is the
    /// service's error type when it gave one; `message` says how to fix what
    /// an app can fix.
    SubmissionFailed {
        stream_name: String,
        kind: FailureKind,
        code: Option<String>,
        message: String,
        will_retry: bool,
    },
}

/// Receives [`RecorderEvent`]s on the recorder's background threads. Return
/// quickly: hand heavy work to your own thread or queue.
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait RecorderListener: Send + Sync {
    fn on_event(&self, event: RecorderEvent);
}

/// The app's listener, if any; a panicking listener cannot take the
/// recorder's threads down with it.
#[derive(Default)]
pub(crate) struct Listeners {
    listener: RwLock<Option<Arc<dyn RecorderListener>>>,
}

impl Listeners {
    pub fn set(&self, listener: Option<Arc<dyn RecorderListener>>) {
        *self.listener.write().unwrap_or_else(|e| e.into_inner()) = listener;
    }

    pub fn emit(&self, event: RecorderEvent) {
        let listener = self.listener.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(listener) = listener {
            if catch_unwind(AssertUnwindSafe(|| listener.on_event(event))).is_err() {
                tracing::error!("the recorder listener panicked; event ignored");
            }
        }
    }

    /// One `RecordsDropped` event per stream and reason.
    pub fn emit_dropped(&self, dropped: &crate::store::Dropped) {
        for ((stream_name, reason), &count) in &dropped.by_stream {
            tracing::warn!(stream = %stream_name, %reason, count, "records dropped");
            self.emit(RecorderEvent::RecordsDropped {
                stream_name: stream_name.clone(),
                reason: *reason,
                count,
            });
        }
    }
}
