//! When the worker sends, to which streams, and in what order.
//!
//! Each stream is due on its own schedule: its interval since its last drain
//! (or its first record after an empty spell), its own thresholds, the
//! network coming back; never before its hold ends. A stream held back for
//! an hour, or holding more than a threshold, changes nothing for the
//! others. With nothing due the worker sleeps until the next stream is, and
//! with nothing pending (or no network) until something changes: no polling.
//!
//! A drain serves its streams in turn, one batch each, so one stream's
//! backlog never holds the others back; [`Share`] is one stream's part in a
//! drain and [`next_turn`] picks who sends next.

use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::stream::{HoldReason, Outcome, StreamState};

/// Records and bytes pending in one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    pub records: u64,
    pub bytes: u64,
}

/// The submit thresholds of the configuration (0 turns one off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thresholds {
    pub records: u64,
    pub bytes: u64,
}

impl Thresholds {
    /// `pending` is worth a submission of its own, before the interval.
    pub fn reached(&self, pending: Pending) -> bool {
        (self.records > 0 && pending.records >= self.records) || (self.bytes > 0 && pending.bytes >= self.bytes)
    }
}

/// The writer's question after committing saves of a stream: must the
/// worker look again? When the stream's first record arrives (its interval
/// starts) and when it reaches a threshold; a stream that stays past one
/// (while held back, say) does not wake the worker at every commit.
pub(crate) fn save_wakes_worker(thresholds: &Thresholds, before: Pending, after: Pending) -> bool {
    (before.records == 0 && after.records > 0) || (!thresholds.reached(before) && thresholds.reached(after))
}

/// What the background schedule knows besides the streams.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conditions {
    pub now: Instant,
    pub network_available: bool,
    pub auto_submit: bool,
    pub interval: Duration,
    pub thresholds: Thresholds,
    /// Every stream waits until then (the credentials or the account failed).
    pub account_held_until: Option<Instant>,
}

/// Why a stream is drained in the background, which says how much it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Its interval passed, or something made it due at once: everything
    /// pending goes.
    Interval,
    /// It reached a threshold: full batches go while it stays there, the
    /// rest waits for the interval.
    Threshold,
}

/// When a stream with `pending` records is due, and why; None with nothing
/// pending.
pub(crate) fn due(conditions: &Conditions, pending: Pending, state: &StreamState) -> Option<(Instant, Due)> {
    if pending.records == 0 {
        return None;
    }
    let now = conditions.now;
    let interval_ends = state.interval_from.unwrap_or(now) + conditions.interval;
    let (at, why) = if state.send_at_once || interval_ends <= now {
        (now, Due::Interval)
    } else if conditions.thresholds.reached(pending) {
        (now, Due::Threshold)
    } else {
        (interval_ends, Due::Interval)
    };
    let account_ready = conditions.account_held_until.unwrap_or(now);
    Some((at.max(state.ready_at(now)).max(account_ready), why))
}

/// The background schedule's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The streams due now (their index among those given), and why.
    pub due: Vec<(usize, Due)>,
    /// When the next of the others is due. None: nothing is, until
    /// something changes (a save, the network, a submit).
    pub wake_at: Option<Instant>,
}

/// Which streams the worker drains now, and when it looks again.
pub(crate) fn plan<'a>(conditions: &Conditions, streams: impl IntoIterator<Item = (Pending, &'a StreamState)>) -> Plan {
    let mut plan = Plan {
        due: Vec::new(),
        wake_at: None,
    };
    if !conditions.auto_submit || !conditions.network_available {
        return plan;
    }
    for (index, (pending, state)) in streams.into_iter().enumerate() {
        match due(conditions, pending, state) {
            Some((at, why)) if at <= conditions.now => plan.due.push((index, why)),
            Some((at, _)) => plan.wake_at = Some(plan.wake_at.map_or(at, |wake| wake.min(at))),
            None => {}
        }
    }
    plan
}

/// How a stream takes part in a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Due on the background schedule; the first failure ends its part and
    /// leaves it to the schedule.
    Background(Due),
    /// Asked for by `submit_all_records`: one request even while held back,
    /// the backoff of refused records and of a few failed calls waited out,
    /// within the callers' deadlines.
    Explicit,
}

/// Failed calls an explicit drain retries per stream before it gives the
/// stream back to the background schedule.
pub(crate) const EXPLICIT_CALL_RETRIES: u32 = 2;

/// One stream's part in a drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Share {
    pub mode: Mode,
    /// Records this drain may deliver: what was pending when the stream
    /// joined, so records saved meanwhile wait for the next drain and every
    /// drain ends.
    pub budget: u64,
    pub delivered: u64,
    pub requests: u32,
    /// Failed calls retried in this drain, and consecutive requests with
    /// refused records: the exponents of its own backoff.
    pub retries: u32,
    pub refusals: u32,
    /// The next request waits until then (a backoff, in explicit drains).
    pub not_before: Option<Instant>,
    /// No more requests in this drain.
    pub finished: bool,
    /// It ended on a failure the callers hear of.
    pub failed: bool,
}

impl Share {
    pub fn new(mode: Mode, budget: u64) -> Self {
        Share {
            mode,
            budget,
            delivered: 0,
            requests: 0,
            retries: 0,
            refusals: 0,
            not_before: None,
            finished: false,
            failed: false,
        }
    }

    /// Whether the stream takes another batch, with `pending` records now.
    pub fn wants_more(&self, thresholds: &Thresholds, pending: Pending) -> bool {
        !self.finished
            && pending.records > 0
            && self.delivered < self.budget
            && (self.mode != Mode::Background(Due::Threshold) || thresholds.reached(pending))
    }

    /// When it may send next, if it wants to.
    pub fn ready_at(&self, thresholds: &Thresholds, pending: Pending, now: Instant) -> Option<Instant> {
        self.wants_more(thresholds, pending)
            .then(|| self.not_before.map_or(now, |at| at.max(now)))
    }

    /// An explicit submit asks again for every record pending now.
    pub fn make_explicit(&mut self, pending_records: u64) {
        self.mode = Mode::Explicit;
        self.budget = self.delivered + pending_records;
        if !self.failed {
            self.finished = false;
        }
    }

    /// What the drain does with the stream after a request that came to
    /// `outcome` at `now`, delivering `delivered` records. An explicit drain
    /// counts its own backoff from the first delay: the caller waits, and
    /// the stream's longer backoff from before (a shard busy for minutes,
    /// say) may be over already.
    pub fn after(&mut self, outcome: Outcome, delivered: u64, now: Instant, jitter: f64) {
        self.requests += 1;
        self.delivered += delivered;
        let explicit = self.mode == Mode::Explicit;
        match outcome {
            Outcome::Delivered => {
                self.refusals = 0;
                self.not_before = None;
            }
            Outcome::RecordsRefused { .. } if explicit => {
                self.refusals += 1;
                self.not_before = Some(now + Backoff::RECORD_REJECTED.delay(self.refusals, jitter));
            }
            Outcome::CallFailed(HoldReason::Network | HoldReason::Throttled)
                if explicit && self.retries < EXPLICIT_CALL_RETRIES =>
            {
                self.retries += 1;
                self.not_before = Some(now + Backoff::TRANSIENT.delay(self.retries, jitter));
            }
            Outcome::RecordsRefused { .. } => self.finished = true,
            Outcome::CallFailed(_) => {
                self.finished = true;
                self.failed = true;
            }
        }
    }
}

/// Who sends next in a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// The stream at this index.
    Send(usize),
    /// Every stream that wants to send waits until then.
    WaitUntil(Instant),
    /// No stream wants to send.
    Done,
}

/// The streams take turns, one batch each, starting after the one that
/// sent `last`; a stream waiting out a backoff is passed over until its
/// time. `ready_at[i]` is when stream `i` may send, None if it wants no more.
pub(crate) fn next_turn(ready_at: &[Option<Instant>], last: Option<usize>, now: Instant) -> Turn {
    let count = ready_at.len();
    let start = last.map_or(0, |i| i + 1);
    let mut earliest: Option<Instant> = None;
    for offset in 0..count {
        let index = (start + offset) % count;
        match ready_at[index] {
            Some(at) if at <= now => return Turn::Send(index),
            Some(at) => earliest = Some(earliest.map_or(at, |e| e.min(at))),
            None => {}
        }
    }
    earliest.map_or(Turn::Done, Turn::WaitUntil)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(30);
    const THRESHOLDS: Thresholds = Thresholds {
        records: 500,
        bytes: 512 * 1024,
    };

    fn conditions(now: Instant) -> Conditions {
        Conditions {
            now,
            network_available: true,
            auto_submit: true,
            interval: INTERVAL,
            thresholds: THRESHOLDS,
            account_held_until: None,
        }
    }

    fn pending(records: u64) -> Pending {
        Pending {
            records,
            bytes: records * 100,
        }
    }

    fn started(at: Instant) -> StreamState {
        let mut state = StreamState::default();
        state.observe(true, at);
        state
    }

    fn refused(now: Instant) -> StreamState {
        let mut state = started(now);
        state.record(Outcome::CallFailed(HoldReason::Refused), now, 0.5);
        state
    }

    #[test]
    fn thresholds_count_records_or_bytes_and_zero_turns_one_off() {
        assert!(!THRESHOLDS.reached(pending(499)));
        assert!(THRESHOLDS.reached(pending(500)));
        assert!(THRESHOLDS.reached(Pending {
            records: 1,
            bytes: 512 * 1024
        }));
        let off = Thresholds { records: 0, bytes: 0 };
        assert!(!off.reached(pending(1_000_000)));
    }

    #[test]
    fn a_save_wakes_the_worker_on_a_first_record_and_on_reaching_a_threshold_only() {
        assert!(save_wakes_worker(&THRESHOLDS, pending(0), pending(1)));
        assert!(!save_wakes_worker(&THRESHOLDS, pending(1), pending(2)));
        assert!(save_wakes_worker(&THRESHOLDS, pending(499), pending(500)));
        // Past the threshold already (a stream held back): no wake per commit.
        assert!(!save_wakes_worker(&THRESHOLDS, pending(600), pending(601)));
    }

    #[test]
    fn a_stream_waits_for_its_own_interval() {
        let now = Instant::now();
        let state = started(now);
        assert_eq!(
            due(&conditions(now), pending(1), &state),
            Some((now + INTERVAL, Due::Interval))
        );
        let later = now + INTERVAL;
        assert_eq!(
            due(&conditions(later), pending(1), &state),
            Some((later, Due::Interval))
        );
        assert_eq!(due(&conditions(now), pending(0), &state), None);
    }

    #[test]
    fn a_stream_past_a_threshold_is_due_at_once_unless_held() {
        let now = Instant::now();
        assert_eq!(
            due(&conditions(now), pending(500), &started(now)),
            Some((now, Due::Threshold))
        );
        let held = refused(now);
        let (at, _) = due(&conditions(now), pending(500), &held).unwrap();
        assert_eq!(at, held.hold.unwrap().until);
    }

    #[test]
    fn an_elapsed_interval_sends_everything_even_past_a_threshold() {
        let now = Instant::now();
        let state = started(now - INTERVAL);
        assert_eq!(due(&conditions(now), pending(700), &state), Some((now, Due::Interval)));
    }

    #[test]
    fn the_network_coming_back_makes_a_stream_due_at_once() {
        let now = Instant::now();
        let mut state = started(now);
        state.network_returned();
        assert_eq!(due(&conditions(now), pending(1), &state), Some((now, Due::Interval)));
    }

    #[test]
    fn a_held_stream_does_not_delay_a_healthy_one() {
        // Stream 0 is refused and holds more than a threshold; stream 1 has
        // a few records since 10 s ago.
        let now = Instant::now();
        let a = refused(now);
        let b = started(now - Duration::from_secs(10));
        let plan = plan(&conditions(now), [(pending(800), &a), (pending(3), &b)]);
        assert_eq!(plan.due, vec![]);
        assert_eq!(
            plan.wake_at,
            Some(now + Duration::from_secs(20)),
            "B's interval, not A's hold"
        );
        let at_b = now + Duration::from_secs(20);
        let plan = super::plan(&conditions(at_b), [(pending(800), &a), (pending(3), &b)]);
        assert_eq!(plan.due, vec![(1, Due::Interval)]);
        assert_eq!(plan.wake_at, Some(a.hold.unwrap().until));
    }

    #[test]
    fn an_account_hold_delays_every_stream_and_wakes_when_it_ends() {
        let now = Instant::now();
        let held_until = now + Duration::from_secs(90);
        let conditions = Conditions {
            account_held_until: Some(held_until),
            ..conditions(now)
        };
        let due_now = started(now - INTERVAL);
        let past_threshold = started(now);
        let plan = plan(&conditions, [(pending(3), &due_now), (pending(900), &past_threshold)]);
        assert_eq!((plan.due, plan.wake_at), (vec![], Some(held_until)));
    }

    #[test]
    fn a_healthy_stream_past_its_threshold_goes_while_another_is_held() {
        let now = Instant::now();
        let a = refused(now);
        let b = started(now);
        let plan = plan(&conditions(now), [(pending(800), &a), (pending(500), &b)]);
        assert_eq!(plan.due, vec![(1, Due::Threshold)]);
    }

    #[test]
    fn nothing_is_due_offline_or_without_auto_submit_and_no_timer_runs() {
        let now = Instant::now();
        let state = started(now - INTERVAL);
        for conditions in [
            Conditions {
                network_available: false,
                ..conditions(now)
            },
            Conditions {
                auto_submit: false,
                ..conditions(now)
            },
        ] {
            let plan = plan(&conditions, [(pending(900), &state)]);
            assert_eq!((plan.due.len(), plan.wake_at), (0, None));
        }
        let plan = plan(&conditions(now), [(pending(0), &state)]);
        assert_eq!((plan.due.len(), plan.wake_at), (0, None));
    }

    #[test]
    fn a_threshold_share_sends_full_batches_while_past_the_threshold() {
        let share = Share::new(Mode::Background(Due::Threshold), 1_000);
        assert!(share.wants_more(&THRESHOLDS, pending(500)));
        assert!(
            !share.wants_more(&THRESHOLDS, pending(499)),
            "the rest waits for the interval"
        );
        let share = Share::new(Mode::Background(Due::Interval), 1_000);
        assert!(share.wants_more(&THRESHOLDS, pending(1)));
        let share = Share::new(Mode::Explicit, 1_000);
        assert!(share.wants_more(&THRESHOLDS, pending(1)));
        assert!(!share.wants_more(&THRESHOLDS, pending(0)));
    }

    #[test]
    fn a_share_ends_at_its_budget() {
        let now = Instant::now();
        let mut share = Share::new(Mode::Explicit, 600);
        share.after(Outcome::Delivered, 500, now, 0.5);
        assert!(share.wants_more(&THRESHOLDS, pending(700)));
        share.after(Outcome::Delivered, 100, now, 0.5);
        assert!(!share.wants_more(&THRESHOLDS, pending(700)), "records saved since wait");
        assert_eq!(share.requests, 2);
    }

    #[test]
    fn a_background_share_ends_at_the_first_failure() {
        let now = Instant::now();
        for outcome in [
            Outcome::RecordsRefused { all_throttled: true },
            Outcome::CallFailed(HoldReason::Network),
            Outcome::CallFailed(HoldReason::Refused),
        ] {
            let mut share = Share::new(Mode::Background(Due::Interval), 10);
            share.after(outcome, 0, now, 0.5);
            assert!(share.finished, "{outcome:?}");
        }
    }

    #[test]
    fn an_explicit_share_waits_out_refused_records_on_its_own_backoff() {
        let now = Instant::now();
        let mut share = Share::new(Mode::Explicit, 10);
        let refused = Outcome::RecordsRefused { all_throttled: true };
        share.after(refused, 4, now, 1.0);
        let first = now + Duration::from_millis(200);
        assert_eq!(share.ready_at(&THRESHOLDS, pending(6), now), Some(first));
        assert_eq!(share.ready_at(&THRESHOLDS, pending(6), first), Some(first));
        share.after(refused, 0, first, 1.0);
        assert_eq!(share.not_before, Some(first + Duration::from_millis(400)));
        // A delivered batch starts the backoff over.
        share.after(Outcome::Delivered, 2, first, 1.0);
        share.after(refused, 0, first, 1.0);
        assert_eq!(share.not_before, Some(first + Duration::from_millis(200)));
        assert_eq!(share.delivered, 6);
    }

    #[test]
    fn an_explicit_share_retries_a_failed_call_twice() {
        let now = Instant::now();
        let mut share = Share::new(Mode::Explicit, 10);
        for retry in 1..=EXPLICIT_CALL_RETRIES {
            share.after(Outcome::CallFailed(HoldReason::Network), 0, now, 1.0);
            assert!(!share.finished);
            assert_eq!(share.not_before, Some(now + Duration::from_secs(1 << (retry - 1))));
        }
        share.after(Outcome::CallFailed(HoldReason::Throttled), 0, now, 1.0);
        assert!(share.finished && share.failed);
        assert_eq!(share.ready_at(&THRESHOLDS, pending(6), now), None);
    }

    #[test]
    fn an_explicit_share_gives_up_on_a_refused_stream_at_once() {
        for reason in [HoldReason::Refused, HoldReason::Storage] {
            let mut share = Share::new(Mode::Explicit, 10);
            share.after(Outcome::CallFailed(reason), 0, Instant::now(), 0.5);
            assert!(share.finished && share.failed, "{reason:?}");
        }
    }

    #[test]
    fn an_explicit_submit_takes_over_a_background_share() {
        let now = Instant::now();
        let mut share = Share::new(Mode::Background(Due::Threshold), 500);
        share.after(Outcome::Delivered, 500, now, 0.5);
        assert!(!share.wants_more(&THRESHOLDS, pending(30)));
        share.make_explicit(30);
        assert_eq!((share.mode, share.budget), (Mode::Explicit, 530));
        assert!(share.wants_more(&THRESHOLDS, pending(30)));
        // A stream that failed in this drain is not asked again.
        let mut failed = Share::new(Mode::Background(Due::Interval), 5);
        failed.after(Outcome::CallFailed(HoldReason::Refused), 0, now, 0.5);
        failed.make_explicit(5);
        assert!(!failed.wants_more(&THRESHOLDS, pending(5)));
    }

    #[test]
    fn streams_take_turns_one_batch_each() {
        let now = Instant::now();
        let all = [Some(now), Some(now), Some(now)];
        let mut last = None;
        let order: Vec<usize> = (0..7)
            .map(|_| {
                let Turn::Send(i) = next_turn(&all, last, now) else {
                    panic!()
                };
                last = Some(i);
                i
            })
            .collect();
        assert_eq!(order, vec![0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn a_stream_done_or_waiting_is_passed_over() {
        let now = Instant::now();
        let later = now + Duration::from_secs(1);
        let ready = [Some(now), None, Some(later), Some(now)];
        assert_eq!(next_turn(&ready, Some(0), now), Turn::Send(3));
        assert_eq!(next_turn(&ready, Some(3), now), Turn::Send(0));
        assert_eq!(next_turn(&[None, Some(later)], Some(0), now), Turn::WaitUntil(later));
        assert_eq!(next_turn(&[None, None], None, now), Turn::Done);
        assert_eq!(next_turn(&[], None, now), Turn::Done);
    }
}
