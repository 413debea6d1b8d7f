//! Clock skew. The service refuses a request signed more than five minutes
//! away from its own clock (`InvalidSignatureException`, "Signature
//! expired"), and devices with wrong clocks are common (set by hand, no
//! real-time clock before NTP). Like the AWS SDKs, the transport learns the
//! offset from the `Date` header of such an answer, signs again once, and
//! adds the offset to the time of every later signature. The offset lives
//! in memory only: a new recorder learns it again, at the cost of one
//! request.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Error types under which services refuse a request for its time.
const SKEW_ERRORS: &[&str] = &[
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "RequestTimeTooSkewed",
    "RequestExpired",
    "RequestInTheFuture",
];

/// A gap smaller than this is not what the service refused (its window is
/// five minutes; the `Date` header has one-second steps).
const SKEWED_BEYOND: Duration = Duration::from_secs(4 * 60);

/// The offset between this device's clock and the service's.
#[derive(Debug, Default)]
pub(crate) struct SkewCorrection {
    offset_ms: AtomicI64,
    /// Corrections made and not yet handed to the stats.
    corrections: AtomicU64,
}

impl SkewCorrection {
    /// The time to sign with: the device's clock plus the learned offset.
    pub fn now(&self) -> SystemTime {
        shift(SystemTime::now(), self.offset_ms.load(Ordering::Relaxed))
    }

    /// Learns the offset from a refusal of a request signed at `signed_at`,
    /// when it is one: the error type is a time refusal and the server's
    /// `Date` is far from the time signed. True when the request should be
    /// signed again.
    pub fn learn(&self, signed_at: SystemTime, code: Option<&str>, server_date: Option<&str>) -> bool {
        let Some(server_now) = server_date.and_then(parse_http_date) else {
            return false;
        };
        if !code.is_some_and(|code| SKEW_ERRORS.contains(&code)) || gap(signed_at, server_now) <= SKEWED_BEYOND {
            return false;
        }
        let offset = signed_ms(server_now) - signed_ms(SystemTime::now());
        self.offset_ms.store(offset, Ordering::Relaxed);
        self.corrections.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            offset_ms = offset,
            "the device clock is off; signing with the service's time"
        );
        true
    }

    /// Corrections made since the last call.
    pub fn take_corrections(&self) -> u64 {
        self.corrections.swap(0, Ordering::Relaxed)
    }
}

fn signed_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_millis() as i64,
        Err(before) => -(before.duration().as_millis() as i64),
    }
}

fn shift(time: SystemTime, ms: i64) -> SystemTime {
    let by = Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        time + by
    } else {
        time - by
    }
}

fn gap(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b).or_else(|_| b.duration_since(a)).unwrap_or_default()
}

/// An HTTP `Date` (IMF-fixdate, `Tue, 01 Dec 2026 10:25:00 GMT`).
fn parse_http_date(text: &str) -> Option<SystemTime> {
    let mut parts = text.split_whitespace().skip(1);
    let day: i64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = 1 + [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m.eq_ignore_ascii_case(month))? as i64;
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next() != Some("GMT") || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + s;
    Some(shift(UNIX_EPOCH, seconds.checked_mul(1000)?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_http_dates() {
        let at = |s| parse_http_date(s).map(signed_ms);
        assert_eq!(at("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(at("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777_000));
        assert_eq!(at("Tue, 01 Dec 2026 10:25:00 GMT"), Some(1_796_120_700_000));
        assert_eq!(at("Tue, 29 Feb 2028 23:59:59 GMT"), Some(1_835_481_599_000));
        for bad in [
            "",
            "yesterday",
            "Tue, 01 Dec 2026 10:25:00",
            "Tue, 01 Foo 2026 10:25:00 GMT",
            "Tue, 41 Dec 2026 10:25:00 GMT",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    /// The HTTP date `offset` seconds from now.
    fn http_date_in(offset: i64) -> String {
        let now = signed_ms(SystemTime::now()) / 1000 + offset;
        let (days, secs) = (now.div_euclid(86_400), now.rem_euclid(86_400));
        // The inverse of `days_from_civil` (H. Hinnant's `civil_from_days`).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        format!(
            "Mon, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
            months[month as usize - 1]
        )
    }

    #[test]
    fn learns_the_offset_from_a_time_refusal_only() {
        let skew = SkewCorrection::default();
        let now = SystemTime::now();
        let ahead = http_date_in(600);
        // Not a time refusal, no date, or a date close to ours: nothing learnt.
        assert!(!skew.learn(now, Some("ResourceNotFoundException"), Some(&ahead)));
        assert!(!skew.learn(now, Some("InvalidSignatureException"), None));
        assert!(!skew.learn(now, Some("InvalidSignatureException"), Some(&http_date_in(60))));
        assert_eq!(skew.take_corrections(), 0);
        // Ten minutes ahead: learnt, and later signatures use it.
        assert!(skew.learn(now, Some("InvalidSignatureException"), Some(&ahead)));
        assert_eq!(skew.take_corrections(), 1);
        assert_eq!(skew.take_corrections(), 0);
        let signed = signed_ms(skew.now()) - signed_ms(SystemTime::now());
        assert!((598_000..=601_000).contains(&signed), "{signed}");
        // Two hours behind, measured against the corrected time it signed with.
        assert!(skew.learn(
            skew.now(),
            Some("InvalidSignatureException"),
            Some(&http_date_in(-7200))
        ));
        let signed = signed_ms(skew.now()) - signed_ms(SystemTime::now());
        assert!((-7_201_000..=-7_198_000).contains(&signed), "{signed}");
    }
}
