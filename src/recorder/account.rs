//! The recorder-wide hold. Some failures concern the credentials or the
//! account, not the stream that happened to meet them: a credentials
//! provider that fails or hangs, a refused signature, an unknown access key,
//! credentials still expired after a refresh. Charging them to that stream
//! would back it off alone (up to an hour) while the next stream meets the
//! same failure; instead automatic submission of every stream waits until
//! the hold ends, and no stream's own backoff changes.

use std::time::{Duration, Instant};

use crate::policy::backoff::Backoff;

#[derive(Debug, Default)]
pub(crate) struct AccountHold {
    /// Consecutive account-level failures.
    failures: u32,
    until: Option<Instant>,
    last_error: Option<String>,
}

impl AccountHold {
    /// Records a failure; returns how long every stream now waits.
    pub fn failed(&mut self, backoff: Backoff, error: String, jitter: f64) -> Duration {
        self.failures += 1;
        let delay = backoff.delay(self.failures, jitter);
        self.until = Some(Instant::now() + delay);
        self.last_error = Some(error);
        delay
    }

    /// A request went through: the account is fine.
    pub fn succeeded(&mut self) {
        *self = AccountHold::default();
    }

    /// When the hold ends, while it holds at `now`.
    pub fn holds_until(&self, now: Instant) -> Option<Instant> {
        self.until.filter(|&until| until > now)
    }

    /// The last account-level failure, until a request goes through.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_with_growing_delays_until_a_success() {
        let mut hold = AccountHold::default();
        let now = Instant::now();
        assert_eq!(hold.holds_until(now), None);
        let first = hold.failed(Backoff::TRANSIENT, "provider timed out".into(), 1.0);
        let second = hold.failed(Backoff::TRANSIENT, "provider timed out".into(), 1.0);
        assert_eq!((first, second), (Duration::from_secs(1), Duration::from_secs(2)));
        assert!(hold.holds_until(Instant::now()).is_some());
        assert_eq!(hold.last_error(), Some("provider timed out"));
        hold.succeeded();
        assert_eq!((hold.holds_until(Instant::now()), hold.last_error()), (None, None));
    }
}
