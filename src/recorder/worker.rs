//! The submission worker: one thread running a small tokio runtime, carrying
//! out what `policy` decides. The schedule says which streams are due and
//! when to look again (`policy::schedule::plan`); the due streams take turns
//! in a drain, one batch each (`next_turn`); each answer is judged
//! (`policy::outcome`), settled in the store, reported, and recorded in the
//! stream's state (`policy::stream`), which says when it may send again.
//!
//! Commands wake it: a save that made a stream due, a network change, an
//! explicit submit, shutdown. It reads them between two requests, so an
//! explicit submit joins the drain under way at once, and each caller gets
//! its report by its deadline, in the middle of a long drain too; the
//! records not sent by then stay pending.
//!
//! The next batch is read on tokio's blocking pool while the current request
//! is in flight. Delivered rows are deleted afterwards (`Store::compact`), a
//! chunk at a time, whenever nothing else is waiting.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinHandle};

use super::Shared;
use crate::config::RecorderConfig;
use crate::error::{Error, RecorderError};
use crate::policy::backoff::Backoff;
use crate::policy::batch::{Limits, Packer};
use crate::policy::outcome::{judge_failure, judge_response, Verdict};
use crate::policy::schedule::{self, next_turn, Conditions, Mode, Pending, Share, Turn};
use crate::policy::stream::{HoldReason, Outcome, StreamState};
use crate::recorder::events::RecorderEvent;
use crate::recorder::stats::{FailureKind, StreamError, SubmitReport};
use crate::store::{Counter, SendGate, Store, COMPACTION_CHUNK};
use crate::submission::Entry;
use crate::transport::Transport;

pub(crate) enum Command {
    /// Something changed (saves committed, network state): decide again.
    Wake,
    /// Submit everything pending now; answer by `deadline` at the latest.
    Submit {
        reply: oneshot::Sender<Result<SubmitReport, RecorderError>>,
        deadline: Instant,
    },
    Shutdown,
}

/// A caller of `submit_all_records` waiting for its report.
struct Waiter {
    reply: oneshot::Sender<Result<SubmitReport, RecorderError>>,
    deadline: Instant,
    /// What happened since it joined.
    report: SubmitReport,
}

/// One stream's part in the drain under way.
struct Part {
    stream: String,
    share: Share,
    /// Records up to this id were read by this drain and delivered.
    cursor: i64,
    refreshed_credentials: bool,
    /// The failure that ended its part, for callers who join later.
    error: Option<StreamError>,
    /// Its end was recorded in the stream's state.
    closed: bool,
}

impl Part {
    fn new(stream: String, share: Share) -> Self {
        Part {
            stream,
            share,
            cursor: 0,
            refreshed_credentials: false,
            error: None,
            closed: false,
        }
    }
}

/// The drain under way: the streams taking turns and the callers waiting.
/// Empty when the worker is idle.
#[derive(Default)]
struct Drain {
    parts: Vec<Part>,
    last_turn: Option<usize>,
    waiters: Vec<Waiter>,
    read_ahead: Option<ReadAhead>,
}

impl Drain {
    fn is_empty(&self) -> bool {
        self.parts.is_empty() && self.waiters.is_empty()
    }

    fn each_report(&mut self, mut f: impl FnMut(&mut SubmitReport)) {
        for waiter in &mut self.waiters {
            f(&mut waiter.report);
        }
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.waiters.iter().map(|w| w.deadline).min()
    }

    /// Answers the callers whose deadline is `at` or before: nothing more
    /// can happen for them in time. With no caller left, the streams asked
    /// for explicitly stop; those the schedule made due go on.
    fn answer_before(&mut self, at: Instant, shared: &Shared) {
        if !self.waiters.iter().any(|w| w.deadline <= at) {
            return;
        }
        let remaining = shared.lock_store().pending_records();
        for waiter in extract(&mut self.waiters, |w| w.deadline <= at) {
            let mut report = waiter.report;
            report.records_remaining = remaining;
            report.deadline_reached = true;
            let _ = waiter.reply.send(Ok(report));
        }
        if self.waiters.is_empty() {
            for part in &mut self.parts {
                if part.share.mode == Mode::Explicit {
                    part.share.finished = true;
                }
            }
        }
    }

    /// Answers every caller with what happened.
    fn answer_all(&mut self, shared: &Shared, network_unavailable: bool) {
        if self.waiters.is_empty() {
            return;
        }
        let remaining = shared.lock_store().pending_records();
        for waiter in self.waiters.drain(..) {
            let mut report = waiter.report;
            report.records_remaining = remaining;
            report.network_unavailable |= network_unavailable;
            let _ = waiter.reply.send(Ok(report));
        }
    }
}

/// Removes and returns the items of `items` that match.
fn extract<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool) -> Vec<T> {
    let (taken, kept) = std::mem::take(items).into_iter().partition(|item| matches(item));
    *items = kept;
    taken
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    transport: Transport,
    commands: mpsc::UnboundedReceiver<Command>,
    drain: Drain,
    /// A failed compaction is not tried again before then.
    compaction_hold_until: Option<Instant>,
    /// Where each send is checked against clears (see `store::settling`).
    send_gate: Arc<SendGate>,
}

impl Worker {
    pub fn new(shared: Arc<Shared>, transport: Transport, commands: mpsc::UnboundedReceiver<Command>) -> Self {
        // Records left from a previous run are due at once.
        let (left_over, send_gate) = {
            let store = shared.lock_store();
            (store.pending_streams(), store.send_gate())
        };
        {
            let mut states = shared.lock_streams();
            for account in left_over {
                states.entry(account.name).or_default().send_at_once = true;
            }
        }
        Worker {
            shared,
            transport,
            commands,
            drain: Drain::default(),
            compaction_hold_until: None,
            send_gate,
        }
    }

    pub async fn run(mut self) {
        loop {
            while let Ok(command) = self.commands.try_recv() {
                if !self.obey(command) {
                    return self.stop();
                }
            }
            if self.shared.is_shutting_down() {
                return self.stop();
            }
            if !self.shared.network_available.load(Ordering::Acquire) && !self.drain.is_empty() {
                // Offline: no request at all. The callers hear it; the
                // streams keep their state for when the network is back.
                self.drain.answer_all(&self.shared, true);
                self.drain = Drain::default();
            }
            let now = Instant::now();
            self.drain.answer_before(now, &self.shared);
            let schedule_wakes_at = self.add_due_streams(now);
            let ready = self.ready_list(now);
            let wake_at = match next_turn(&ready, self.drain.last_turn, now) {
                Turn::Send(index) => {
                    self.drain.last_turn = Some(index);
                    self.turn(index, &ready).await;
                    continue;
                }
                Turn::WaitUntil(at) => {
                    // Only streams asked for explicitly wait out a backoff.
                    self.drain.answer_before(at, &self.shared);
                    if self.drain.waiters.is_empty() {
                        continue;
                    }
                    Some(at)
                }
                Turn::Done if !self.drain.is_empty() => {
                    self.drain.answer_all(&self.shared, false);
                    self.drain = Drain::default();
                    // One chunk between drains, so a worker that always has
                    // records to send still gets the delivered ones deleted.
                    self.compact();
                    continue;
                }
                Turn::Done => {
                    // Compaction fills the gaps: never ahead of a command.
                    if self.commands.is_empty() && self.compact() {
                        continue;
                    }
                    None
                }
            };
            let wake_at = [wake_at, schedule_wakes_at, self.drain.earliest_deadline()]
                .into_iter()
                .flatten()
                .min();
            let command = match wake_at {
                Some(at) => tokio::select! {
                    command = self.commands.recv() => command,
                    _ = tokio::time::sleep_until(at.into()) => continue,
                },
                None => self.commands.recv().await,
            };
            if !command.is_some_and(|command| self.obey(command)) {
                return self.stop();
            }
        }
    }

    /// Carries out a command; false means stop.
    fn obey(&mut self, command: Command) -> bool {
        match command {
            Command::Wake => true,
            Command::Submit { reply, deadline } => {
                self.join(reply, deadline);
                true
            }
            Command::Shutdown => false,
        }
    }

    /// Shutdown: the callers get what happened so far; the records not
    /// delivered stay for the next run.
    fn stop(&mut self) {
        self.drain.answer_all(&self.shared, false);
    }

    /// An explicit submit: every record saved before it, every stream once
    /// even while held back, added to the drain under way.
    fn join(&mut self, reply: oneshot::Sender<Result<SubmitReport, RecorderError>>, deadline: Instant) {
        if let Err(error) = self.shared.queue.flush() {
            tracing::warn!(%error, "submitting without the records the disk refused");
        }
        self.drop_expired();
        let mut report = SubmitReport::default();
        if !self.shared.network_available.load(Ordering::Acquire) {
            report.network_unavailable = true;
            report.records_remaining = self.shared.lock_store().pending_records();
            let _ = reply.send(Ok(report));
            return;
        }
        // Streams that already failed in this drain are not asked again.
        report.errors = self.drain.parts.iter().filter_map(|p| p.error.clone()).collect();
        for account in self.shared.lock_store().pending_streams() {
            match self.drain.parts.iter_mut().find(|p| p.stream == account.name) {
                Some(part) => {
                    part.share.make_explicit(account.records);
                    part.closed &= part.share.finished;
                }
                None => self
                    .drain
                    .parts
                    .push(Part::new(account.name, Share::new(Mode::Explicit, account.records))),
            }
        }
        self.drain.waiters.push(Waiter {
            reply,
            deadline,
            report,
        });
    }

    /// Adds the streams the background schedule says are due to the drain;
    /// returns when the next of the others is due.
    fn add_due_streams(&mut self, now: Instant) -> Option<Instant> {
        let config = &self.shared.config;
        let conditions = Conditions {
            now,
            network_available: self.shared.network_available.load(Ordering::Acquire),
            auto_submit: config.auto_submit,
            interval: config.submit_interval,
            thresholds: self.shared.thresholds(),
            account_held_until: self.shared.lock_account().holds_until(now),
        };
        let pending = self.shared.lock_store().pending_streams();
        let plan = {
            let mut states = self.shared.lock_streams();
            for (name, state) in states.iter_mut() {
                if !pending.iter().any(|account| &account.name == name) {
                    state.observe(false, now);
                }
            }
            for account in &pending {
                match states.get_mut(&account.name) {
                    Some(state) => state.observe(true, now),
                    None => {
                        let mut state = StreamState::default();
                        state.observe(true, now);
                        states.insert(account.name.clone(), state);
                    }
                }
            }
            let default = StreamState::default();
            schedule::plan(
                &conditions,
                pending.iter().map(|account| {
                    let pending = Pending {
                        records: account.records,
                        bytes: account.bytes,
                    };
                    (pending, states.get(&account.name).unwrap_or(&default))
                }),
            )
        };
        if !plan.due.is_empty() && self.drain.parts.is_empty() {
            self.drop_expired();
        }
        for (index, why) in plan.due {
            let account = &pending[index];
            let part = Part::new(account.name.clone(), Share::new(Mode::Background(why), account.records));
            match self.drain.parts.iter_mut().find(|p| p.stream == account.name) {
                Some(running) if !running.closed => {}
                Some(ended) => *ended = part,
                None => self.drain.parts.push(part),
            }
        }
        plan.wake_at
    }

    /// When each stream of the drain may send next (None: it wants no
    /// more). A stream whose part just ended has its state told.
    fn ready_list(&mut self, now: Instant) -> Vec<Option<Instant>> {
        let thresholds = self.shared.thresholds();
        let pending: Vec<Pending> = {
            let store = self.shared.lock_store();
            self.drain.parts.iter().map(|p| pending_in(&store, &p.stream)).collect()
        };
        let mut ended = Vec::new();
        let ready = self
            .drain
            .parts
            .iter_mut()
            .zip(pending)
            .map(|(part, pending)| {
                let at = part.share.ready_at(&thresholds, pending, now);
                if at.is_none() && !part.closed {
                    part.share.finished = true;
                    part.closed = true;
                    ended.push(part.stream.clone());
                }
                at
            })
            .collect();
        if !ended.is_empty() {
            let mut states = self.shared.lock_streams();
            for stream in ended {
                states.entry(stream).or_default().drained(now);
            }
        }
        ready
    }

    /// One turn: the next batch of the stream at `index`, sent, judged,
    /// settled and reported.
    async fn turn(&mut self, index: usize, ready: &[Option<Instant>]) {
        let limits = packing_limits(&self.shared.config);
        let stream = self.drain.parts[index].stream.clone();
        let cursor = self.drain.parts[index].cursor;
        let read_now = || read_batch(&self.shared.lock_store(), &stream, cursor, limits);
        let batch = match self.drain.read_ahead.take() {
            Some(ahead) if ahead.stream == stream && ahead.after_id == cursor => read_result(ahead.task.await),
            _ => read_now(),
        };
        let Batch { clears, records: batch } = match batch {
            Ok(batch) => batch,
            Err(error) => {
                let failure = Failure::new(FailureKind::Storage, None, error.to_string());
                return self.call_failed(index, HoldReason::Storage, failure);
            }
        };
        // Records are read in id order: the last one read has the highest.
        let Some(last_id) = batch.iter().flat_map(Entry::records).map(|r| r.id).max() else {
            let part = &mut self.drain.parts[index];
            part.share.finished = true;
            if part.share.requests == 0 {
                let interval = self.shared.config.submit_interval;
                let mut states = self.shared.lock_streams();
                states.entry(stream).or_default().nothing_sent(Instant::now(), interval);
            }
            return;
        };
        let records = batch.iter().map(|entry| entry.records().len()).sum::<usize>();
        self.read_ahead(index, ready, &batch, last_id);

        let answer = {
            // The app may clear the store while the credentials are fetched:
            // the batch is checked against that right before it leaves.
            let before_send = || self.send_gate.begin_send(&stream, &batch, clears);
            let send = self.transport.put_records(&stream, &batch, before_send);
            tokio::pin!(send);
            loop {
                let deadline = self.drain.earliest_deadline();
                tokio::select! {
                    answer = &mut send => break Some(answer),
                    _ = self.shared.shutdown_signal.notified() => break None,
                    // A caller's deadline passes while the request is in
                    // flight: it gets its report; the request goes on.
                    _ = sleep_until(deadline) => self.drain.answer_before(Instant::now(), &self.shared),
                }
            }
        };
        self.count_clock_corrections();
        let Some(answer) = answer else {
            return;
        };
        let Some(answer) = answer else {
            // Cleared since it was read: the next turn reads again, from
            // after the clear.
            match self.shared.lock_store().withdraw_send() {
                Ok(dropped) => self.shared.listeners.emit_dropped(&dropped),
                Err(error) => tracing::warn!(%error, "cannot update the counters"),
            }
            return;
        };
        self.drain.each_report(|r| r.requests += 1);
        let verdict = match &answer {
            Ok(results) => judge_response(
                self.shared.config.service,
                &batch,
                results,
                self.shared.config.max_attempts,
            ),
            Err(failure) => judge_failure(self.shared.config.service, failure),
        };
        if !matches!(verdict, Verdict::Settled(_)) {
            match self.shared.lock_store().count_failed_request() {
                Ok(dropped) => self.shared.listeners.emit_dropped(&dropped),
                Err(error) => tracing::warn!(%error, "cannot update the request counters"),
            }
        }
        match verdict {
            Verdict::Settled(settlement) => {
                let settled = self.shared.lock_store().settle(&stream, &settlement);
                let dropped = match settled {
                    Ok(dropped) => dropped,
                    Err(error) => {
                        // The records stay and will be sent again: at-least-once.
                        tracing::error!(%error, "cannot record a submission");
                        let failure = Failure::new(FailureKind::Storage, None, error.to_string());
                        return self.call_failed(index, HoldReason::Storage, failure);
                    }
                };
                self.shared.refresh_committed_bytes();
                let delivered = settlement.delivered.len() as u64;
                let retried = (settlement.retry.len() + settlement.throttled.len()) as u64;
                self.drain.each_report(|r| {
                    r.records_submitted += delivered;
                    r.kinesis_records_submitted += settlement.kinesis_records;
                    r.records_retried += retried;
                    r.records_dropped += dropped.total();
                });
                if delivered > 0 {
                    tracing::debug!(stream, delivered, "records submitted");
                    self.shared.listeners.emit(RecorderEvent::RecordsSubmitted {
                        stream_name: stream.clone(),
                        count: delivered,
                    });
                }
                self.shared.listeners.emit_dropped(&dropped);
                self.shared.lock_account().succeeded();
                let rejected = settlement.retry.len() + settlement.throttled.len() + settlement.exhausted.len();
                let outcome = if rejected == 0 {
                    Outcome::Delivered
                } else {
                    // Refused records mean the stream needs a pause (a busy
                    // shard above all): they go again after the backoff.
                    Outcome::RecordsRefused {
                        all_throttled: rejected == settlement.throttled.len(),
                    }
                };
                let now = Instant::now();
                {
                    let mut states = self.shared.lock_streams();
                    let state = states.entry(stream.clone()).or_default();
                    state.record(outcome, now, jitter());
                    if rejected > 0 {
                        state.last_error = Some(format!(
                            "{rejected} of {records} records rejected ({} throttled)",
                            settlement.throttled.len()
                        ));
                    }
                }
                let part = &mut self.drain.parts[index];
                part.share.after(outcome, delivered, now, jitter());
                if rejected == 0 {
                    part.cursor = last_id;
                }
            }
            Verdict::RefreshCredentials { reason } if !self.drain.parts[index].refreshed_credentials => {
                tracing::info!(stream, %reason, "credentials expired; refreshing");
                self.transport.invalidate_credentials().await;
                self.drain.parts[index].refreshed_credentials = true;
            }
            Verdict::RetryLater { reason, throttled } => {
                tracing::debug!(stream, throttled, "call failed, will retry");
                let (kind, hold) = if throttled {
                    (FailureKind::Throttled, HoldReason::Throttled)
                } else {
                    (FailureKind::Network, HoldReason::Network)
                };
                self.call_failed(index, hold, Failure::new(kind, None, reason));
            }
            Verdict::RefreshCredentials { reason } => {
                let failure = Failure::new(
                    FailureKind::Credentials,
                    Some("ExpiredToken".to_owned()),
                    format!("the credentials were refused as expired even after a refresh: {reason}"),
                );
                self.account_failed(index, Backoff::TRANSIENT, failure);
            }
            Verdict::CredentialsUnavailable { message } => {
                let failure = Failure::new(FailureKind::Credentials, None, message);
                self.account_failed(index, Backoff::TRANSIENT, failure);
            }
            Verdict::AccountRejected { code, message } => {
                tracing::warn!(stream, %code, %message, "the service refused the credentials");
                let failure = Failure::new(FailureKind::Credentials, Some(code), message);
                self.account_failed(index, Backoff::STREAM_REJECTED, failure);
            }
            Verdict::StreamRejected { code, message } => {
                tracing::warn!(stream, %code, %message, "the service rejected the stream's requests");
                let failure = Failure::new(FailureKind::StreamRejected, Some(code), message);
                self.call_failed(index, HoldReason::Refused, failure);
            }
        }
    }

    /// Reads the batch of the turn after this one while this one is in
    /// flight, assuming this one is delivered in full; it is used only if
    /// that turn comes as foreseen.
    fn read_ahead(&mut self, index: usize, ready: &[Option<Instant>], batch: &[Entry], last_id: i64) {
        let now = Instant::now();
        let part = &self.drain.parts[index];
        let pending = pending_in(&self.shared.lock_store(), &part.stream);
        let records = batch.iter().flat_map(Entry::records);
        let sent = Pending {
            records: pending.records.saturating_sub(records.clone().count() as u64),
            bytes: pending.bytes.saturating_sub(records.clone().map(|r| r.size).sum()),
        };
        let mut share = part.share.clone();
        share.delivered += records.count() as u64;
        let mut foreseen = ready.to_vec();
        foreseen[index] = share.ready_at(&self.shared.thresholds(), sent, now);
        let Turn::Send(next) = next_turn(&foreseen, Some(index), now) else {
            return;
        };
        let after_id = if next == index {
            last_id
        } else {
            self.drain.parts[next].cursor
        };
        let (shared, stream) = (self.shared.clone(), self.drain.parts[next].stream.clone());
        let limits = packing_limits(&shared.config);
        let task = {
            let stream = stream.clone();
            tokio::task::spawn_blocking(move || read_batch(&shared.lock_store(), &stream, after_id, limits))
        };
        self.drain.read_ahead = Some(ReadAhead { stream, after_id, task });
    }

    /// A call failed as a whole: the stream's state backs it off, the app
    /// hears of it, and the drain decides whether the stream goes on.
    fn call_failed(&mut self, index: usize, reason: HoldReason, failure: Failure) {
        let stream = self.drain.parts[index].stream.clone();
        let now = Instant::now();
        {
            let mut states = self.shared.lock_streams();
            let state = states.entry(stream.clone()).or_default();
            state.record(Outcome::CallFailed(reason), now, jitter());
            state.last_error = Some(failure.describe());
        }
        self.shared.listeners.emit(RecorderEvent::SubmissionFailed {
            stream_name: stream.clone(),
            kind: failure.kind,
            code: failure.code.clone(),
            message: failure.message.clone(),
            will_retry: reason != HoldReason::Refused,
        });
        let part = &mut self.drain.parts[index];
        part.share.after(Outcome::CallFailed(reason), 0, now, jitter());
        if part.share.failed {
            let error = failure.into_error(&stream);
            part.error = Some(error.clone());
            self.drain.each_report(|r| r.errors.push(error.clone()));
        }
    }

    /// A failure of the credentials or the account, met while sending the
    /// stream at `index` but not charged to it: every stream is held back
    /// (`policy::schedule` sees the hold), and every stream still in this
    /// drain stops on it.
    fn account_failed(&mut self, index: usize, backoff: Backoff, failure: Failure) {
        let stream = self.drain.parts[index].stream.clone();
        let delay = self.shared.lock_account().failed(backoff, failure.describe(), jitter());
        tracing::debug!(stream, ?delay, "every stream held back");
        self.shared.listeners.emit(RecorderEvent::SubmissionFailed {
            stream_name: stream.clone(),
            kind: failure.kind,
            code: failure.code.clone(),
            message: failure.message.clone(),
            will_retry: true,
        });
        let mut errors = Vec::new();
        for part in self.drain.parts.iter_mut().filter(|p| !p.share.finished) {
            part.share.finished = true;
            part.share.failed = true;
            let error = StreamError {
                stream_name: part.stream.clone(),
                kind: failure.kind,
                code: failure.code.clone(),
                message: failure.message.clone(),
            };
            part.error = Some(error.clone());
            errors.push(error);
        }
        self.drain.each_report(|r| r.errors.extend(errors.iter().cloned()));
    }

    /// Adds the transport's clock-skew corrections to the stats.
    fn count_clock_corrections(&self) {
        let corrections = self.transport.take_clock_corrections();
        if corrections > 0 {
            if let Err(error) = self
                .shared
                .lock_store()
                .add_to_counter(Counter::ClockCorrections, corrections)
            {
                tracing::warn!(%error, "cannot update the counters");
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

    fn drop_expired(&self) {
        let Some(max_age) = self.shared.config.max_record_age else {
            return;
        };
        let dropped = {
            let mut store = self.shared.lock_store();
            let clock = &self.shared.clock;
            if let Err(error) = clock
                .follow_wall_clock(&mut store)
                .and_then(|_| clock.restamp_never_set(&mut store))
            {
                tracing::error!(%error, "cannot follow the clock");
            }
            store.drop_expired(clock.now_ms() - max_age.as_millis() as i64)
        };
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

    /// The failure as the stats show it.
    fn describe(&self) -> String {
        match &self.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        }
    }

    fn into_error(self, stream: &str) -> StreamError {
        StreamError {
            stream_name: stream.to_owned(),
            kind: self.kind,
            code: self.code,
            message: self.message,
        }
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn pending_in(store: &Store, stream: &str) -> Pending {
    let (records, bytes) = store.pending_in(stream);
    Pending { records, bytes }
}

/// How the configuration packs one request (and, with aggregation on, its
/// KPL aggregates).
fn packing_limits(config: &RecorderConfig) -> Limits {
    Limits {
        max_records: config.max_records_per_request,
        max_bytes: config.max_request_bytes,
        max_aggregate_bytes: config.aggregation.then_some(config.max_aggregate_bytes),
    }
}

/// The records of `stream` after `after_id` that fit in one request, in
/// the Kinesis records they travel in.
fn read_batch(store: &Store, stream: &str, after_id: i64, limits: Limits) -> crate::error::Result<Batch> {
    let mut packer = Packer::new(limits);
    let records = store.next_batch(stream, after_id, packer.max_rows(), |record| packer.try_add(record))?;
    Ok(Batch {
        clears: store.clears(),
        records: packer.into_entries(records),
    })
}

/// A batch read on the blocking pool while the request before it is in
/// flight: the records of `stream` after `after_id`.
struct ReadAhead {
    stream: String,
    after_id: i64,
    task: JoinHandle<crate::error::Result<Batch>>,
}

/// A batch, read now or on the blocking pool while the request before it
/// was in flight.
struct Batch {
    /// The store's clear count when it was read.
    clears: u64,
    records: Vec<Entry>,
}

/// A read ahead that panicked is a storage failure.
fn read_result(read: Result<crate::error::Result<Batch>, JoinError>) -> crate::error::Result<Batch> {
    read.unwrap_or_else(|error| {
        Err(Error::Io {
            context: "reading a batch",
            source: std::io::Error::other(error),
        })
    })
}

/// A fraction drawn uniformly from [0, 1) that spreads the retries of many
/// devices apart. Spread, not secrecy: SipHash keyed by a fresh `RandomState`,
/// whose keys std draws from the OS once per thread and steps for each new
/// state, so every call and every device draws another value.
fn jitter() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    // The top 53 bits, all an f64 mantissa holds.
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// How long automatic submission of `stream` waits, as the stats show it.
pub(crate) fn retry_in(states: &HashMap<String, StreamState>, stream: &str, now: Instant) -> Option<Duration> {
    states
        .get(stream)
        .and_then(|s| s.hold)
        .and_then(|hold| hold.until.checked_duration_since(now))
        .filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_uniform_in_the_unit_interval() {
        let draws: Vec<f64> = (0..10_000).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        // Each tenth of the interval gets its share (1,000 expected; a
        // constant or a narrow generator fails).
        for tenth in 0..10 {
            let hits = draws.iter().filter(|j| (**j * 10.0) as usize == tenth).count();
            assert!((800..1200).contains(&hits), "tenth {tenth}: {hits} of 10,000");
        }
        let mut distinct = draws.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), draws.len(), "no value drawn twice");
    }
}
