//! Upload policy: every decision about what to send and what to do with the
//! answer, as pure functions of plain values. Nothing here does I/O, so each
//! rule is tested with values alone.
//!
//! - [`batch`]: how many records go in one request.
//! - [`outcome`]: what a response means for each record, and for the stream.
//! - [`backoff`]: how long to wait after a failure.
//! - [`stream`]: one stream's state (ready, held back until when and why,
//!   its interval) and how each outcome changes it.
//! - [`schedule`]: which streams are due and when, and who sends next in
//!   a drain.
//! - [`age`]: how old a record is when the wall clock jumps.

pub(crate) mod age;
pub(crate) mod backoff;
pub(crate) mod batch;
pub(crate) mod outcome;
pub(crate) mod schedule;
pub(crate) mod stream;
