//! The [`Recorder`]: the object apps hold. It owns the store, the writer
//! thread (group commit of saves) and the submission worker (triggers,
//! per-stream drains), and exposes the API named after the AWS recorders it
//! replaces: `save_record`, `submit_all_records`, `delete_all_records`,
//! `disk_bytes_used`, `disk_byte_limit`.
//!
//! The path of one record: [`Recorder::save_record`] validates it
//! (`record.rs`) and queues it (`writer.rs`); the writer commits it (`store`);
//! the worker (`worker.rs`) reads it in a batch, `transport` sends it, `policy`
//! judges the answer, `store` marks it delivered or reschedules it, and the listener
//! hears about it (`events.rs`).

mod account;
mod clock;
pub(crate) mod events;
pub(crate) mod stats;
mod worker;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::{RecorderConfig, WhenFull, DEFAULT_SUBMIT_DEADLINE};
use crate::error::{Error, RecorderError};
use crate::policy::schedule::Thresholds;
use crate::policy::stream::StreamState;
use crate::record;
use crate::service::Service;
use crate::store::Store;
use crate::transport::{wire, CredentialsProvider, Transport};
pub use events::{RecorderEvent, RecorderListener};
pub use stats::{FailureKind, RecorderStats, StreamError, StreamStats, SubmitReport};
use worker::{Command, Worker};
use writer::SaveQueue;

/// One record for [`Recorder::save_records`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecordToSave {
    pub data: Vec<u8>,
    pub stream_name: String,
    /// None: a random UUID. Firehose records take none.
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
}

/// State shared by the API, the writer thread and the worker.
pub(crate) struct Shared {
    config: RecorderConfig,
    store: Mutex<Store>,
    queue: SaveQueue,
    /// Stored bytes, readable without the store lock; written only with the
    /// store locked.
    committed_bytes: AtomicU64,
    network_available: AtomicBool,
    shutting_down: AtomicBool,
    shutdown_signal: Notify,
    streams: Mutex<HashMap<String, StreamState>>,
    account: Mutex<account::AccountHold>,
    clock: clock::RecordClock,
    listeners: Arc<events::Listeners>,
    commands: mpsc::UnboundedSender<Command>,
    /// The worker's runtime, whose blocking pool waits for the listener on
    /// behalf of `submit_all_records` (a caller's executor must not block).
    runtime: tokio::runtime::Handle,
}

impl Shared {
    fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_streams(&self) -> MutexGuard<'_, HashMap<String, StreamState>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_account(&self) -> MutexGuard<'_, account::AccountHold> {
        self.account.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_worker(&self) {
        let _ = self.commands.send(Command::Wake);
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn thresholds(&self) -> Thresholds {
        Thresholds {
            records: self.config.submit_threshold_records,
            bytes: self.config.submit_threshold_bytes,
        }
    }

    /// Publishes the store's pending bytes for the reject-new check of
    /// `save_record`. The store stays locked until it is published: a value
    /// read before a commit can never overwrite the one after it (which
    /// would let saves overshoot `max_storage_bytes`).
    fn refresh_committed_bytes(&self) {
        let store = self.lock_store();
        self.committed_bytes.store(store.pending_bytes(), Ordering::Release);
    }
}

/// An offline-first recorder for one service endpoint, Kinesis Data Streams
/// or Firehose (`RecorderConfig::service`), and any number of its streams.
/// Cheap to share (`Arc<Recorder>`), safe to call from any thread. Dropping
/// it shuts it down.
pub struct Recorder {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    event_thread: Mutex<Option<JoinHandle<()>>>,
}

impl Recorder {
    /// Opens (or creates) the store and starts the background threads.
    ///
    /// This opens the SQLite file, so call it once at start-up, off the UI
    /// thread if you can (it takes milliseconds). A file that is not a
    /// usable store gives `StorageFailure`; [`Recorder::move_aside_store`]
    /// moves it out of the way so a new store can be created. A store of the
    /// other service gives `InvalidInput` and is left as it is.
    pub fn new(config: RecorderConfig, credentials: Arc<dyn CredentialsProvider>) -> Result<Recorder, RecorderError> {
        config.validate()?;
        let transport = Transport::new(&config, wire::api(config.service, config.wire_format), credentials)?;
        let mut store = Store::open(&config.database_path, config.service)?;
        transport.bind_credentials_to_store(&config)?;
        // Delivered rows waiting for compaction may add a quarter of the
        // limit to the file, not more.
        store.limit_delivered_bytes(config.max_storage_bytes / 4);
        let (commands, receiver) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            // The blocking pool, which reads the next batch during a request.
            .thread_name("kr-reader")
            .build()
            .map_err(|source| Error::Io {
                context: "starting the submission runtime",
                source,
            })?;
        let listeners = Arc::new(events::Listeners::default());
        let event_thread = {
            let listeners = listeners.clone();
            std::thread::Builder::new()
                .name("kr-events".into())
                .spawn(move || listeners.run())
                .map_err(|source| Error::Io {
                    context: "starting the event thread",
                    source,
                })?
        };
        let clock = clock::RecordClock::new(store.next_record_id());
        let shared = Arc::new(Shared {
            committed_bytes: AtomicU64::new(store.pending_bytes()),
            config,
            store: Mutex::new(store),
            queue: SaveQueue::default(),
            network_available: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
            shutdown_signal: Notify::new(),
            streams: Mutex::new(HashMap::new()),
            account: Mutex::default(),
            clock,
            listeners,
            commands,
            runtime: runtime.handle().clone(),
        });
        let writer_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("kr-writer".into())
            .spawn(move || writer::run(writer_shared))
            .map_err(|source| Error::Io {
                context: "starting the writer thread",
                source,
            })?;
        let worker = Worker::new(shared.clone(), transport, receiver);
        let worker = std::thread::Builder::new()
            .name("kr-worker".into())
            .spawn(move || runtime.block_on(worker.run()))
            .map_err(|source| Error::Io {
                context: "starting the worker thread",
                source,
            })?;
        Ok(Recorder {
            shared,
            threads: Mutex::new(vec![writer, worker]),
            event_thread: Mutex::new(Some(event_thread)),
        })
    }

    /// Saves a record for `stream_name`. A missing partition key becomes a
    /// random UUID (records spread evenly over shards); Firehose records
    /// take no key (`InvalidInput` if one is given).
    ///
    /// Returns as soon as the record is validated and queued: no disk or
    /// network I/O happens on the calling thread, so the UI thread may call
    /// it. The record is on disk a few milliseconds later (see
    /// [`Recorder::flush`]). Invalid input gives `InvalidInput` and stores
    /// nothing.
    pub fn save_record(
        &self,
        data: Vec<u8>,
        stream_name: &str,
        partition_key: Option<String>,
    ) -> Result<(), RecorderError> {
        self.save_record_with_hash_key(data, stream_name, partition_key, None)
    }

    /// Like [`Recorder::save_record`], with an explicit hash key (a decimal
    /// in [0, 2^128-1]) that picks the shard instead of the partition key.
    pub fn save_record_with_hash_key(
        &self,
        data: Vec<u8>,
        stream_name: &str,
        partition_key: Option<String>,
        explicit_hash_key: Option<String>,
    ) -> Result<(), RecorderError> {
        let record = record::new_record(
            &self.shared.config,
            data,
            stream_name,
            partition_key,
            explicit_hash_key,
            self.shared.clock.stamp(),
        )?;
        self.queue(std::iter::once(record))
    }

    /// Saves many records in one call (one FFI crossing from Kotlin or
    /// Swift): all are validated first, and either all are queued or none.
    /// An invalid one gives `InvalidInput` naming its index.
    pub fn save_records(&self, records: Vec<RecordToSave>) -> Result<(), RecorderError> {
        let now = self.shared.clock.stamp();
        let config = &self.shared.config;
        let records = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                record::new_record(
                    config,
                    r.data,
                    &r.stream_name,
                    r.partition_key,
                    r.explicit_hash_key,
                    now,
                )
                .map_err(|e| Error::invalid("record", format!("record {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.queue(records.into_iter())
    }

    fn queue(&self, records: impl ExactSizeIterator<Item = record::NewRecord> + Clone) -> Result<(), RecorderError> {
        let config = &self.shared.config;
        let committed = &self.shared.committed_bytes;
        self.shared
            .queue
            .push(records, config.max_queued_bytes, |queued, size| {
                if config.when_full == WhenFull::RejectNew {
                    let used = committed.load(Ordering::Acquire) + queued;
                    if used + size > config.max_storage_bytes {
                        return Err(Error::StorageFull(format!(
                            "{used} of {} bytes used, the records need {size}",
                            config.max_storage_bytes
                        )));
                    }
                }
                Ok(())
            })?;
        Ok(())
    }

    /// Blocks until every record saved before the call is committed to the
    /// SQLite file, and the listener heard the events of those commits
    /// (see [`RecorderListener`]; called from the listener, it does not wait
    /// for the event being handled). For shutdown paths and tests; never
    /// needed for delivery.
    pub fn flush(&self) -> Result<(), RecorderError> {
        self.shared.queue.flush()?;
        let listeners = &self.shared.listeners;
        listeners.wait_delivered(listeners.queued());
        Ok(())
    }

    /// Submits everything pending now and reports what happened, within
    /// [`DEFAULT_SUBMIT_DEADLINE`] (60 s); see
    /// [`Recorder::submit_all_records_within`].
    pub async fn submit_all_records(&self) -> Result<SubmitReport, RecorderError> {
        self.submit_all_records_within(DEFAULT_SUBMIT_DEADLINE).await
    }

    /// Submits everything pending now and reports what happened, returning
    /// by `deadline` at the latest (a request still in flight then goes on
    /// without the caller). Records saved before the call are included;
    /// the streams take turns, one batch each, so every stream gets its
    /// first batches early whatever another one holds. Within the deadline
    /// it waits out the backoff of records the service refused one by one,
    /// and retries a failed call twice; a stream the service refuses is
    /// tried once. What is not delivered by the deadline stays pending
    /// (`SubmitReport::deadline_reached`). Calls made while a submission
    /// runs join it. When it returns, the listener heard the submission's
    /// events (as with [`Recorder::flush`]). A zero deadline gives
    /// `InvalidInput`.
    pub async fn submit_all_records_within(&self, deadline: Duration) -> Result<SubmitReport, RecorderError> {
        if deadline.is_zero() {
            return Err(Error::invalid("deadline", "must be greater than 0").into());
        }
        let (reply, answer) = oneshot::channel();
        self.submit(reply, deadline)?;
        let report = answer.await.map_err(|_| RecorderError::ShutDown)?;
        let listeners = self.shared.listeners.clone();
        if !listeners.on_event_thread() {
            let target = listeners.queued();
            // Waited for on the worker's blocking pool: the caller's executor
            // (a Kotlin or Swift one, say) must not block on the listener.
            let _ = self
                .shared
                .runtime
                .spawn_blocking(move || listeners.wait_delivered(target))
                .await;
        }
        report
    }

    /// Asks the worker to submit everything pending soon, without waiting
    /// for it (within [`DEFAULT_SUBMIT_DEADLINE`]).
    pub fn request_submit(&self) {
        let (reply, _) = oneshot::channel();
        let _ = self.submit(reply, DEFAULT_SUBMIT_DEADLINE);
    }

    fn submit(
        &self,
        reply: oneshot::Sender<Result<SubmitReport, RecorderError>>,
        deadline: Duration,
    ) -> Result<(), RecorderError> {
        // Beyond a year is no deadline at all (and stays within the timer's range).
        let far = Duration::from_secs(365 * 86_400);
        let deadline = Instant::now() + deadline.min(far);
        self.shared
            .commands
            .send(Command::Submit { reply, deadline })
            .map_err(|_| RecorderError::ShutDown)
    }

    /// Tells the recorder whether the device is online. While it is not, the
    /// worker makes no network attempt and no record spends an attempt; when
    /// it comes back, pending records are submitted at once.
    pub fn set_network_available(&self, available: bool) {
        let was = self.shared.network_available.swap(available, Ordering::AcqRel);
        if was != available {
            tracing::debug!(available, "network availability changed");
            if available {
                // Backoffs after network failures say nothing about the new
                // network; a refused stream or a throttled one still waits
                // (every Wi-Fi/cellular handover comes here).
                for state in self.shared.lock_streams().values_mut() {
                    state.network_returned();
                }
            }
            self.shared.wake_worker();
        }
    }

    /// Deletes every record saved so far (committed or queued). They are
    /// reported as dropped with reason `Deleted`. Returns how many.
    pub fn delete_all_records(&self) -> Result<u64, RecorderError> {
        self.ensure_running()?;
        self.shared.queue.flush()?;
        let dropped = self.running_store()?.delete_all()?;
        self.shared.refresh_committed_bytes();
        self.shared.listeners.emit_dropped(&dropped);
        Ok(dropped.total())
    }

    /// Bytes of the records stored (data + partition keys of pending
    /// records): what `max_storage_bytes` limits. Exact, and free to call.
    /// Not the file's size, which the AWS recorders returned under this
    /// name: that is [`Recorder::disk_file_bytes`].
    pub fn disk_bytes_used(&self) -> u64 {
        self.shared.committed_bytes.load(Ordering::Acquire)
    }

    /// Bytes the store's files take on disk (the SQLite file and its WAL):
    /// the records, SQLite's overhead (about 1.3x for small records),
    /// delivered rows not yet compacted and free pages not yet returned.
    /// Delivered rows never take more than a quarter of `max_storage_bytes`
    /// beyond the records, and once the recorder is idle they are deleted
    /// and their pages returned to the file system.
    pub fn disk_file_bytes(&self) -> u64 {
        self.shared.lock_store().file_bytes()
    }

    /// The `max_storage_bytes` of the configuration.
    pub fn disk_byte_limit(&self) -> u64 {
        self.shared.config.max_storage_bytes
    }

    /// A snapshot of pending records, per-stream health and counters.
    pub fn stats(&self) -> Result<RecorderStats, RecorderError> {
        self.ensure_running()?;
        let (queued_records, _) = self.shared.queue.queued();
        let now = Instant::now();
        let now_ms = self.shared.clock.now_ms();
        let age = |created: Option<i64>| created.map(|c| Duration::from_millis(now_ms.saturating_sub(c).max(0) as u64));
        let store = self.running_store()?;
        let states = self.shared.lock_streams().clone();
        let (account_error, account_retry_in) = {
            let account = self.shared.lock_account();
            let until = account.holds_until(now);
            (
                account.last_error().map(str::to_owned),
                until.map(|until| until.duration_since(now)),
            )
        };
        let mut streams = Vec::new();
        let mut oldest: Option<Duration> = None;
        for account in store.pending_streams() {
            let stream_age = age(store.oldest_created_at(&account.name)?);
            oldest = oldest.max(stream_age);
            streams.push(StreamStats {
                retry_in: worker::retry_in(&states, &account.name, now),
                last_error: states.get(&account.name).and_then(|s| s.last_error.clone()),
                stream_name: account.name,
                pending_records: account.records,
                pending_bytes: account.bytes,
                oldest_pending_age: stream_age,
            });
        }
        for (name, state) in &states {
            if state.last_error.is_some() && !streams.iter().any(|s| &s.stream_name == name) {
                streams.push(StreamStats {
                    stream_name: name.clone(),
                    last_error: state.last_error.clone(),
                    retry_in: worker::retry_in(&states, name, now),
                    ..Default::default()
                });
            }
        }
        use crate::error::DropReason;
        use crate::store::Counter;
        Ok(RecorderStats {
            pending_records: store.pending_records(),
            pending_bytes: store.pending_bytes(),
            file_bytes: store.file_bytes(),
            queued_records,
            oldest_pending_age: oldest,
            streams,
            network_available: self.shared.network_available.load(Ordering::Acquire),
            account_error,
            account_retry_in,
            records_submitted: store.counter(Counter::Submitted),
            kinesis_records_submitted: store.counter(Counter::KinesisRecordsSubmitted),
            records_retried: store.counter(Counter::Retried),
            records_throttled: store.counter(Counter::Throttled),
            requests_sent: store.counter(Counter::RequestsSent),
            requests_failed: store.counter(Counter::RequestsFailed),
            clock_corrections: store.counter(Counter::ClockCorrections),
            records_dropped_storage_full: store.counter(Counter::Dropped(DropReason::StorageFull)),
            records_dropped_expired: store.counter(Counter::Dropped(DropReason::Expired)),
            records_dropped_attempts_exhausted: store.counter(Counter::Dropped(DropReason::AttemptsExhausted)),
            records_dropped_deleted: store.counter(Counter::Dropped(DropReason::Deleted)),
        })
    }

    /// Moves the recorder's readings of the wall clock by `ms`, as NTP or a
    /// user setting the clock would. For tests of the age rule; not part of
    /// the API.
    #[doc(hidden)]
    pub fn shift_wall_clock_for_testing(&self, ms: i64) {
        self.shared.clock.shift_wall_clock(ms);
    }

    /// Sets (or clears) the listener of [`RecorderEvent`]s.
    pub fn set_listener(&self, listener: Option<Arc<dyn RecorderListener>>) {
        self.shared.listeners.set(listener);
    }

    /// The store, locked, while the recorder runs. `shutdown` sets its flag
    /// before it closes the store under this lock, so a call that raced it
    /// gets `ShutDown`, not an error from the closed store.
    fn running_store(&self) -> Result<MutexGuard<'_, Store>, RecorderError> {
        let store = self.shared.lock_store();
        self.ensure_running()?;
        Ok(store)
    }

    fn ensure_running(&self) -> Result<(), RecorderError> {
        if self.shared.is_shutting_down() {
            return Err(RecorderError::ShutDown);
        }
        Ok(())
    }

    /// Commits what is queued, stops the worker (an in-flight request is
    /// abandoned; its records stay and are sent next time), joins the threads
    /// and closes the file, so another recorder may open it. Calls after this
    /// fail with `ShutDown`. Idempotent.
    pub fn shutdown(&self) {
        self.shared.queue.close();
        self.shared.shutting_down.store(true, Ordering::Release);
        self.shared.shutdown_signal.notify_waiters();
        let _ = self.shared.commands.send(Command::Shutdown);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in threads {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        self.shared.lock_store().close();
        // The last events (of the final commit) are delivered first; a
        // listener that never returns is left behind, not waited for.
        if self.shared.listeners.close() {
            if let Some(thread) = self.event_thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
                if thread.thread().id() != std::thread::current().id() {
                    let _ = thread.join();
                }
            }
        }
    }

    /// Moves an unusable store file (and its `-wal`/`-shm` files) aside to
    /// `<path>.corrupt-<unix ms>` so a new store can be created at `path`.
    /// Returns where the old file went. Nothing is deleted.
    pub fn move_aside_store(path: &str) -> Result<String, RecorderError> {
        Ok(crate::store::move_aside(path)?)
    }

    /// The service the store file at `path` belongs to, read without
    /// changing the file: for tools that open stores they did not create
    /// (the CLI's `submit`, `status`, `clear`). `None` when there is no file
    /// yet or no recorder has opened it; an unusable or busy file gives the
    /// error [`Recorder::new`] would.
    pub fn store_service(path: &str) -> Result<Option<Service>, RecorderError> {
        Ok(crate::store::stored_service(path)?)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shutdown();
    }
}
