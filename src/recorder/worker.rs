//! The submission worker: one thread running a small tokio runtime, woken by
//! commands (explicit submit, network change, save past a threshold,
//! shutdown) and by the timer the schedule asks for. It drains stream by
//! stream: read a batch, send it, let the policy judge the answer, settle the
//! records in the store, report.
//!
//! The next batch is read on tokio's blocking pool while the current request
//! is in flight. Delivered rows are deleted afterwards (`Store::compact`), a
//! chunk at a time, whenever nothing else is waiting.
//!
//! Explicit submissions that arrive while a drain runs are coalesced: they
//! all get the report of the next drain, so an app that calls
//! `submit_all_records` after every save costs one drain at a time, not one
//! request per record.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinError;

use super::Shared;
use crate::error::{Error, RecorderError};
use crate::policy::backoff::Backoff;
use crate::policy::batch::{Limits, Packer};
use crate::policy::outcome::{judge_failure, judge_response, Verdict};
use crate::policy::schedule::{next_step, NextStep, WorkerView};
use crate::recorder::events::RecorderEvent;
use crate::recorder::stats::{FailureKind, StreamError, SubmitReport};
use crate::store::Store;
use crate::submission::Entry;
use crate::transport::Transport;

pub(crate) enum Command {
    /// Something changed (saves committed, network state): decide again.
    Wake,
    Submit(oneshot::Sender<Result<SubmitReport, RecorderError>>),
    Shutdown,
}

/// Submission health of one stream, kept across drains.
#[derive(Debug, Clone)]
pub(crate) struct StreamState {
    /// Automatic submission of this stream waits until then.
    pub ready_at: Instant,
    /// Consecutive failed calls, and consecutive batches with rejected records.
    pub call_failures: u32,
    pub record_failures: u32,
    pub last_error: Option<String>,
}

impl StreamState {
    fn new(now: Instant) -> Self {
        StreamState {
            ready_at: now,
            call_failures: 0,
            record_failures: 0,
            last_error: None,
        }
    }
}

/// Whole-call transient failures an explicit submit retries before it gives
/// the stream back to the background schedule.
const EXPLICIT_TRANSIENT_RETRIES: u32 = 2;

/// Delivered rows deleted per compaction transaction: a few milliseconds of
/// the store's lock, so group commits of new saves never wait long.
const COMPACTION_CHUNK: u32 = 2_000;

pub(crate) struct Worker {
    shared: Arc<Shared>,
    transport: Transport,
    commands: mpsc::UnboundedReceiver<Command>,
    last_drain: Instant,
    hold_until: Option<Instant>,
    /// A failed compaction is not tried again before then.
    compaction_hold_until: Option<Instant>,
}

/// How a drain of one stream ended.
enum StreamEnd {
    /// Nothing left to send.
    Drained,
    /// Records were rejected and will be retried after `delay`.
    RecordsRejected { delay: Duration },
    /// The call failed as a whole; the stream's state says when to retry.
    CallFailed { error: StreamError },
    /// Shutdown or network loss interrupted it.
    Interrupted,
}

impl Worker {
    pub fn new(shared: Arc<Shared>, transport: Transport, commands: mpsc::UnboundedReceiver<Command>) -> Self {
        let now = Instant::now();
        // Records left from a previous run are due at once.
        let left_over = shared.lock_store().pending_records() > 0;
        Worker {
            last_drain: if left_over {
                now.checked_sub(shared.config.submit_interval).unwrap_or(now)
            } else {
                now
            },
            shared,
            transport,
            commands,
            hold_until: None,
            compaction_hold_until: None,
        }
    }

    pub async fn run(mut self) {
        loop {
            if self.shared.is_shutting_down() {
                return;
            }
            let view = self.view();
            if view.pending_records == 0 {
                // The interval counts from the first record after an empty spell.
                self.last_drain = view.now;
            }
            let step = match next_step(&WorkerView {
                last_drain: self.last_drain,
                ..view
            }) {
                // A drain that could send nothing is not tried again before
                // the interval: whatever stopped it, the worker never spins.
                NextStep::DrainNow if self.hold_until.is_some_and(|t| t > view.now) => {
                    NextStep::WaitUntil(self.hold_until.unwrap_or(view.now))
                }
                step => step,
            };
            // Compaction fills the gaps: never ahead of a drain or a command.
            if step != NextStep::DrainNow && self.commands.is_empty() && self.compact() {
                continue;
            }
            let command = match step {
                NextStep::DrainNow => {
                    let report = self.drain(false).await;
                    self.last_drain = Instant::now();
                    self.hold_until =
                        (report.requests == 0).then(|| self.last_drain + self.shared.config.submit_interval);
                    // One chunk between drains, so a worker that always has
                    // records to send still gets the delivered ones deleted.
                    self.compact();
                    continue;
                }
                NextStep::WaitUntil(at) => {
                    tokio::select! {
                        command = self.commands.recv() => command,
                        _ = tokio::time::sleep_until(at.into()) => continue,
                    }
                }
                NextStep::Idle => self.commands.recv().await,
            };
            match command {
                None | Some(Command::Shutdown) => return,
                Some(Command::Wake) => {}
                Some(Command::Submit(reply)) => {
                    let mut waiting = vec![reply];
                    let mut shutdown = false;
                    // Coalesce every submit already waiting into this drain.
                    while let Ok(command) = self.commands.try_recv() {
                        match command {
                            Command::Submit(reply) => waiting.push(reply),
                            Command::Wake => {}
                            Command::Shutdown => shutdown = true,
                        }
                    }
                    let report = if shutdown {
                        Err(RecorderError::ShutDown)
                    } else {
                        Ok(self.drain(true).await)
                    };
                    for reply in waiting {
                        let _ = reply.send(report.clone());
                    }
                    if shutdown {
                        return;
                    }
                }
            }
        }
    }

    /// Deletes one chunk of delivered rows; true if there may be more.
    fn compact(&mut self) -> bool {
        let now = Instant::now();
        if self.compaction_hold_until.is_some_and(|t| t > now) {
            return false;
        }
        match self.shared.lock_store().compact(COMPACTION_CHUNK) {
            Ok(more) => more,
            Err(error) => {
                // The rows stay (skipped by every query); try again later.
                tracing::warn!(%error, "cannot delete delivered records");
                self.compaction_hold_until = Some(now + self.shared.config.submit_interval);
                false
            }
        }
    }

    fn view(&self) -> WorkerView {
        let now = Instant::now();
        let config = &self.shared.config;
        let store = self.shared.lock_store();
        let pending = store.pending_streams();
        let states = self.shared.lock_streams();
        let earliest_ready = pending
            .iter()
            .map(|s| states.get(&s.name).map_or(now, |state| state.ready_at))
            .min();
        WorkerView {
            now,
            network_available: self.shared.network_available.load(Ordering::Acquire),
            auto_submit: config.auto_submit,
            pending_records: store.pending_records(),
            pending_bytes: store.pending_bytes(),
            threshold_records: config.submit_threshold_records,
            threshold_bytes: config.submit_threshold_bytes,
            last_drain: self.last_drain,
            interval: config.submit_interval,
            earliest_ready,
        }
    }

    /// Sends what is pending, stream by stream. An explicit drain includes
    /// every record saved before it started, ignores the streams' backoff,
    /// and waits out per-record retries itself; a background drain skips
    /// streams that are backing off and leaves retries to the schedule.
    async fn drain(&mut self, explicit: bool) -> SubmitReport {
        let mut report = SubmitReport::default();
        if explicit {
            if let Err(error) = self.shared.queue.flush() {
                tracing::warn!(%error, "submitting without the records the disk refused");
            }
        }
        self.drop_expired();
        if !self.shared.network_available.load(Ordering::Acquire) {
            report.network_unavailable = true;
            report.records_remaining = self.shared.lock_store().pending_records();
            return report;
        }
        let streams = self.shared.lock_store().pending_streams();
        for stream in streams {
            let now = Instant::now();
            let ready_at = self.shared.lock_streams().get(&stream.name).map_or(now, |s| s.ready_at);
            if !explicit && ready_at > now {
                continue;
            }
            // Per-record retries of an explicit submit are bounded by the
            // attempts limit: every pass costs the rejected records one.
            for _pass in 0..=self.shared.config.max_attempts {
                match self
                    .drain_stream(&stream.name, stream.records, explicit, &mut report)
                    .await
                {
                    StreamEnd::RecordsRejected { delay } if explicit => {
                        if !self.pause(delay).await {
                            break;
                        }
                    }
                    StreamEnd::CallFailed { error, .. } => {
                        report.errors.push(error);
                        break;
                    }
                    _ => break,
                }
            }
            if self.shared.is_shutting_down() {
                break;
            }
        }
        report.records_remaining = self.shared.lock_store().pending_records();
        report
    }

    /// One pass over one stream's records, oldest first, sending at most
    /// `budget` records: those saved during the drain wait for the next one,
    /// so a busy stream cannot starve the streams after it.
    async fn drain_stream(
        &mut self,
        stream: &str,
        budget: u64,
        explicit: bool,
        report: &mut SubmitReport,
    ) -> StreamEnd {
        let config = &self.shared.config;
        let mut sent = 0u64;
        let mut cursor = 0;
        let mut refreshed_credentials = false;
        let mut transient_retries = 0;
        let limits = Limits {
            max_records: config.max_records_per_request,
            max_bytes: config.max_request_bytes,
            max_aggregate_bytes: config.aggregation.then_some(config.max_aggregate_bytes),
        };
        let mut read_ahead = None;
        loop {
            if self.shared.is_shutting_down() || !self.shared.network_available.load(Ordering::Acquire) {
                return StreamEnd::Interrupted;
            }
            if sent >= budget {
                return StreamEnd::Drained;
            }
            let read_now = || read_batch(&self.shared.lock_store(), stream, cursor, limits);
            let batch = match read_ahead.take() {
                Some(read) => match read_result(read.await) {
                    Ok(ahead) => {
                        let cleared = ahead.clears != self.shared.lock_store().clears();
                        // The app cleared the store since it was read: read again.
                        if cleared {
                            read_now()
                        } else {
                            Ok(ahead.records)
                        }
                    }
                    Err(error) => Err(error),
                },
                None => read_now(),
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(error) => return call_end(stream, Failure::new(FailureKind::Storage, None, error.to_string())),
            };
            // Records are read in id order: the last one read has the highest.
            let Some(last_id) = batch.iter().flat_map(Entry::records).map(|r| r.id).max() else {
                return StreamEnd::Drained;
            };
            let records = batch.iter().map(|e| e.records().len() as u64).sum::<u64>();
            // Read the batch after this one while this one is in flight; it
            // is used only if this one is delivered in full.
            let next = (sent + records < budget).then(|| {
                let (shared, stream) = (self.shared.clone(), stream.to_owned());
                tokio::task::spawn_blocking(move || {
                    let store = shared.lock_store();
                    Ok(ReadAhead {
                        clears: store.clears(),
                        records: read_batch(&store, &stream, last_id, limits)?,
                    })
                })
            });
            report.requests += 1;
            let answer = tokio::select! {
                answer = self.transport.put_records(stream, &batch) => answer,
                _ = self.shared.shutdown_signal.notified() => return StreamEnd::Interrupted,
            };
            let verdict = match &answer {
                Ok(results) => judge_response(&batch, results, config.max_attempts),
                Err(failure) => judge_failure(failure),
            };
            if !matches!(verdict, Verdict::Settled(_)) {
                if let Err(error) = self.shared.lock_store().count_failed_request() {
                    tracing::warn!(%error, "cannot update the request counters");
                }
            }
            match verdict {
                Verdict::Settled(settlement) => {
                    let dropped = match self.shared.lock_store().settle(stream, &settlement) {
                        Ok(dropped) => dropped,
                        Err(error) => {
                            // The records stay and will be sent again: at-least-once.
                            tracing::error!(%error, "cannot record a submission");
                            return call_end(stream, Failure::new(FailureKind::Storage, None, error.to_string()));
                        }
                    };
                    self.shared.refresh_committed_bytes();
                    let delivered = settlement.delivered.len() as u64;
                    report.records_submitted += delivered;
                    report.kinesis_records_submitted += settlement.kinesis_records;
                    report.records_retried += settlement.retry.len() as u64;
                    report.records_dropped += dropped.total();
                    if delivered > 0 {
                        tracing::debug!(stream, delivered, "records submitted");
                        self.shared.listeners.emit(RecorderEvent::RecordsSubmitted {
                            stream_name: stream.to_owned(),
                            count: delivered,
                        });
                    }
                    self.shared.listeners.emit_dropped(&dropped);
                    let rejected = settlement.retry.len() + settlement.exhausted.len();
                    let mut states = self.shared.lock_streams();
                    let state = states
                        .entry(stream.to_owned())
                        .or_insert_with(|| StreamState::new(Instant::now()));
                    state.call_failures = 0;
                    if rejected == 0 {
                        state.record_failures = 0;
                        state.last_error = None;
                        state.ready_at = Instant::now();
                        sent += records;
                        cursor = last_id;
                        read_ahead = next;
                        continue;
                    }
                    // Rejected records (throttling above all) mean the stream
                    // needs a pause: stop this pass, retry after the backoff.
                    state.record_failures += 1;
                    let delay = Backoff::RECORD_REJECTED.delay(state.record_failures, jitter());
                    state.ready_at = Instant::now() + delay;
                    state.last_error = Some(format!(
                        "{rejected} of {records} records rejected ({} throttled)",
                        settlement.throttled
                    ));
                    return StreamEnd::RecordsRejected { delay };
                }
                Verdict::RefreshCredentials { reason } if !refreshed_credentials => {
                    tracing::info!(stream, %reason, "credentials expired; refreshing");
                    self.transport.invalidate_credentials().await;
                    refreshed_credentials = true;
                }
                Verdict::RetryLater { reason, throttled } => {
                    let kind = if throttled {
                        FailureKind::Throttled
                    } else {
                        FailureKind::Network
                    };
                    let failure = Failure::new(kind, None, reason);
                    let delay = self.call_failed(stream, Backoff::TRANSIENT, &failure, true);
                    if explicit && transient_retries < EXPLICIT_TRANSIENT_RETRIES {
                        transient_retries += 1;
                        if self.pause(delay).await {
                            continue;
                        }
                    }
                    tracing::debug!(stream, throttled, "call failed, will retry");
                    return call_end(stream, failure);
                }
                Verdict::RefreshCredentials { reason } => {
                    let failure = Failure::new(
                        FailureKind::Credentials,
                        Some("ExpiredToken".to_owned()),
                        format!("the credentials were refused as expired even after a refresh: {reason}"),
                    );
                    self.call_failed(stream, Backoff::TRANSIENT, &failure, true);
                    return call_end(stream, failure);
                }
                Verdict::CredentialsUnavailable { message } => {
                    let failure = Failure::new(FailureKind::Credentials, None, message);
                    self.call_failed(stream, Backoff::TRANSIENT, &failure, true);
                    return call_end(stream, failure);
                }
                Verdict::StreamRejected { code, message } => {
                    tracing::warn!(stream, %code, %message, "the service rejected the stream's requests");
                    let failure = Failure::new(FailureKind::StreamRejected, Some(code), message);
                    self.call_failed(stream, Backoff::STREAM_REJECTED, &failure, false);
                    return call_end(stream, failure);
                }
            }
        }
    }

    /// Records a failed call in the stream's state, reports it, and returns
    /// the backoff delay.
    fn call_failed(&self, stream: &str, backoff: Backoff, failure: &Failure, will_retry: bool) -> Duration {
        let delay = {
            let mut states = self.shared.lock_streams();
            let state = states
                .entry(stream.to_owned())
                .or_insert_with(|| StreamState::new(Instant::now()));
            state.call_failures += 1;
            let delay = backoff.delay(state.call_failures, jitter());
            state.ready_at = Instant::now() + delay;
            state.last_error = Some(match &failure.code {
                Some(code) => format!("{code}: {}", failure.message),
                None => failure.message.clone(),
            });
            delay
        };
        self.shared.listeners.emit(RecorderEvent::SubmissionFailed {
            stream_name: stream.to_owned(),
            kind: failure.kind,
            code: failure.code.clone(),
            message: failure.message.clone(),
            will_retry,
        });
        delay
    }

    /// Sleeps, unless shutdown comes first; false when interrupted.
    async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => !self.shared.is_shutting_down(),
            _ = self.shared.shutdown_signal.notified() => false,
        }
    }

    fn drop_expired(&self) {
        let Some(max_age) = self.shared.config.max_record_age else {
            return;
        };
        let cutoff = now_ms() - max_age.as_millis() as i64;
        let dropped = self.shared.lock_store().drop_expired(cutoff);
        match dropped {
            Ok(dropped) => {
                self.shared.refresh_committed_bytes();
                self.shared.listeners.emit_dropped(&dropped);
            }
            Err(error) => tracing::error!(%error, "cannot drop expired records"),
        }
    }
}

/// A failed call as the app hears of it.
struct Failure {
    kind: FailureKind,
    code: Option<String>,
    message: String,
}

impl Failure {
    fn new(kind: FailureKind, code: Option<String>, message: String) -> Self {
        Failure { kind, code, message }
    }
}

fn call_end(stream: &str, failure: Failure) -> StreamEnd {
    StreamEnd::CallFailed {
        error: StreamError {
            stream_name: stream.to_owned(),
            kind: failure.kind,
            code: failure.code,
            message: failure.message,
        },
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The records of `stream` after `after_id` that fit in one request, in
/// the Kinesis records they travel in.
fn read_batch(store: &Store, stream: &str, after_id: i64, limits: Limits) -> crate::error::Result<Vec<Entry>> {
    let mut packer = Packer::new(limits);
    let records = store.next_batch(stream, after_id, packer.max_rows(), |record| packer.try_add(record))?;
    Ok(packer.into_entries(records))
}

/// A batch read on the blocking pool while the one before it is in flight.
struct ReadAhead {
    /// The store's clear count when it was read.
    clears: u64,
    records: Vec<Entry>,
}

/// A read ahead that panicked is a storage failure.
fn read_result(read: Result<crate::error::Result<ReadAhead>, JoinError>) -> crate::error::Result<ReadAhead> {
    read.unwrap_or_else(|error| {
        Err(Error::Io {
            context: "reading a batch",
            source: std::io::Error::other(error),
        })
    })
}

fn jitter() -> f64 {
    rand::rng().random::<f64>()
}

/// Backoff states as the stats show them.
pub(crate) fn retry_in(states: &HashMap<String, StreamState>, stream: &str, now: Instant) -> Option<Duration> {
    states
        .get(stream)
        .and_then(|s| s.ready_at.checked_duration_since(now))
        .filter(|d| !d.is_zero())
}
