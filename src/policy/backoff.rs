//! Exponential backoff with jitter.

use std::time::Duration;

/// Delays that double with each consecutive failure up to `max`, with "equal
/// jitter": half the delay is fixed, half is random, so many devices that
/// failed together do not retry together, yet no retry comes too soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// After per-record rejections (throttling, internal failure).
    pub const RECORD_REJECTED: Backoff = Backoff {
        base: Duration::from_millis(200),
        max: Duration::from_secs(30),
    };
    /// After a network error, a timeout, a 5xx or a throttled call.
    pub const TRANSIENT: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(300),
    };
    /// After the service refused the stream (not found, access denied...):
    /// needs a fix on the account side, so retry rarely.
    pub const STREAM_REJECTED: Backoff = Backoff {
        base: Duration::from_secs(60),
        max: Duration::from_secs(3600),
    };

    /// The wait after `failures` consecutive failures (1 = the first), with
    /// `jitter` drawn uniformly from [0, 1).
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(4));
        assert_eq!(b.delay(5, 1.0), Duration::from_secs(10));
        assert_eq!(b.delay(u32::MAX, 1.0), Duration::from_secs(10));
    }

    #[test]
    fn jitter_spans_the_upper_half() {
        let b = Backoff::TRANSIENT;
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(1, 0.5), Duration::from_millis(750));
        assert!(b.delay(1, 0.999) < Duration::from_secs(1));
    }
}
