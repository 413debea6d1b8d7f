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

use crate::config::{RecorderConfig, WhenFull};
use crate::error::{Error, RecorderError};
use crate::record;
use crate::store::Store;
use crate::transport::{wire, CredentialsProvider, Transport};
pub use events::{RecorderEvent, RecorderListener};
pub use stats::{FailureKind, RecorderStats, StreamError, StreamStats, SubmitReport};
use worker::{Command, StreamState, Worker};
use writer::SaveQueue;

/// One record for [`Recorder::save_records`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Record))]
pub struct RecordToSave {
    pub data: Vec<u8>,
    pub stream_name: String,
    /// None: a random UUID.
    pub partition_key: Option<String>,
    pub explicit_hash_key: Option<String>,
}

/// State shared by the API, the writer thread and the worker.
pub(crate) struct Shared {
    config: RecorderConfig,
    store: Mutex<Store>,
    queue: SaveQueue,
    /// Stored bytes, readable without the store lock.
    committed_bytes: AtomicU64,
    network_available: AtomicBool,
    shutting_down: AtomicBool,
    shutdown_signal: Notify,
    streams: Mutex<HashMap<String, StreamState>>,
    listeners: events::Listeners,
    commands: mpsc::UnboundedSender<Command>,
}

impl Shared {
    fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_streams(&self) -> MutexGuard<'_, HashMap<String, StreamState>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_worker(&self) {
        let _ = self.commands.send(Command::Wake);
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    fn refresh_committed_bytes(&self) {
        let bytes = self.lock_store().pending_bytes();
        self.committed_bytes.store(bytes, Ordering::Release);
    }
}

/// An offline-first recorder for one Kinesis data stream endpoint (any number
/// of streams). Cheap to share (`Arc<Recorder>`), safe to call from any
/// thread. Dropping it shuts it down.
pub struct Recorder {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Recorder {
    /// Opens (or creates) the store and starts the background threads.
    ///
    /// This opens the SQLite file, so call it once at start-up, off the UI
    /// thread if you can (it takes milliseconds). A file that is not a
    /// usable store gives `StorageFailure`; [`Recorder::move_aside_store`]
    /// moves it out of the way so a new store can be created.
    pub fn new(config: RecorderConfig, credentials: Arc<dyn CredentialsProvider>) -> Result<Recorder, RecorderError> {
        config.validate()?;
        let api = wire::put_records(config.wire_format);
        if config.aggregation && !api.reads_aggregates {
            return Err(Error::invalid(
                "aggregation",
                format!(
                    "KPL aggregation is for Kinesis Data Streams; {} would keep the aggregates as they are",
                    api.signing_name
                ),
            )
            .into());
        }
        let transport = Transport::new(&config, api, credentials)?;
        let store = Store::open(&config.database_path)?;
        transport.bind_credentials_to_store(&config)?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            committed_bytes: AtomicU64::new(store.pending_bytes()),
            config,
            store: Mutex::new(store),
            queue: SaveQueue::default(),
            network_available: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
            shutdown_signal: Notify::new(),
            streams: Mutex::new(HashMap::new()),
            listeners: events::Listeners::default(),
            commands,
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            // The blocking pool, which reads the next batch during a request.
            .thread_name("kr-reader")
            .build()
            .map_err(|source| Error::Io {
                context: "starting the submission runtime",
                source,
            })?;
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
        })
    }

    /// Saves a record for `stream_name`. A missing partition key becomes a
    /// random UUID (records spread evenly over shards).
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
            data,
            stream_name,
            partition_key,
            explicit_hash_key,
            self.shared.config.max_record_bytes,
            worker::now_ms(),
        )?;
        self.queue(std::iter::once(record))
    }

    /// Saves many records in one call (one FFI crossing from Kotlin or
    /// Swift): all are validated first, and either all are queued or none.
    /// An invalid one gives `InvalidInput` naming its index.
    pub fn save_records(&self, records: Vec<RecordToSave>) -> Result<(), RecorderError> {
        let now = worker::now_ms();
        let max = self.shared.config.max_record_bytes;
        let records = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                record::new_record(r.data, &r.stream_name, r.partition_key, r.explicit_hash_key, max, now)
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
    /// SQLite file. For shutdown paths and tests; never needed for delivery.
    pub fn flush(&self) -> Result<(), RecorderError> {
        Ok(self.shared.queue.flush()?)
    }

    /// Submits everything pending now, stream by stream, and reports what
    /// happened. Records saved before the call are included. Calls made while
    /// a submission runs share the next one.
    pub async fn submit_all_records(&self) -> Result<SubmitReport, RecorderError> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .commands
            .send(Command::Submit(reply))
            .map_err(|_| RecorderError::ShutDown)?;
        answer.await.map_err(|_| RecorderError::ShutDown)?
    }

    /// Asks the worker to submit soon, without waiting for it.
    pub fn request_submit(&self) {
        let (reply, _) = oneshot::channel();
        let _ = self.shared.commands.send(Command::Submit(reply));
    }

    /// Tells the recorder whether the device is online. While it is not, the
    /// worker makes no network attempt and no record spends an attempt; when
    /// it comes back, pending records are submitted at once.
    pub fn set_network_available(&self, available: bool) {
        let was = self.shared.network_available.swap(available, Ordering::AcqRel);
        if was != available {
            tracing::debug!(available, "network availability changed");
            if available {
                // Backoffs taken while offline say nothing about the new network.
                let now = Instant::now();
                for state in self.shared.lock_streams().values_mut() {
                    if state.last_error.is_some() && state.call_failures > 0 && state.record_failures == 0 {
                        state.ready_at = state.ready_at.min(now);
                    }
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
        let dropped = self.shared.lock_store().delete_all()?;
        self.shared.refresh_committed_bytes();
        self.shared.listeners.emit_dropped(&dropped);
        Ok(dropped.total())
    }

    /// Bytes stored (data + partition keys of pending records): exact, and
    /// free to call.
    pub fn disk_bytes_used(&self) -> u64 {
        self.shared.committed_bytes.load(Ordering::Acquire)
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
        let now_ms = worker::now_ms();
        let age = |created: Option<i64>| created.map(|c| Duration::from_millis(now_ms.saturating_sub(c).max(0) as u64));
        let store = self.shared.lock_store();
        let states = self.shared.lock_streams().clone();
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
            queued_records,
            oldest_pending_age: oldest,
            streams,
            network_available: self.shared.network_available.load(Ordering::Acquire),
            records_submitted: store.counter(Counter::Submitted),
            kinesis_records_submitted: store.counter(Counter::KinesisRecordsSubmitted),
            records_retried: store.counter(Counter::Retried),
            records_throttled: store.counter(Counter::Throttled),
            requests_sent: store.counter(Counter::RequestsSent),
            requests_failed: store.counter(Counter::RequestsFailed),
            records_dropped_storage_full: store.counter(Counter::Dropped(DropReason::StorageFull)),
            records_dropped_expired: store.counter(Counter::Dropped(DropReason::Expired)),
            records_dropped_attempts_exhausted: store.counter(Counter::Dropped(DropReason::AttemptsExhausted)),
            records_dropped_deleted: store.counter(Counter::Dropped(DropReason::Deleted)),
        })
    }

    /// Sets (or clears) the listener of [`RecorderEvent`]s.
    pub fn set_listener(&self, listener: Option<Arc<dyn RecorderListener>>) {
        self.shared.listeners.set(listener);
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
    }

    /// Moves an unusable store file (and its `-wal`/`-shm` files) aside to
    /// `<path>.corrupt-<unix ms>` so a new store can be created at `path`.
    /// Returns where the old file went. Nothing is deleted.
    pub fn move_aside_store(path: &str) -> Result<String, RecorderError> {
        Ok(crate::store::move_aside(path)?)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.shutdown();
    }
}
