//! The recorder's clock for record ages: the boot clock anchored to the
//! wall clock, moved with the wall clock's steps (the rule is in
//! `policy::age`). Records are stamped in boot-clock milliseconds when
//! saved and turned into wall-clock time when the writer stores them, under
//! the store's lock, where the anchor moves too: a record is never stamped
//! in one frame and stored in another.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Result;
use crate::policy::age;
use crate::store::Store;

pub(crate) struct RecordClock {
    /// The wall clock's reading at boot-clock zero.
    anchor_ms: AtomicI64,
    /// Records saved in this run have this id or a later one.
    first_id_of_run: i64,
    /// Added to the wall clock's readings: tests simulate a clock step.
    wall_shift_ms: AtomicI64,
    /// Records from a never-set clock were re-stamped in this run.
    restamped: AtomicBool,
}

impl RecordClock {
    pub fn new(first_id_of_run: i64) -> Self {
        RecordClock {
            anchor_ms: AtomicI64::new(wall_ms(0) - boot_ms()),
            first_id_of_run,
            wall_shift_ms: AtomicI64::new(0),
            restamped: AtomicBool::new(false),
        }
    }

    /// The stamp of a record saved now (boot-clock milliseconds).
    pub fn stamp(&self) -> i64 {
        boot_ms()
    }

    /// Now, in the frame of stored stamps.
    pub fn now_ms(&self) -> i64 {
        self.anchor_ms.load(Ordering::Acquire) + boot_ms()
    }

    /// What turns a stamp into a stored time (added to it). Read with the
    /// store locked, after [`RecordClock::follow_wall_clock`].
    pub fn stored_offset(&self) -> i64 {
        self.anchor_ms.load(Ordering::Acquire)
    }

    /// Follows a step of the wall clock (rule 2): moves the anchor and the
    /// stamps of this run's stored records. Call with the store locked,
    /// before stamps are turned into stored ones.
    /// Returns the step, if there was one.
    pub fn follow_wall_clock(&self, store: &mut Store) -> Result<Option<i64>> {
        let anchor = self.anchor_ms.load(Ordering::Acquire);
        let wall = wall_ms(self.wall_shift_ms.load(Ordering::Relaxed));
        let Some(step) = age::wall_clock_step(anchor, boot_ms(), wall) else {
            return Ok(None);
        };
        store.shift_created_at(self.first_id_of_run, step)?;
        self.anchor_ms.store(anchor + step, Ordering::Release);
        tracing::warn!(
            step_ms = step,
            "the wall clock stepped; record ages follow the boot clock"
        );
        Ok(Some(step))
    }

    /// Re-stamps records stamped by a clock that was never set (rule 3),
    /// once per run, as soon as the clock is plausible (this run's own
    /// records follow its steps). Call with the store locked.
    pub fn restamp_never_set(&self, store: &mut Store) -> Result<()> {
        let now = self.now_ms();
        if age::plausible(now) && !self.restamped.load(Ordering::Acquire) {
            store.restamp_before(age::NEVER_SET_BEFORE_MS, now)?;
            self.restamped.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Moves the wall clock's readings by `ms`, as NTP or a user would.
    pub fn shift_wall_clock(&self, ms: i64) {
        self.wall_shift_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

fn wall_ms(shift_ms: i64) -> i64 {
    let now = SystemTime::now();
    let ms = match now.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    };
    ms + shift_ms
}

/// Milliseconds on a clock that nothing sets and that counts the time the
/// device sleeps: `CLOCK_BOOTTIME` on Linux and Android, `CLOCK_MONOTONIC`
/// on Apple platforms (which counts sleep there).
#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn boot_ms() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_BOOTTIME;
    #[cfg(target_vendor = "apple")]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write to; the clock id is a
    // constant this platform has.
    unsafe { libc::clock_gettime(CLOCK, &mut now) };
    // 32 bits wide on 32-bit Android.
    #[allow(clippy::unnecessary_cast)]
    let (seconds, nanos) = (now.tv_sec as i64, now.tv_nsec as i64);
    seconds * 1000 + nanos / 1_000_000
}

/// Elsewhere, the monotonic clock since the first reading.
#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn boot_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed().as_millis() as i64
}
