//! Upload policy: every decision about what to send and what to do with the
//! answer, as pure functions of plain values. Nothing here does I/O, so each
//! rule is tested with values alone.
//!
//! - [`batch`]: how many records go in one request.
//! - [`outcome`]: what a response means for each record, and for the stream.
//! - [`backoff`]: how long to wait after a failure.
//! - [`schedule`]: when the background worker submits.
//! - [`age`]: how old a record is when the wall clock jumps.

pub(crate) mod age;
pub(crate) mod backoff;
pub(crate) mod batch;
pub(crate) mod outcome;
pub(crate) mod schedule;
