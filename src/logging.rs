//! The recorder's log, where app developers look: [`set_log_sink`] forwards
//! the crate's `tracing` events to a [`LogSink`] (the Kotlin and Swift layers
//! send them on to `android.util.Log` and `os.Logger`). Level-filtered, and
//! only this crate's own events, which carry names, counts and error texts,
//! never record data or credentials.
//!
//! A minimal `tracing` subscriber, installed as the process's global default
//! on the first call (so it costs nothing until then); `tracing-subscriber`
//! stays out of the mobile build.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{span, Event, Level, Metadata, Subscriber};

use crate::error::{Error, RecorderError};

/// Severity of a log line, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Receives the recorder's log lines, on the thread that logged them (a
/// recorder thread or the caller's). Return quickly, and do not call the
/// recorder from here: lines it would log meanwhile are skipped.
#[cfg_attr(feature = "ffi", uniffi::export(with_foreign))]
pub trait LogSink: Send + Sync {
    /// `target` is the Rust module that logged (`kinesis_recorder::recorder::worker`);
    /// `message` the text and its fields (`records dropped stream=clicks reason=expired count=3`).
    fn log(&self, level: LogLevel, target: String, message: String);
}

/// Forwards the recorder's log lines at `level` or more severe to `sink`,
/// for every recorder of the process; `None` stops forwarding. Replaces the
/// previous sink.
///
/// Fails with `InvalidInput` when the process already has another global
/// `tracing` subscriber (a Rust app with its own `tracing-subscriber`): the
/// recorder's events reach that one instead, with target `kinesis_recorder`.
#[cfg_attr(feature = "ffi", uniffi::export)]
pub fn set_log_sink(sink: Option<Arc<dyn LogSink>>, level: LogLevel) -> Result<(), RecorderError> {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let installed = *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(SinkSubscriber).is_ok());
    if !installed {
        if sink.is_none() {
            return Ok(());
        }
        return Err(Error::invalid(
            "log sink",
            "this process already has a global tracing subscriber; the recorder's events (target \
             `kinesis_recorder`) go to it",
        )
        .into());
    }
    let threshold = if sink.is_some() { level_rank(level) } else { OFF };
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
    THRESHOLD.store(threshold, Ordering::Release);
    // Callsites cache whether they are enabled: make them ask again.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
/// The least severe level forwarded, as [`level_rank`]; [`OFF`] forwards nothing.
static THRESHOLD: AtomicU8 = AtomicU8::new(OFF);
const OFF: u8 = 0;

thread_local! {
    /// Set while a sink runs on this thread: what the recorder logs because
    /// of the sink itself is not fed back into it.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn level_rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 1,
        LogLevel::Warn => 2,
        LogLevel::Info => 3,
        LogLevel::Debug => 4,
        LogLevel::Trace => 5,
    }
}

fn log_level(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        Level::TRACE => LogLevel::Trace,
    }
}

/// Events of this crate at the threshold or more severe. Spans and other
/// crates' events (HTTP, TLS) are never forwarded.
fn forwarded(metadata: &Metadata<'_>) -> bool {
    metadata.is_event()
        && metadata.target().starts_with(env!("CARGO_CRATE_NAME"))
        && level_rank(log_level(metadata.level())) <= THRESHOLD.load(Ordering::Acquire)
}

struct SinkSubscriber;

impl Subscriber for SinkSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if forwarded(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match THRESHOLD.load(Ordering::Acquire) {
            OFF => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        forwarded(metadata)
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        // Never called: no span is enabled.
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        if IN_SINK.with(Cell::get) {
            return;
        }
        let Some(sink) = SINK.read().unwrap_or_else(|e| e.into_inner()).clone() else {
            return;
        };
        let mut line = Line::default();
        event.record(&mut line);
        let metadata = event.metadata();
        IN_SINK.with(|flag| flag.set(true));
        // A sink that panics (or a Kotlin/Swift sink that throws) loses its line, nothing else.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            sink.log(log_level(metadata.level()), metadata.target().to_owned(), line.finish())
        }));
        IN_SINK.with(|flag| flag.set(false));
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// An event as one line: the message, then ` name=value` per field.
#[derive(Default)]
struct Line {
    message: Option<String>,
    fields: String,
}

impl Line {
    fn finish(self) -> String {
        match self.message {
            Some(mut text) => {
                text.push_str(&self.fields);
                text
            }
            None => self.fields.trim_start().to_owned(),
        }
    }

    /// The macro's text comes first as `message`; a field the event itself
    /// names `message` (a service's error text) follows as a field.
    fn is_text(&self, field: &Field) -> bool {
        field.name() == "message" && self.message.is_none()
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.is_text(field) {
            self.message = Some(value.to_owned());
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.is_text(field) {
            self.message = Some(format!("{value:?}"));
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
