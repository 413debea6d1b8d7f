//! How old a record is, on devices whose wall clock jumps: boards without a
//! real-time clock start in 1970 (or at their firmware's date) until NTP
//! sets the clock, years later in a second; users and networks change the
//! time. Judged naively, `max_record_age` would then expire every record
//! at once. The rule:
//!
//! 1. Within a run, time is measured on the boot clock (it counts sleep,
//!    and nothing sets it), anchored to the wall clock when the recorder
//!    starts: `now = anchor + boot`. Records are stamped and judged on it,
//!    so a step of the wall clock ages nothing.
//! 2. When the wall clock steps more than [`STEP_BEYOND_MS`] away from
//!    `anchor + boot`, the anchor moves by the step and so do the stamps of
//!    the records saved in this run: what is on disk stays in the wall
//!    clock's frame, for the next run.
//! 3. A stamp earlier than [`NEVER_SET_BEFORE_MS`] (before this version
//!    existed) comes from a clock that was never set, in a run that ended
//!    before it was: such a record counts as saved at the first moment the
//!    clock reads a plausible time.

/// Steps smaller than this are NTP's ordinary corrections, not a jump.
pub(crate) const STEP_BEYOND_MS: i64 = 60_000;

/// 2026-01-01T00:00:00Z: a wall clock before it was never set.
pub(crate) const NEVER_SET_BEFORE_MS: i64 = 1_767_225_600_000;

/// By how much the wall clock stepped away from `anchor + boot` (rule 2),
/// if it did.
pub(crate) fn wall_clock_step(anchor_ms: i64, boot_ms: i64, wall_ms: i64) -> Option<i64> {
    let step = wall_ms - (anchor_ms + boot_ms);
    (step.abs() > STEP_BEYOND_MS).then_some(step)
}

/// Whether a wall-clock reading can date records (rule 3).
pub(crate) fn plausible(wall_ms: i64) -> bool {
    wall_ms >= NEVER_SET_BEFORE_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR_MS: i64 = 365 * 24 * 3600 * 1000;

    #[test]
    fn ordinary_corrections_are_not_steps() {
        let anchor = NEVER_SET_BEFORE_MS;
        assert_eq!(wall_clock_step(anchor, 5_000, anchor + 5_000), None);
        assert_eq!(wall_clock_step(anchor, 5_000, anchor + 5_000 + STEP_BEYOND_MS), None);
        assert_eq!(wall_clock_step(anchor, 5_000, anchor + 5_000 - STEP_BEYOND_MS), None);
    }

    #[test]
    fn ntp_setting_a_board_at_boot_is_a_step_of_years() {
        // A board without a real-time clock boots at the epoch; NTP sets the
        // clock 40 s later.
        let anchor = 0;
        let wall = NEVER_SET_BEFORE_MS + YEAR_MS / 2;
        assert_eq!(wall_clock_step(anchor, 40_000, wall), Some(wall - 40_000));
        assert!(!plausible(anchor + 40_000));
        assert!(plausible(wall));
        // Set back by a user: a step too.
        assert_eq!(wall_clock_step(wall, 0, wall - YEAR_MS), Some(-YEAR_MS));
    }
}
