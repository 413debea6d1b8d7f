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
use crate::policy::schedule::{save_wakes_worker, Pending};
use crate::record::NewRecord;
use crate::recorder::events::RecorderEvent;
use crate::store::Store;

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
    /// True while the writer sleeps until signalled: only then does a save
    /// pay for a wake-up (a system call on the caller's thread).
    writer_parked: bool,
    closed: bool,
}

#[derive(Default)]
pub(crate) struct SaveQueue {
    state: Mutex<QueueState>,
    /// Signalled when a record arrives for a parked writer, on `flush` and
    /// on close.
    work: Condvar,
    /// Signalled after every commit attempt.
    committed: Condvar,
}

impl SaveQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands records to the writer, all or none. `admit` runs under the
    /// queue lock with the bytes queued so far and the bytes to add, to apply
    /// the reject-new storage policy exactly.
    pub fn push(
        &self,
        records: impl ExactSizeIterator<Item = NewRecord> + Clone,
        max_queued_bytes: u64,
        admit: impl FnOnce(u64, u64) -> Result<()>,
    ) -> Result<()> {
        let size: u64 = records.clone().map(|r| r.size()).sum();
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
            return Err(Error::Overloaded {
                queued_bytes: state.bytes,
            });
        }
        admit(state.bytes + state.writing_bytes, size)?;
        state.queued_seq += records.len() as u64;
        state.records.extend(records);
        state.bytes += size;
        let wake = std::mem::take(&mut state.writer_parked);
        drop(state);
        if wake {
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
        if state.committed_seq < target {
            // Cut the writer's linger short.
            self.work.notify_one();
        }
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

    /// The writer's wait: until records are queued or the queue is closed.
    /// It lingers first (see `LINGER`, passed as `linger`), then parks until
    /// a save wakes it.
    fn wait_for_saves(&self, linger: Duration) -> MutexGuard<'_, QueueState> {
        let mut state = self.lock();
        let mut lingers = 0;
        while state.records.is_empty() && !state.closed && lingers < LINGERS_BEFORE_PARKING {
            state = self
                .work
                .wait_timeout(state, linger)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            lingers += 1;
        }
        while state.records.is_empty() && !state.closed {
            state.writer_parked = true;
            state = self.work.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.writer_parked = false;
        state
    }

    /// Refuses new saves; the writer commits what is queued and stops.
    pub fn close(&self) {
        self.lock().closed = true;
        self.work.notify_all();
    }
}

/// Retry delay while the disk refuses writes.
const STORAGE_RETRY: Duration = Duration::from_millis(500);

/// After a commit, the writer looks for more saves every `LINGER` (which
/// bounds the durability lag), and parks only after `LINGERS_BEFORE_PARKING`
/// looks found none. Saves that keep coming (a burst, an animation's or a
/// sensor's events) then never pay for waking it, a system call on the
/// caller's thread that costs 5 to 40 µs on a virtual machine (the Kotlin
/// benchmark measures it next to the saves); an idle recorder still has no
/// timer.
const LINGER: Duration = Duration::from_millis(2);
const LINGERS_BEFORE_PARKING: u32 = 5;

/// The streams a group of saves goes to, each once (a group rarely holds
/// more than a few).
fn streams_of(group: &[NewRecord]) -> Vec<&str> {
    let mut streams: Vec<&str> = Vec::new();
    for record in group {
        let stream = record.stream.as_str();
        if streams.last() != Some(&stream) && !streams.contains(&stream) {
            streams.push(stream);
        }
    }
    streams
}

fn pending_in(store: &Store, stream: &str) -> Pending {
    let (records, bytes) = store.pending_in(stream);
    Pending { records, bytes }
}

/// The writer thread's body.
pub(crate) fn run(shared: Arc<Shared>) {
    let queue = &shared.queue;
    let mut group: Vec<NewRecord> = Vec::new();
    let mut group_seq = 0;
    let mut above_notification_threshold = false;
    loop {
        if group.is_empty() {
            let mut state = queue.wait_for_saves(LINGER);
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
            if let Err(error) = shared.clock.follow_wall_clock(&mut store) {
                tracing::warn!(%error, "cannot follow the clock");
            }
            let streams = streams_of(&group);
            let before: Vec<Pending> = streams.iter().map(|stream| pending_in(&store, stream)).collect();
            let outcome = store.insert(&group, evict_above, shared.clock.stored_offset());
            if outcome.is_ok() {
                // The group moves from the queue's count to the store's in
                // one step (the reject-new check reads both): never counted
                // twice, never missed.
                let mut state = queue.lock();
                shared.committed_bytes.store(store.pending_bytes(), Ordering::Release);
                state.writing_bytes = 0;
                state.storage_error = None;
            }
            outcome.map(|dropped| {
                let thresholds = shared.thresholds();
                let wake = streams
                    .iter()
                    .zip(before)
                    .any(|(stream, before)| save_wakes_worker(&thresholds, before, pending_in(&store, stream)));
                (dropped, wake, store.pending_bytes())
            })
        };
        match outcome {
            Ok((dropped, wake_worker, pending_bytes)) => {
                group.clear();
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
                if wake_worker {
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
                    tracing::error!(
                        records = group.len() + state.records.len(),
                        "records lost at shutdown: the disk refuses writes"
                    );
                    return;
                }
                drop(queue.work.wait_timeout(state, STORAGE_RETRY));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::thread::JoinHandle;
    use std::time::Instant;

    use super::*;

    fn record() -> NewRecord {
        NewRecord {
            stream: "s".into(),
            partition_key: "k".into(),
            key_generated: false,
            explicit_hash_key: None,
            data: b"x".to_vec(),
            created_at_ms: 0,
        }
    }

    fn save(queue: &SaveQueue) {
        queue.push(std::iter::once(record()), u64::MAX, |_, _| Ok(())).unwrap();
    }

    /// The writer's side of the queue as `run` uses it, without the store,
    /// lingering `linger` at a time.
    fn writer(queue: Arc<SaveQueue>, linger: Duration) -> JoinHandle<()> {
        std::thread::spawn(move || loop {
            let mut state = queue.wait_for_saves(linger);
            if state.records.is_empty() {
                return;
            }
            state.records.clear();
            state.bytes = 0;
        })
    }

    fn wait_until(what: &str, condition: impl Fn() -> bool) {
        let started = Instant::now();
        while !condition() {
            assert!(started.elapsed() < Duration::from_secs(10), "{what}");
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    #[test]
    fn saves_soon_after_a_commit_find_the_writer_awake_and_an_idle_one_parks() {
        // Long looks, so that a loaded machine cannot blur them: the writer
        // parks 1 s after its last commit at the earliest, and a writer that
        // parked after one look would have by 0.4 s.
        let linger = Duration::from_millis(200);
        let queue = Arc::new(SaveQueue::default());
        let writer = writer(queue.clone(), linger);
        save(&queue);
        wait_until("the writer takes the record", || queue.lock().records.is_empty());
        std::thread::sleep(linger * 2);
        assert!(!queue.lock().writer_parked, "the writer parked after one look");
        save(&queue);
        wait_until("the writer takes the second record", || queue.lock().records.is_empty());
        // Idle: it parks (no timer), and a save wakes it.
        wait_until("the idle writer parks", || queue.lock().writer_parked);
        save(&queue);
        wait_until("a save wakes the parked writer", || queue.lock().records.is_empty());
        queue.close();
        writer.join().unwrap();
    }
}
