//! The settings that every worker on a queue shares, and the rules for each.
//!
//! Settings are stored as text in the queue's database so that every process
//! reads the same values; [`ConfigKey`] parses and checks that text. Durations
//! accept a plain number of seconds or a unit suffix (`500ms`, `2m`, `1h`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::{BackoffPolicy, ConfigError, JobDefaults};

/// The queue-wide settings, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueConfig {
    /// Retries after the first attempt, for jobs that do not say. Default 3.
    pub max_retries: u32,
    /// Backoff growth factor: the wait after attempt n is `base^n` seconds. Default 2.
    pub backoff_base: f64,
    /// The longest backoff wait. Default 1 hour.
    pub backoff_max: Duration,
    /// Attempt time limit for jobs that do not say; zero means none. Default none.
    pub job_timeout: Duration,
    /// How long a claim lasts without renewal. Default 30 s.
    pub lease: Duration,
    /// How often an idle worker looks for due jobs. Default 1 s.
    pub poll_interval: Duration,
    /// The most bytes of each of stdout and stderr kept per attempt. Default 64 KiB.
    pub output_limit_bytes: u64,
    /// How hard a commit works to survive an OS crash or power loss, for
    /// stores that sync to a local disk. Default [`Synchronous::Normal`].
    pub synchronous: Synchronous,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            backoff_base: 2.0,
            backoff_max: Duration::from_secs(3600),
            job_timeout: Duration::ZERO,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            output_limit_bytes: 64 * 1024,
            synchronous: Synchronous::Normal,
        }
    }
}

impl QueueConfig {
    /// The retry schedule these settings describe.
    pub fn backoff(&self) -> BackoffPolicy {
        BackoffPolicy {
            base: self.backoff_base,
            max: self.backoff_max,
        }
    }

    /// The defaults new jobs take.
    pub fn job_defaults(&self) -> JobDefaults {
        JobDefaults {
            max_retries: self.max_retries,
            timeout_secs: self.job_timeout.as_secs(),
        }
    }

    /// Sets `key` from its text form, checking it first; on error nothing changes.
    pub fn set(&mut self, key: ConfigKey, value: &str) -> Result<(), ConfigError> {
        let bad = |reason: &str| ConfigError::BadValue {
            key: key.as_str(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let value = value.trim();
        match key {
            ConfigKey::MaxRetries => {
                self.max_retries = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= crate::spec::MAX_RETRIES_LIMIT)
                    .ok_or_else(|| bad("expected a whole number from 0 to 1000"))?;
            }
            ConfigKey::BackoffBase => {
                self.backoff_base = value
                    .parse::<f64>()
                    .ok()
                    .filter(|b| b.is_finite() && (1.0..=100.0).contains(b))
                    .ok_or_else(|| bad("expected a number from 1 to 100"))?;
            }
            ConfigKey::BackoffMax => {
                self.backoff_max = parse_duration(value)
                    .filter(|d| within(*d, Duration::from_secs(1), 366 * 24 * 3600))
                    .ok_or_else(|| bad("expected a duration from 1s to 366 days, such as 1h"))?;
            }
            ConfigKey::JobTimeout => {
                self.job_timeout = parse_duration(value)
                    .filter(|d| within(*d, Duration::ZERO, crate::spec::TIMEOUT_LIMIT_SECS))
                    .filter(|d| d.subsec_nanos() == 0)
                    .ok_or_else(|| bad("expected whole seconds up to 30 days; 0 means none"))?;
            }
            ConfigKey::Lease => {
                self.lease = parse_duration(value)
                    .filter(|d| within(*d, Duration::from_secs(1), 24 * 3600))
                    .ok_or_else(|| bad("expected a duration from 1s to 24h, such as 30s"))?;
            }
            ConfigKey::PollInterval => {
                self.poll_interval = parse_duration(value)
                    .filter(|d| within(*d, Duration::from_millis(10), 3600))
                    .ok_or_else(|| bad("expected a duration from 10ms to 1h, such as 500ms"))?;
            }
            ConfigKey::OutputLimit => {
                self.output_limit_bytes = value
                    .parse()
                    .ok()
                    .filter(|n| (1024..=64 * 1024 * 1024).contains(n))
                    .ok_or_else(|| bad("expected a number of bytes from 1024 to 67108864"))?;
            }
            ConfigKey::Synchronous => {
                self.synchronous = value
                    .parse()
                    .map_err(|_| bad("expected off, normal, full or extra"))?;
            }
        }
        Ok(())
    }

    /// The text form of `key`'s value, as [`set`](Self::set) reads it.
    pub fn get(&self, key: ConfigKey) -> String {
        match key {
            ConfigKey::MaxRetries => self.max_retries.to_string(),
            ConfigKey::BackoffBase => self.backoff_base.to_string(),
            ConfigKey::BackoffMax => format_duration(self.backoff_max),
            ConfigKey::JobTimeout => format_duration(self.job_timeout),
            ConfigKey::Lease => format_duration(self.lease),
            ConfigKey::PollInterval => format_duration(self.poll_interval),
            ConfigKey::OutputLimit => self.output_limit_bytes.to_string(),
            ConfigKey::Synchronous => self.synchronous.as_str().to_owned(),
        }
    }
}

/// Whether `duration` is from `min` to `max_secs` seconds, compared to the
/// nanosecond so that a fraction of a second past the limit is refused.
fn within(duration: Duration, min: Duration, max_secs: u64) -> bool {
    (min..=Duration::from_secs(max_secs)).contains(&duration)
}

/// A plain number is seconds; anything else is read by `humantime` (`500ms`, `1h 30m`).
fn parse_duration(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).ok()
}

fn format_duration(duration: Duration) -> String {
    if duration.is_zero() {
        "0s".to_owned()
    } else {
        humantime::format_duration(duration)
            .to_string()
            .replace(' ', "")
    }
}

/// A setting's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigKey {
    /// `max-retries`: retries after the first attempt for jobs that do not say.
    MaxRetries,
    /// `backoff-base`: the backoff growth factor.
    BackoffBase,
    /// `backoff-max`: the longest backoff wait.
    BackoffMax,
    /// `job-timeout`: the attempt time limit for jobs that do not say.
    JobTimeout,
    /// `lease`: how long a claim lasts without renewal.
    Lease,
    /// `poll-interval`: how often an idle worker looks for due jobs.
    PollInterval,
    /// `output-limit`: bytes of each output stream kept per attempt.
    OutputLimit,
    /// `synchronous`: how hard a commit works to survive an OS crash or power loss.
    Synchronous,
}

impl ConfigKey {
    /// Every key, in the order `config list` shows them.
    pub const ALL: [ConfigKey; 8] = [
        ConfigKey::MaxRetries,
        ConfigKey::BackoffBase,
        ConfigKey::BackoffMax,
        ConfigKey::JobTimeout,
        ConfigKey::Lease,
        ConfigKey::PollInterval,
        ConfigKey::OutputLimit,
        ConfigKey::Synchronous,
    ];

    /// The key's name as users type it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigKey::MaxRetries => "max-retries",
            ConfigKey::BackoffBase => "backoff-base",
            ConfigKey::BackoffMax => "backoff-max",
            ConfigKey::JobTimeout => "job-timeout",
            ConfigKey::Lease => "lease",
            ConfigKey::PollInterval => "poll-interval",
            ConfigKey::OutputLimit => "output-limit",
            ConfigKey::Synchronous => "synchronous",
        }
    }

    /// What the setting does, with its unit.
    pub fn description(self) -> &'static str {
        match self {
            ConfigKey::MaxRetries => "retries after the first attempt, for jobs that do not say",
            ConfigKey::BackoffBase => "backoff growth: the wait after attempt n is base^n seconds",
            ConfigKey::BackoffMax => "the longest wait between retries",
            ConfigKey::JobTimeout => "attempt time limit for jobs that do not say (0s: none)",
            ConfigKey::Lease => "how long a worker's claim lasts without a heartbeat",
            ConfigKey::PollInterval => "how often an idle worker looks for due jobs",
            ConfigKey::OutputLimit => "bytes of each of stdout and stderr kept per attempt",
            ConfigKey::Synchronous => "commit durability: off, normal, full or extra",
        }
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ConfigKey {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept the snake_case spelling of the JSON spec too.
        let normalized = s.trim().replace('_', "-");
        ConfigKey::ALL
            .into_iter()
            .find(|key| key.as_str() == normalized)
            .ok_or_else(|| ConfigError::UnknownKey {
                key: s.to_owned(),
                known: ConfigKey::ALL.map(ConfigKey::as_str).join(", "),
            })
    }
}

/// How hard SQLite works to make a commit survive a crash of the machine.
///
/// Every level keeps an acknowledged commit through a crash of the process
/// (killed, aborted, out of memory): a commit returns only once its pages
/// are with the operating system, which writes them out whatever becomes of
/// the process. The levels differ in what survives the operating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// No syncs: a commit can be lost by an OS crash or power loss, and the
    /// database can be corrupted by one.
    Off,
    /// With WAL, sync at checkpoints only: the last commits can be lost by an
    /// OS crash or power loss, but the database stays intact. The default.
    #[default]
    Normal,
    /// Sync the log at every commit: an acknowledged commit survives an OS
    /// crash or power loss, on a disk that honours the sync.
    Full,
    /// As `Full`, and also syncs the directory after a journal file is
    /// deleted; with the write-ahead log that queuectl uses, the same as `Full`.
    Extra,
}

impl Synchronous {
    /// The name SQLite's `PRAGMA synchronous` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Off => "off",
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
            Synchronous::Extra => "extra",
        }
    }
}

impl FromStr for Synchronous {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Synchronous::Off),
            "normal" => Ok(Synchronous::Normal),
            "full" => Ok(Synchronous::Full),
            "extra" => Ok(Synchronous::Extra),
            _ => Err(ConfigError::BadValue {
                key: "synchronous",
                value: s.to_owned(),
                reason: "expected off, normal, full or extra".to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_its_default() {
        let defaults = QueueConfig::default();
        for key in ConfigKey::ALL {
            let mut config = QueueConfig::default();
            config.set(key, &defaults.get(key)).unwrap();
            assert_eq!(config, defaults, "{key}");
            assert_eq!(key.as_str().parse::<ConfigKey>(), Ok(key));
        }
    }

    #[test]
    fn durations_take_seconds_or_units() {
        let mut config = QueueConfig::default();
        config.set(ConfigKey::PollInterval, "250ms").unwrap();
        assert_eq!(config.poll_interval, Duration::from_millis(250));
        config.set(ConfigKey::Lease, "45").unwrap();
        assert_eq!(config.lease, Duration::from_secs(45));
        config.set(ConfigKey::BackoffMax, "2h").unwrap();
        assert_eq!(config.get(ConfigKey::BackoffMax), "2h");
    }

    #[test]
    fn synchronous_takes_each_level_in_any_case() {
        let mut config = QueueConfig::default();
        for (text, level) in [
            ("off", Synchronous::Off),
            ("NORMAL", Synchronous::Normal),
            (" Full ", Synchronous::Full),
            ("extra", Synchronous::Extra),
        ] {
            config.set(ConfigKey::Synchronous, text).unwrap();
            assert_eq!(config.synchronous, level);
            assert_eq!(config.get(ConfigKey::Synchronous), level.as_str());
        }
    }

    #[test]
    fn bad_values_are_refused_and_change_nothing() {
        let cases = [
            (ConfigKey::MaxRetries, "-1"),
            (ConfigKey::MaxRetries, "1001"),
            (ConfigKey::MaxRetries, "three"),
            (ConfigKey::BackoffBase, "0.5"),
            (ConfigKey::BackoffBase, "NaN"),
            (ConfigKey::BackoffBase, "inf"),
            (ConfigKey::BackoffMax, "0"),
            (ConfigKey::JobTimeout, "1.5s"),
            (ConfigKey::JobTimeout, "99999999999999999999"),
            (ConfigKey::Lease, "0"),
            (ConfigKey::Lease, "2d"),
            (ConfigKey::PollInterval, "1ms"),
            (ConfigKey::OutputLimit, "10"),
            (ConfigKey::OutputLimit, ""),
            (ConfigKey::Synchronous, "2"),
            (ConfigKey::Synchronous, "fsync"),
        ];
        for (key, value) in cases {
            let mut config = QueueConfig::default();
            let err = config.set(key, value).expect_err(value);
            assert!(err.to_string().contains(key.as_str()), "{err}");
            assert_eq!(config, QueueConfig::default());
        }
    }

    #[test]
    fn a_fraction_of_a_second_past_a_limit_is_refused() {
        let cases = [
            (ConfigKey::BackoffMax, "366d", "31622400000000001ns"),
            (ConfigKey::Lease, "24h", "86400s 1ns"),
            (ConfigKey::PollInterval, "1h", "1h 500ms"),
        ];
        for (key, limit, past) in cases {
            let mut config = QueueConfig::default();
            config.set(key, limit).unwrap();
            let err = config.set(key, past).expect_err(past);
            assert!(err.to_string().contains(key.as_str()), "{err}");
        }
    }

    #[test]
    fn unknown_keys_list_the_known_ones() {
        let err = "retries".parse::<ConfigKey>().unwrap_err().to_string();
        assert!(err.contains("unknown config key \"retries\""), "{err}");
        assert!(err.contains("max-retries"), "{err}");
        assert_eq!(
            "max_retries".parse::<ConfigKey>(),
            Ok(ConfigKey::MaxRetries)
        );
    }
}
