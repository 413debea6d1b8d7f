//! Events the recorder reports to the app's [`RecorderListener`], and the
//! thread that delivers them.
//!
//! The writer and the worker never call the listener: they queue the event
//! and carry on, and one event thread (`kr-events`) hands the events to the
//! listener in the order they were queued. So a listener may call back into
//! the recorder (`flush`, `delete_all_records`, `stats`,
//! `submit_all_records`) without deadlocking it, and a slow listener never
//! holds a commit back (saves do not fail with `Overloaded` because of it).
//!
//! `flush` and `submit_all_records` return only once the events queued
//! before they return were delivered (the listener returned from them), so
//! a caller that flushed has heard about what it flushed. Two exceptions
//! keep that promise from ever hanging the app: on the event thread itself
//! (a listener that flushes) they do not wait for the event being handled,
//! and they never wait longer than [`DELIVERY_WAIT`] (a listener blocked on
//! another thread that waits for the recorder delays them, nothing more).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

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

/// Receives [`RecorderEvent`]s, in order, on the recorder's event thread.
/// It may call any method of the recorder (events keep arriving while it
/// runs, queued behind it). Return reasonably quickly: events wait for it.
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait RecorderListener: Send + Sync {
    fn on_event(&self, event: RecorderEvent);
}

/// The longest `flush` and `submit_all_records` wait for the listener to
/// hear the events queued before them.
pub(crate) const DELIVERY_WAIT: Duration = Duration::from_secs(5);

/// Events waiting beyond this are discarded (and logged): a listener that
/// never returns must not make the recorder's memory grow without bound.
const MAX_QUEUED_EVENTS: usize = 10_000;

#[derive(Default)]
struct Queue {
    events: VecDeque<RecorderEvent>,
    /// Events queued so far, and delivered so far: delivery is in order, so
    /// event number `n` was delivered once `delivered >= n`.
    queued: u64,
    delivered: u64,
    discarded: u64,
    event_thread: Option<ThreadId>,
    closed: bool,
    /// The event thread has ended.
    finished: bool,
}

/// The app's listener, if any, and the queue of events on their way to it.
/// A panicking listener cannot take the event thread down with it.
#[derive(Default)]
pub(crate) struct Listeners {
    listener: RwLock<Option<Arc<dyn RecorderListener>>>,
    queue: Mutex<Queue>,
    /// Signalled when an event is queued, and on close.
    arrived: Condvar,
    /// Signalled after each delivery, and when the event thread ends.
    delivered: Condvar,
}

impl Listeners {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, listener: Option<Arc<dyn RecorderListener>>) {
        *self.listener.write().unwrap_or_else(|e| e.into_inner()) = listener;
    }

    fn current(&self) -> Option<Arc<dyn RecorderListener>> {
        self.listener.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Queues `event` for the listener; returns at once.
    pub fn emit(&self, event: RecorderEvent) {
        // No listener, nothing to deliver: an app without one pays nothing.
        if self.current().is_none() {
            return;
        }
        let mut queue = self.lock();
        if queue.closed {
            return;
        }
        if queue.events.len() >= MAX_QUEUED_EVENTS {
            queue.discarded += 1;
            if queue.discarded.is_power_of_two() {
                tracing::error!(
                    discarded = queue.discarded,
                    "the recorder listener has not returned for {MAX_QUEUED_EVENTS} events; discarding events"
                );
            }
            return;
        }
        queue.events.push_back(event);
        queue.queued += 1;
        drop(queue);
        self.arrived.notify_one();
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

    /// The event thread's body: delivers events in order until closed and
    /// drained.
    pub fn run(&self) {
        self.lock().event_thread = Some(std::thread::current().id());
        loop {
            let event = {
                let mut queue = self.lock();
                while queue.events.is_empty() && !queue.closed {
                    queue = self.arrived.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
                match queue.events.pop_front() {
                    Some(event) => event,
                    None => {
                        queue.finished = true;
                        drop(queue);
                        self.delivered.notify_all();
                        return;
                    }
                }
            };
            if let Some(listener) = self.current() {
                if catch_unwind(AssertUnwindSafe(|| listener.on_event(event))).is_err() {
                    tracing::error!("the recorder listener panicked; event ignored");
                }
            }
            self.lock().delivered += 1;
            self.delivered.notify_all();
        }
    }

    /// Events queued so far: wait for this number with [`Listeners::wait_delivered`].
    pub fn queued(&self) -> u64 {
        self.lock().queued
    }

    /// True on the event thread, that is, inside the listener.
    pub fn on_event_thread(&self) -> bool {
        self.lock().event_thread == Some(std::thread::current().id())
    }

    /// Blocks until the first `target` events were delivered, at most
    /// [`DELIVERY_WAIT`]; returns at once on the event thread (it would wait
    /// for itself).
    pub fn wait_delivered(&self, target: u64) {
        self.wait(|queue| queue.delivered >= target || queue.finished);
    }

    /// Stops the event thread once it delivered what is queued, and waits
    /// for that (at most [`DELIVERY_WAIT`], never on the event thread). True
    /// when the thread ended.
    pub fn close(&self) -> bool {
        self.lock().closed = true;
        self.arrived.notify_all();
        self.wait(|queue| queue.finished)
    }

    /// Waits until `done`, at most [`DELIVERY_WAIT`], never on the event
    /// thread; returns `done`.
    fn wait(&self, done: impl Fn(&Queue) -> bool) -> bool {
        let deadline = Instant::now() + DELIVERY_WAIT;
        let mut queue = self.lock();
        if queue.event_thread == Some(std::thread::current().id()) {
            return done(&queue);
        }
        while !done(&queue) {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                tracing::warn!(
                    "the recorder listener has not returned for {} s; not waiting for it any longer",
                    DELIVERY_WAIT.as_secs()
                );
                return false;
            };
            queue = self
                .delivered
                .wait_timeout(queue, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}
