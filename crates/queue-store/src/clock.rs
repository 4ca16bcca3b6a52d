//! Where a store reads the time: the wall clock for due times and records,
//! the monotonic clock for leases.
//!
//! The store, not its callers, decides when a job is due and when a lease has
//! lapsed; tests give it a clock they move by hand.
//!
//! Leases are timed on the machine's monotonic clock because the wall clock
//! can be set, stepped by NTP or moved by hand: stepped forward, a wall-clock
//! lease would expire under a worker that is renewing it, and stepped back,
//! it would keep the job of a dead worker for as long as the step. The
//! monotonic clock restarts at every boot, so each reading carries the boot
//! it belongs to, and a lease taken during another boot has lapsed.

use std::sync::{Mutex, PoisonError};

use queue_core::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// The wall-clock time now, in UTC: due times and the records shown to
    /// people are in this time.
    fn now(&self) -> Timestamp;

    /// The monotonic time now: leases are measured in this time.
    fn monotonic(&self) -> MonotonicTime;
}

/// A reading of a clock that only moves forward: milliseconds since the
/// machine booted, with the boot they count from.
///
/// Two readings of one boot compare as numbers; a reading of another boot
/// compares with nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonotonicTime {
    /// Names the boot; on Linux the kernel's `boot_id`.
    pub boot_id: String,
    /// Milliseconds since that boot.
    pub millis: i64,
}

/// The system's clocks: the wall clock and, for leases, `CLOCK_MONOTONIC`.
///
/// `CLOCK_MONOTONIC` stands still while the machine is suspended, which is
/// what leases need on one machine: a suspend pauses every worker on it as
/// much as it pauses the clock, so no lease lapses because of one. (A
/// clock that counts the suspension would expire every lease at resume,
/// and whichever worker woke first would take the others' running jobs.)
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }

    fn monotonic(&self) -> MonotonicTime {
        use nix::time::{ClockId, clock_gettime};

        // CLOCK_MONOTONIC exists on every system this builds for, and std's
        // `Instant` relies on it in the same way; the fallback is never taken.
        let since_boot = clock_gettime(ClockId::CLOCK_MONOTONIC)
            .map(|t| t.tv_sec() * 1000 + t.tv_nsec() / 1_000_000)
            .unwrap_or(0);
        MonotonicTime {
            boot_id: boot_id().to_owned(),
            millis: since_boot,
        }
    }
}

/// This boot's id, read once per process.
fn boot_id() -> &'static str {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID.get_or_init(|| {
        // Known limitation: where the kernel does not say which boot this is
        // (outside Linux, or without /proc), every boot gets the same name,
        // so a lease taken before a reboot lapses only once the new boot's
        // uptime passes its deadline rather than at once.
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|id| id.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned())
    })
}

/// A clock that stands still until moved; for tests and simulations.
///
/// [`advance`](Self::advance) moves the wall clock and the monotonic clock
/// together, as time passing does; [`set`](Self::set) moves the wall clock
/// alone, as an administrator or NTP does; [`reboot`](Self::reboot) starts
/// the monotonic clock of a new boot.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

#[derive(Debug)]
struct ManualState {
    wall: Timestamp,
    boot: u32,
    since_boot_ms: i64,
}

/// The uptime a new [`ManualClock`] shows: an hour, so that no test runs
/// into the start of the monotonic clock.
const MANUAL_UPTIME_MS: i64 = 3_600_000;

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: Timestamp) -> Self {
        Self {
            state: Mutex::new(ManualState {
                wall: now,
                boot: 1,
                since_boot_ms: MANUAL_UPTIME_MS,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets `by` pass: both clocks move forward.
    pub fn advance(&self, by: std::time::Duration) {
        let mut state = self.state();
        state.wall += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        state.since_boot_ms = state.since_boot_ms.saturating_add(millis);
    }

    /// Sets the wall clock to `to`, forward or back; the monotonic clock
    /// does not move.
    pub fn set(&self, to: Timestamp) {
        self.state().wall = to;
    }

    /// Starts a new boot: the monotonic clock starts again from a small
    /// uptime under a new boot id; the wall clock does not move.
    pub fn reboot(&self) {
        let mut state = self.state();
        state.boot += 1;
        state.since_boot_ms = 1000;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state().wall
    }

    fn monotonic(&self) -> MonotonicTime {
        let state = self.state();
        MonotonicTime {
            boot_id: format!("manual-boot-{}", state.boot),
            millis: state.since_boot_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn system_monotonic_clock_moves_forward_within_one_boot() {
        let first = SystemClock.monotonic();
        std::thread::sleep(Duration::from_millis(5));
        let second = SystemClock.monotonic();

        assert_eq!(first.boot_id, second.boot_id);
        assert!(second.millis >= first.millis + 5, "{first:?} {second:?}");
        assert!(!first.boot_id.is_empty());
    }

    #[test]
    fn manual_clock_moves_the_clocks_apart_only_when_asked() {
        let clock = ManualClock::new(chrono::DateTime::UNIX_EPOCH);
        let start = clock.monotonic();

        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.monotonic().millis, start.millis + 2000);
        assert_eq!(clock.now().timestamp(), 2);

        clock.set(chrono::DateTime::UNIX_EPOCH);
        assert_eq!(clock.monotonic().millis, start.millis + 2000);

        clock.reboot();
        assert_ne!(clock.monotonic().boot_id, start.boot_id);
        assert_eq!(clock.now(), chrono::DateTime::UNIX_EPOCH);
    }
}
