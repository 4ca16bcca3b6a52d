//! The queue settings: every key reads any text without panicking, takes
//! back what it shows, and refuses the rest on one line that names the key.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::string::string_regex;
use queue_core::{ConfigKey, QueueConfig, Synchronous};

use crate::{assert_one_line, names, runner};

const LEVELS: [Synchronous; 4] = [
    Synchronous::Off,
    Synchronous::Normal,
    Synchronous::Full,
    Synchronous::Extra,
];

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// The documented range of each duration setting, in nanoseconds.
fn duration_range(key: ConfigKey) -> Option<(u64, u64)> {
    let secs = |secs: u64| secs * 1_000_000_000;
    match key {
        ConfigKey::BackoffMax => Some((secs(1), secs(366 * DAY))),
        ConfigKey::JobTimeout => Some((0, secs(30 * DAY))),
        ConfigKey::Lease => Some((secs(1), secs(DAY))),
        ConfigKey::PollInterval => Some((10_000_000, secs(HOUR))),
        _ => None,
    }
}

/// A duration in `key`'s range: either end, or anywhere between. The job
/// timeout takes whole seconds only.
fn valid_duration(key: ConfigKey) -> impl Strategy<Value = Duration> {
    let (min, max) = duration_range(key).unwrap();
    let nanos = prop_oneof![Just(min), Just(max), min..=max];
    nanos.prop_map(move |nanos| {
        let duration = Duration::from_nanos(nanos);
        if key == ConfigKey::JobTimeout {
            Duration::from_secs(duration.as_secs())
        } else {
            duration
        }
    })
}

/// A configuration with every setting somewhere in its documented range.
fn valid_config() -> impl Strategy<Value = QueueConfig> {
    (
        prop_oneof![Just(1000u32), 0u32..=1000],
        prop_oneof![Just(1.0f64), Just(100.0), 1.0f64..=100.0],
        valid_duration(ConfigKey::BackoffMax),
        valid_duration(ConfigKey::JobTimeout),
        valid_duration(ConfigKey::Lease),
        valid_duration(ConfigKey::PollInterval),
        prop_oneof![Just(1024u64), Just(64 << 20), 1024u64..=64 << 20],
        select(LEVELS.to_vec()),
    )
        .prop_map(
            |(max_retries, base, backoff_max, timeout, lease, poll, output, synchronous)| {
                QueueConfig {
                    max_retries,
                    backoff_base: base,
                    backoff_max,
                    job_timeout: timeout,
                    lease,
                    poll_interval: poll,
                    output_limit_bytes: output,
                    synchronous,
                }
            },
        )
}

/// Text a user might give a setting: numbers with and without units (the
/// forms durations take), level names in any case, and anything at all.
fn setting_text() -> impl Strategy<Value = String> {
    let units = "(ns|us|ms|s|sec|m|min|h|hr|d|day|days|w|week|M|month|y|year|years|)";
    let number = "[-+]?[0-9]{0,21}(\\.[0-9]{0,4})?([eE][-+]?[0-9]{1,3})?";
    let amounts = format!(" ?{number} ?{units}( ?[0-9]{{1,20}} ?{units}){{0,3}} ?");
    let level = select(LEVELS.map(Synchronous::as_str).to_vec()).prop_map(|level| {
        level
            .char_indices()
            .map(|(at, c)| {
                if at % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    });
    prop_oneof![
        3 => string_regex(&amounts).expect("a valid pattern"),
        1 => level,
        2 => prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
    ]
}

proptest! {
    #![proptest_config(runner())]

    /// Any text for any key is taken or refused without a panic; a refusal
    /// is one line naming the key and changes nothing, and a value taken is
    /// shown in a form that reads back to the same setting.
    #[test]
    fn any_text_is_taken_or_refused_by_name(
        start in valid_config(),
        key in select(ConfigKey::ALL.to_vec()),
        text in setting_text(),
    ) {
        let mut config = start;
        match config.set(key, &text) {
            Ok(()) => {
                let shown = config.get(key);
                let mut again = start;
                prop_assert_eq!(again.set(key, &shown), Ok(()), "{} shown as {}", text, shown);
                prop_assert_eq!(again, config, "{} shown as {}", text, shown);
            }
            Err(err) => {
                let message = err.to_string();
                assert_one_line(&message);
                prop_assert!(names(&message, key.as_str()), "{}", message);
                prop_assert_eq!(config, start);
            }
        }
    }

    /// Every setting of a valid configuration, shown and read back, gives
    /// the same configuration.
    #[test]
    fn shown_settings_read_back_the_same(config in valid_config()) {
        let mut read = QueueConfig::default();
        for key in ConfigKey::ALL {
            let shown = config.get(key);
            prop_assert_eq!(read.set(key, &shown), Ok(()), "{} = {}", key, shown);
        }
        prop_assert_eq!(read, config);
    }

    /// A duration setting takes exactly its documented range, to the
    /// nanosecond, whether written in one unit or several.
    #[test]
    fn durations_are_taken_exactly_within_their_limits(
        key in select(vec![
            ConfigKey::BackoffMax,
            ConfigKey::JobTimeout,
            ConfigKey::Lease,
            ConfigKey::PollInterval,
        ]),
        pick in 0..3,
        by in -2i64..=2,
        anywhere in 0u64..=400 * DAY * 1_000_000_000,
        split in any::<bool>(),
    ) {
        let (min, max) = duration_range(key).unwrap();
        let nanos = match pick {
            0 => min.saturating_add_signed(by),
            1 => max.saturating_add_signed(by),
            _ => anywhere,
        };
        let duration = Duration::from_nanos(nanos);
        let text = if split {
            format!("{}s {}ns", duration.as_secs(), duration.subsec_nanos())
        } else {
            format!("{nanos}ns")
        };
        let whole = key != ConfigKey::JobTimeout || duration.subsec_nanos() == 0;
        let valid = (min..=max).contains(&nanos) && whole;
        let mut config = QueueConfig::default();
        match config.set(key, &text) {
            Ok(()) => prop_assert!(valid, "{} = {} accepted", key, text),
            Err(err) => prop_assert!(!valid, "{} = {} refused: {}", key, text, err),
        }
    }

    /// Key names read back as their keys, in either spelling, and any other
    /// text is refused on one line.
    #[test]
    fn keys_are_read_by_name_only(text in prop::collection::vec(any::<char>(), 0..24)) {
        for key in ConfigKey::ALL {
            prop_assert_eq!(key.as_str().parse::<ConfigKey>(), Ok(key));
            prop_assert_eq!(key.as_str().replace('-', "_").parse::<ConfigKey>(), Ok(key));
        }
        let text = String::from_iter(text);
        match text.parse::<ConfigKey>() {
            Ok(key) => prop_assert_eq!(text.trim().replace('_', "-"), key.as_str()),
            Err(err) => assert_one_line(&err.to_string()),
        }
        if let Err(err) = text.parse::<Synchronous>() {
            assert_one_line(&err.to_string());
        }
    }
}

#[test]
fn every_number_setting_takes_its_limits_and_refuses_one_past() {
    // The floats either side of the range, written exactly.
    let below_one = f64::from_bits(1.0f64.to_bits() - 1).to_string();
    let above_hundred = f64::from_bits(100.0f64.to_bits() + 1).to_string();
    let cases = [
        (ConfigKey::MaxRetries, ["0", "1000"], ["-1", "1001"]),
        (
            ConfigKey::OutputLimit,
            ["1024", "67108864"],
            ["1023", "67108865"],
        ),
        (
            ConfigKey::BackoffBase,
            ["1", "100"],
            [below_one.as_str(), above_hundred.as_str()],
        ),
    ];
    for (key, taken, refused) in cases {
        for text in taken {
            let mut config = QueueConfig::default();
            assert_eq!(config.set(key, text), Ok(()), "{key} = {text}");
        }
        for text in refused {
            let mut config = QueueConfig::default();
            let message = config.set(key, text).unwrap_err().to_string();
            assert!(
                message.contains("for ") && names(&message, key.as_str()),
                "{message}"
            );
        }
    }
}
