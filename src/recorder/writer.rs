//! The save queue and the writer thread.
//!
//! `save_record` validates, pushes the record onto an in-memory queue and
//! returns: no disk or network I/O on the caller's thread. The writer thread
//! takes everything queued at once and commits it in one transaction (group
//! commit), so the cost of a commit is shared by every record saved while the
//! previous one ran.
//!
//! Back-pressure: the queue holds at most `max_queued_bytes`. A save that
//! would exceed it fails at once with `Overloaded` rather than blocking the
//! caller. While the disk refuses writes (disk full, I/O error), saves fail at
//! once with `StorageFailure`; what was already queued stays in memory and is
//! written as soon as the disk takes it again.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::Shared;
use crate::config::WhenFull;
use crate::error::{Error, Result};
use crate::recorder::events::RecorderEvent;
use crate::record::NewRecord;

#[derive(Default)]
struct QueueState {
    records: Vec<NewRecord>,
    bytes: u64,
    /// Bytes of the group the writer is committing right now.
    writing_bytes: u64,
    /// Sequence number of the last record queued, and of the last committed.
    queued_seq: u64,
    committed_seq: u64,
    /// Set while the disk refuses writes.
    storage_error: Option<String>,
    closed: bool,
}

#[derive(Default)]
pub(crate) struct SaveQueue {
    state: Mutex<QueueState>,
    /// Signalled when the queue goes from empty to not empty, or closes.
    work: Condvar,
    /// Signalled after every commit attempt.
    committed: Condvar,
}

impl SaveQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands a record to the writer. `admit` runs under the queue lock with
    /// the bytes queued so far, to apply the reject-new storage policy
    /// exactly.
    pub fn push(&self, record: NewRecord, max_queued_bytes: u64, admit: impl FnOnce(u64) -> Result<()>) -> Result<()> {
        let size = record.size();
        let mut state = self.lock();
        if state.closed {
            return Err(Error::ShutDown);
        }
        if let Some(error) = &state.storage_error {
            return Err(Error::Io {
                context: "saving records",
                source: std::io::Error::other(error.clone()),
            });
        }
        if state.bytes + size > max_queued_bytes {
            return Err(Error::Overloaded { queued_bytes: state.bytes });
        }
        admit(state.bytes + state.writing_bytes)?;
        let was_empty = state.records.is_empty();
        state.records.push(record);
        state.bytes += size;
        state.queued_seq += 1;
        drop(state);
        if was_empty {
            self.work.notify_one();
        }
        Ok(())
    }

    pub fn queued(&self) -> (u64, u64) {
        let state = self.lock();
        (state.records.len() as u64, state.bytes)
    }

    /// Blocks until every record queued before the call is committed, or the
    /// disk refuses them.
    pub fn flush(&self) -> Result<()> {
        let mut state = self.lock();
        let target = state.queued_seq;
        while state.committed_seq < target {
            if let Some(error) = &state.storage_error {
                return Err(Error::Io {
                    context: "saving records",
                    source: std::io::Error::other(error.clone()),
                });
            }
            state = self.committed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    /// Refuses new saves; the writer commits what is queued and stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
    }
}

/// Retry delay while the disk refuses writes.
const STORAGE_RETRY: Duration = Duration::from_millis(500);

/// The writer thread's body.
pub(crate) fn run(shared: Arc<Shared>) {
    let queue = &shared.queue;
    let mut group: Vec<NewRecord> = Vec::new();
    let mut group_seq = 0;
    let mut above_notification_threshold = false;
    loop {
        if group.is_empty() {
            let mut state = queue.lock();
            while state.records.is_empty() && !state.closed {
                state = queue.work.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.records.is_empty() {
                return;
            }
            group = std::mem::take(&mut state.records);
            state.writing_bytes = std::mem::take(&mut state.bytes);
            group_seq = state.queued_seq;
        }
        let evict_above = match shared.config.when_full {
            WhenFull::DropOldest => Some(shared.config.max_storage_bytes),
            WhenFull::RejectNew => None,
        };
        let outcome = {
            let mut store = shared.lock_store();
            let was_empty = store.pending_records() == 0;
            store
                .insert(&group, evict_above)
                .map(|dropped| (dropped, was_empty, store.pending_records(), store.pending_bytes()))
        };
        match outcome {
            Ok((dropped, was_empty, pending_records, pending_bytes)) => {
                group.clear();
                {
                    let mut state = queue.lock();
                    shared.committed_bytes.store(pending_bytes, Ordering::Release);
                    state.writing_bytes = 0;
                    state.storage_error = None;
                }
                // Events first, so `flush()` returns after the listener heard them.
                shared.listeners.emit_dropped(&dropped);
                let threshold = shared.config.notification_byte_threshold;
                if threshold > 0 {
                    let above = pending_bytes >= threshold;
                    if above && !above_notification_threshold {
                        shared.listeners.emit(RecorderEvent::StorageThresholdCrossed {
                            bytes_used: pending_bytes,
                            threshold,
                        });
                    }
                    above_notification_threshold = above;
                }
                let config = &shared.config;
                let over_threshold = (config.submit_threshold_records > 0 && pending_records >= config.submit_threshold_records)
                    || (config.submit_threshold_bytes > 0 && pending_bytes >= config.submit_threshold_bytes);
                if was_empty || over_threshold {
                    shared.wake_worker();
                }
                queue.lock().committed_seq = group_seq;
                queue.committed.notify_all();
            }
            Err(error) => {
                tracing::error!(%error, records = group.len(), "cannot write saved records; keeping them in memory");
                queue.lock().storage_error = Some(error.to_string());
                queue.committed.notify_all();
                let state = queue.lock();
                if state.closed {
                    // Shutting down with a disk that refuses writes: what is
                    // still in memory cannot be kept.
                    tracing::error!(records = group.len() + state.records.len(), "records lost at shutdown: the disk refuses writes");
                    return;
                }
                drop(queue.work.wait_timeout(state, STORAGE_RETRY));
            }
        }
    }
}
