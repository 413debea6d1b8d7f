//! The submission state of one stream, and how each outcome changes it:
//! ready, or held back until a moment and why; when its submit interval
//! started; whether something (the network coming back, records left from
//! an earlier run) made it due at once. Plain values and pure transitions:
//! the worker keeps one [`StreamState`] per stream, tells it what happened
//! and obeys; `stats()` shows it.

use std::time::{Duration, Instant};

use super::backoff::Backoff;

/// Why a stream waits before its next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoldReason {
    /// No usable answer: network error, timeout, 5xx, unusable answer.
    Network,
    /// The shard refused records: one by one, or the whole call.
    Throttled,
    /// Records refused one by one for another reason (each refusal spends
    /// one of the record's attempts).
    RecordsRejected,
    /// The service refused the stream (not found, access denied, KMS...):
    /// only a fix on the account's side helps, so it waits long.
    Refused,
    /// The local store failed while submitting.
    Storage,
    /// A drain found nothing it could send: it is not tried again before an
    /// interval, so a store whose counts and rows disagree never makes the
    /// worker spin.
    NothingSent,
}

/// A stream held back until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hold {
    pub until: Instant,
    pub reason: HoldReason,
}

/// What one request of the stream came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Every record of the batch was accepted.
    Delivered,
    /// Some records were refused one by one; `all_throttled` when every
    /// refusal was throttling.
    RecordsRefused { all_throttled: bool },
    /// The call failed as a whole, for this reason.
    CallFailed(HoldReason),
}

/// One stream's submission state, kept across drains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StreamState {
    /// Set while the stream is held back.
    pub hold: Option<Hold>,
    /// Consecutive failed calls, and consecutive batches with refused
    /// records: the exponents of the two backoffs.
    call_failures: u32,
    record_failures: u32,
    /// The last failure, as the app reads it; cleared by a delivered batch.
    pub last_error: Option<String>,
    /// When the stream's submit interval started: its last drain, or the
    /// moment its first record after an empty spell was seen. None while it
    /// has nothing pending.
    pub interval_from: Option<Instant>,
    /// Due at once, without waiting for its interval (the network came
    /// back, or records were left from an earlier run).
    pub send_at_once: bool,
}

impl StreamState {
    /// When the stream may be sent to next: `now` when it is not held.
    pub fn ready_at(&self, now: Instant) -> Instant {
        self.hold.map_or(now, |hold| hold.until.max(now))
    }

    /// Records what a request came to at `now`; a failure holds the stream
    /// back. `jitter` is drawn uniformly from [0, 1).
    pub fn record(&mut self, outcome: Outcome, now: Instant, jitter: f64) {
        let (reason, delay) = match outcome {
            Outcome::Delivered => {
                *self = StreamState {
                    interval_from: self.interval_from,
                    send_at_once: self.send_at_once,
                    ..StreamState::default()
                };
                return;
            }
            Outcome::RecordsRefused { all_throttled } => {
                self.call_failures = 0;
                self.record_failures += 1;
                let reason = if all_throttled {
                    HoldReason::Throttled
                } else {
                    HoldReason::RecordsRejected
                };
                (reason, Backoff::RECORD_REJECTED.delay(self.record_failures, jitter))
            }
            Outcome::CallFailed(reason) => {
                self.call_failures += 1;
                let backoff = match reason {
                    HoldReason::Refused => Backoff::STREAM_REJECTED,
                    _ => Backoff::TRANSIENT,
                };
                (reason, backoff.delay(self.call_failures, jitter))
            }
        };
        self.hold = Some(Hold {
            until: now + delay,
            reason,
        });
    }

    /// A drain of the stream sent nothing although records were pending:
    /// it waits an interval.
    pub fn nothing_sent(&mut self, now: Instant, interval: Duration) {
        self.hold = Some(Hold {
            until: now + interval,
            reason: HoldReason::NothingSent,
        });
    }

    /// The device is online again. A wait the network caused ends; waits
    /// the service imposed (refused stream, throttling, refused records)
    /// stand, however often the device changes networks. The stream is due
    /// at once.
    pub fn network_returned(&mut self) {
        if self.hold.is_some_and(|hold| hold.reason == HoldReason::Network) {
            self.hold = None;
        }
        self.send_at_once = true;
    }

    /// A drain of the stream ended: its interval starts again.
    pub fn drained(&mut self, now: Instant) {
        self.interval_from = Some(now);
        self.send_at_once = false;
    }

    /// What the worker saw of the stream's pending records at `now`: an
    /// interval starts with the first record after an empty spell.
    pub fn observe(&mut self, has_pending: bool, now: Instant) {
        if !has_pending {
            self.interval_from = None;
        } else if self.interval_from.is_none() {
            self.interval_from = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF: f64 = 0.5;

    fn is_held(state: &StreamState, at: Instant) -> bool {
        state.ready_at(at) > at
    }

    /// Records `outcome` at `now`; the wait it imposes.
    fn wait_after(state: &mut StreamState, outcome: Outcome, now: Instant) -> Duration {
        state.record(outcome, now, 1.0);
        state.ready_at(now) - now
    }

    fn held(reason: HoldReason, now: Instant) -> StreamState {
        let mut state = StreamState::default();
        state.record(Outcome::CallFailed(reason), now, HALF);
        state
    }

    #[test]
    fn a_new_stream_is_ready() {
        let now = Instant::now();
        let state = StreamState::default();
        assert!(!is_held(&state, now));
        assert_eq!(state.ready_at(now), now);
    }

    #[test]
    fn a_delivered_batch_clears_every_failure() {
        let now = Instant::now();
        let mut state = held(HoldReason::Network, now);
        state.last_error = Some("reset".into());
        state.record(Outcome::RecordsRefused { all_throttled: true }, now, HALF);
        assert_eq!(wait_after(&mut state, Outcome::Delivered, now), Duration::ZERO);
        assert_eq!(state.hold, None);
        assert_eq!(state.last_error, None);
        assert_eq!((state.call_failures, state.record_failures), (0, 0));
    }

    #[test]
    fn a_refused_stream_waits_a_minute_then_doubles_up_to_an_hour() {
        let now = Instant::now();
        let mut state = StreamState::default();
        let delays: Vec<Duration> = (0..8)
            .map(|_| wait_after(&mut state, Outcome::CallFailed(HoldReason::Refused), now))
            .collect();
        assert_eq!(delays[0], Duration::from_secs(60));
        assert_eq!(delays[1], Duration::from_secs(120));
        assert_eq!(delays[7], Duration::from_secs(3600));
        assert_eq!(state.hold.unwrap().reason, HoldReason::Refused);
        assert!(is_held(&state, now + Duration::from_secs(3599)));
        assert!(!is_held(&state, now + Duration::from_secs(3600)));
    }

    #[test]
    fn network_failures_back_off_from_a_second_up_to_five_minutes() {
        let now = Instant::now();
        let mut state = StreamState::default();
        let first = wait_after(&mut state, Outcome::CallFailed(HoldReason::Network), now);
        assert_eq!(first, Duration::from_secs(1));
        for _ in 0..20 {
            state.record(Outcome::CallFailed(HoldReason::Network), now, 1.0);
        }
        assert_eq!(state.ready_at(now), now + Duration::from_secs(300));
    }

    #[test]
    fn refused_records_back_off_on_their_own_scale_and_say_why() {
        let now = Instant::now();
        let mut state = held(HoldReason::Network, now);
        let delay = wait_after(&mut state, Outcome::RecordsRefused { all_throttled: true }, now);
        assert_eq!(delay, Duration::from_millis(200));
        assert_eq!(state.hold.unwrap().reason, HoldReason::Throttled);
        // A refused record answers the call: the call backoff starts over.
        assert_eq!(state.call_failures, 0);
        let delay = wait_after(&mut state, Outcome::RecordsRefused { all_throttled: false }, now);
        assert_eq!(delay, Duration::from_millis(400));
        assert_eq!(state.hold.unwrap().reason, HoldReason::RecordsRejected);
        for _ in 0..20 {
            state.record(Outcome::RecordsRefused { all_throttled: true }, now, 1.0);
        }
        assert_eq!(state.ready_at(now), now + Duration::from_secs(30));
    }

    #[test]
    fn the_network_coming_back_ends_only_waits_the_network_caused() {
        let now = Instant::now();
        for (reason, ends) in [
            (HoldReason::Network, true),
            (HoldReason::Refused, false),
            (HoldReason::Throttled, false),
            (HoldReason::Storage, false),
        ] {
            let mut state = held(reason, now);
            state.network_returned();
            assert_eq!(is_held(&state, now), !ends, "{reason:?}");
            assert!(state.send_at_once, "{reason:?}");
        }
        let mut state = StreamState::default();
        state.record(Outcome::RecordsRefused { all_throttled: false }, now, HALF);
        state.network_returned();
        assert!(is_held(&state, now));
    }

    #[test]
    fn a_drain_that_sent_nothing_waits_an_interval() {
        let now = Instant::now();
        let mut state = StreamState::default();
        state.nothing_sent(now, Duration::from_secs(30));
        assert_eq!(state.ready_at(now), now + Duration::from_secs(30));
        assert_eq!(state.hold.unwrap().reason, HoldReason::NothingSent);
    }

    #[test]
    fn the_interval_starts_with_the_first_record_and_again_after_each_drain() {
        let start = Instant::now();
        let mut state = StreamState::default();
        state.observe(false, start);
        assert_eq!(state.interval_from, None);
        let first = start + Duration::from_secs(5);
        state.observe(true, first);
        state.observe(true, first + Duration::from_secs(1));
        assert_eq!(state.interval_from, Some(first));
        state.send_at_once = true;
        let drained = first + Duration::from_secs(9);
        state.drained(drained);
        assert_eq!((state.interval_from, state.send_at_once), (Some(drained), false));
        // Empty again: the next record starts a new interval.
        state.observe(false, drained);
        state.observe(true, drained + Duration::from_secs(60));
        assert_eq!(state.interval_from, Some(drained + Duration::from_secs(60)));
    }

    #[test]
    fn a_delivered_batch_keeps_the_schedule() {
        let now = Instant::now();
        let mut state = StreamState {
            interval_from: Some(now),
            send_at_once: true,
            ..held(HoldReason::Network, now)
        };
        state.record(Outcome::Delivered, now, HALF);
        assert_eq!((state.interval_from, state.send_at_once), (Some(now), true));
    }
}
