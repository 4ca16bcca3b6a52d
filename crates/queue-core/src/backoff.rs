//! The retry schedule: how long a failed job waits before it runs again.

use std::time::Duration;

use crate::Timestamp;

/// Exponential backoff: the wait after the `n`th failed attempt is `base^n`
/// seconds, never more than `max`.
///
/// The schedule is a pure function of the attempt number, so it can be shown
/// to users before anything fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// The growth factor. Default 2.
    pub base: f64,
    /// The longest wait. Default one hour.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        Self {
            base: 2.0,
            max: Duration::from_secs(3600),
        }
    }
}

impl BackoffPolicy {
    /// The wait after the `attempt`th failed attempt (counting from 1).
    pub fn delay_after(&self, attempt: u32) -> Duration {
        // powi of a large attempt count is infinite, and a non-finite or
        // negative number of seconds cannot become a Duration: both mean "cap".
        let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
        let secs = self.base.powi(exponent);
        if !secs.is_finite() || secs < 0.0 || secs >= self.max.as_secs_f64() {
            return self.max;
        }
        Duration::from_secs_f64(secs)
    }
}

/// `now` plus `delay`, saturating at the end of representable time.
pub(crate) fn after(now: Timestamp, delay: Duration) -> Timestamp {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|delay| now.checked_add_signed(delay))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schedule_doubles_from_two_seconds() {
        let policy = BackoffPolicy::default();
        let secs: Vec<u64> = (1..=6).map(|n| policy.delay_after(n).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64]);
    }

    #[test]
    fn schedule_is_capped() {
        let policy = BackoffPolicy {
            base: 2.0,
            max: Duration::from_secs(60),
        };
        assert_eq!(policy.delay_after(5), Duration::from_secs(32));
        assert_eq!(policy.delay_after(6), Duration::from_secs(60));
        assert_eq!(policy.delay_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn other_bases_follow_base_to_the_n() {
        let policy = BackoffPolicy {
            base: 3.0,
            max: Duration::from_secs(3600),
        };
        assert_eq!(policy.delay_after(3), Duration::from_secs(27));
        let one = BackoffPolicy {
            base: 1.0,
            max: Duration::from_secs(3600),
        };
        assert_eq!(one.delay_after(100), Duration::from_secs(1));
    }

    #[test]
    fn after_saturates_instead_of_overflowing() {
        let now = chrono::Utc::now();
        assert_eq!(
            after(now, Duration::MAX),
            chrono::DateTime::<chrono::Utc>::MAX_UTC
        );
    }
}
