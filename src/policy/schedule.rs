//! When the background worker submits. The worker feeds in what it knows and
//! sleeps exactly as long as the answer says; with nothing pending, or the
//! network unavailable, it sleeps until something changes (no polling).

use std::time::Instant;

/// What the worker knows when it decides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkerView {
    pub now: Instant,
    pub network_available: bool,
    pub auto_submit: bool,
    pub pending_records: u64,
    pub pending_bytes: u64,
    pub threshold_records: u64,
    pub threshold_bytes: u64,
    /// When the last automatic drain ended (or the worker started).
    pub last_drain: Instant,
    pub interval: std::time::Duration,
    /// The earliest moment a stream with pending records may be sent to
    /// (`now` or earlier when one is not backed off).
    pub earliest_ready: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NextStep {
    DrainNow,
    WaitUntil(Instant),
    /// Sleep until an event (save past a threshold, network change, explicit
    /// submit, shutdown).
    Idle,
}

pub(crate) fn next_step(view: &WorkerView) -> NextStep {
    if !view.auto_submit || !view.network_available || view.pending_records == 0 {
        return NextStep::Idle;
    }
    let Some(ready) = view.earliest_ready else {
        return NextStep::Idle;
    };
    let over_threshold = (view.threshold_records > 0 && view.pending_records >= view.threshold_records)
        || (view.threshold_bytes > 0 && view.pending_bytes >= view.threshold_bytes);
    let due = if over_threshold {
        view.now
    } else {
        view.last_drain + view.interval
    };
    let at = due.max(ready);
    if at <= view.now {
        NextStep::DrainNow
    } else {
        NextStep::WaitUntil(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn view() -> WorkerView {
        let now = Instant::now();
        WorkerView {
            now,
            network_available: true,
            auto_submit: true,
            pending_records: 1,
            pending_bytes: 10,
            threshold_records: 100,
            threshold_bytes: 1000,
            last_drain: now,
            interval: Duration::from_secs(30),
            earliest_ready: Some(now),
        }
    }

    #[test]
    fn no_timer_without_pending_records_or_network() {
        assert_eq!(
            next_step(&WorkerView {
                pending_records: 0,
                ..view()
            }),
            NextStep::Idle
        );
        assert_eq!(
            next_step(&WorkerView {
                network_available: false,
                ..view()
            }),
            NextStep::Idle
        );
        assert_eq!(
            next_step(&WorkerView {
                auto_submit: false,
                ..view()
            }),
            NextStep::Idle
        );
    }

    #[test]
    fn waits_for_the_interval_below_thresholds() {
        let v = view();
        assert_eq!(next_step(&v), NextStep::WaitUntil(v.now + v.interval));
        let late = WorkerView {
            last_drain: v.now - Duration::from_secs(31),
            ..v
        };
        assert_eq!(next_step(&late), NextStep::DrainNow);
    }

    #[test]
    fn thresholds_drain_at_once() {
        assert_eq!(
            next_step(&WorkerView {
                pending_records: 100,
                ..view()
            }),
            NextStep::DrainNow
        );
        assert_eq!(
            next_step(&WorkerView {
                pending_bytes: 1000,
                ..view()
            }),
            NextStep::DrainNow
        );
    }

    #[test]
    fn backoff_postpones_even_past_a_threshold() {
        let v = view();
        let later = v.now + Duration::from_secs(5);
        let backed_off = WorkerView {
            pending_records: 1000,
            earliest_ready: Some(later),
            ..v
        };
        assert_eq!(next_step(&backed_off), NextStep::WaitUntil(later));
    }
}
