//! The JSON job spec: whatever text arrives, `JobSpec::from_json` answers
//! with a spec or a one-line error, and the error names the field at fault.

use std::time::Duration;

use chrono::{FixedOffset, SecondsFormat, TimeZone, Utc};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;
use queue_core::{
    DELAY_LIMIT_SECS, JobDefaults, JobId, JobSpec, MAX_ID_LEN, MAX_RETRIES_LIMIT, PRIORITY_LIMIT,
    SHELL_KIND, TIMEOUT_LIMIT_SECS, Timestamp,
};
use serde_json::{Map, Value, json};

use crate::{assert_one_line, names, runner};

/// Every field of the JSON form.
const FIELDS: [&str; 9] = [
    "id",
    "kind",
    "command",
    "payload",
    "priority",
    "max_retries",
    "run_at",
    "delay",
    "timeout",
];

/// The whole-number fields with their documented ranges.
const NUMBERS: [(&str, i64, i64); 4] = [
    ("priority", -(PRIORITY_LIMIT as i64), PRIORITY_LIMIT as i64),
    ("max_retries", 0, MAX_RETRIES_LIMIT as i64),
    ("timeout", 0, TIMEOUT_LIMIT_SECS as i64),
    ("delay", 0, DELAY_LIMIT_SECS as i64),
];

/// Any string at all, control characters and all.
fn any_string(max_chars: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..=max_chars).prop_map(String::from_iter)
}

/// Strings a parser of this spec is likely to meet: field names, kinds,
/// times, blanks, numbers as text, and anything at all.
fn field_string() -> impl Strategy<Value = String> {
    let likely = select(vec![
        "",
        " ",
        "\n",
        "shell",
        "email",
        "true",
        "5",
        "-1",
        "null",
        "a b",
        "job-1",
        "2026-12-24T10:00:00Z",
        "2026-12-24T10:00:00+01:00",
        "2026-02-30T10:00:00Z",
        "9999-12-31T23:59:59.999999999-23:59",
        "0000-01-01T00:00:00+23:59",
    ])
    .prop_map(String::from);
    prop_oneof![
        2 => likely,
        1 => select(FIELDS.to_vec()).prop_map(String::from),
        3 => any_string(24),
    ]
}

/// Numbers on and beside every documented limit, at the ends of the integer
/// types, beyond 64 bits, fractional, and anywhere.
fn any_number() -> impl Strategy<Value = Value> {
    let limits = vec![
        0,
        PRIORITY_LIMIT as i64,
        MAX_RETRIES_LIMIT as i64,
        TIMEOUT_LIMIT_SECS as i64,
        DELAY_LIMIT_SECS as i64,
        i64::MAX,
    ];
    let near_limit = (select(limits), -2i64..=2, any::<bool>()).prop_map(|(limit, by, below)| {
        let n = limit.saturating_add(by);
        if below { -n } else { n }
    });
    prop_oneof![
        3 => near_limit.prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => (i64::MAX as u64 + 1..=u64::MAX).prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => (-3i64..=3).prop_map(|n| Value::from(n as f64 + 0.5)),
    ]
}

/// Any JSON value, nested a few levels deep, with objects keyed mostly by
/// the spec's own field names.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any_number(),
        field_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any_key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// A key for an object: one of the spec's fields, most of the time.
fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(FIELDS.to_vec()).prop_map(String::from),
        1 => any_string(12),
    ]
}

/// The text of an object with these entries in this order, duplicates kept
/// (which a `serde_json::Map` would merge).
fn object_text(entries: &[(String, Value)]) -> String {
    let entries: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{}:{value}", Value::from(key.as_str())))
        .collect();
    format!("{{{}}}", entries.join(","))
}

/// A valid id: up to 32 characters (so at most 128 bytes), none white space
/// or control.
fn valid_id() -> impl Strategy<Value = String> {
    let char = any::<char>().prop_filter("printable", |c| !c.is_whitespace() && !c.is_control());
    prop::collection::vec(char, 1..=32).prop_map(String::from_iter)
}

/// A valid kind other than the shell's.
fn valid_kind() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._:-]{1,64}".prop_filter("not the shell kind", |kind| kind != SHELL_KIND)
}

/// A command with something besides white space in it.
fn valid_command() -> impl Strategy<Value = String> {
    any_string(40).prop_filter("not blank", |command| !command.trim().is_empty())
}

/// A time as RFC 3339 text, in any offset and precision that chrono writes,
/// with the instant it stands for. Offsets are whole minutes, as RFC 3339
/// writes them, and years stay within its four digits in every offset.
fn valid_time() -> impl Strategy<Value = (String, Timestamp)> {
    let first = Utc.with_ymd_and_hms(1, 1, 2, 0, 0, 0).unwrap().timestamp();
    let last = Utc
        .with_ymd_and_hms(9999, 12, 30, 0, 0, 0)
        .unwrap()
        .timestamp();
    let formats = vec![
        (SecondsFormat::Secs, 1_000_000_000),
        (SecondsFormat::Millis, 1_000_000),
        (SecondsFormat::Micros, 1_000),
        (SecondsFormat::Nanos, 1),
        (SecondsFormat::AutoSi, 1),
    ];
    (
        first..=last,
        0u32..1_000_000_000,
        -1439i32..=1439,
        select(formats),
        any::<bool>(),
    )
        .prop_map(|(secs, nanos, offset, (format, unit), use_z)| {
            let at = Utc.timestamp_opt(secs, nanos / unit * unit).unwrap();
            let offset = FixedOffset::east_opt(offset * 60).unwrap();
            let text = at.with_timezone(&offset).to_rfc3339_opts(format, use_z);
            (text, at)
        })
}

/// When a valid spec says its job runs.
#[derive(Debug, Clone)]
enum When {
    Now,
    At(String, Timestamp),
    Delay(u64),
}

fn valid_when() -> impl Strategy<Value = When> {
    prop_oneof![
        Just(When::Now),
        valid_time().prop_map(|(text, at)| When::At(text, at)),
        prop_oneof![Just(0), Just(DELAY_LIMIT_SECS), 0..=DELAY_LIMIT_SECS].prop_map(When::Delay),
    ]
}

/// What a valid spec runs: a shell command, or a kind with an optional payload.
#[derive(Debug, Clone)]
enum What {
    Shell {
        command: String,
        kind_named: bool,
    },
    Other {
        kind: String,
        payload: Option<Value>,
    },
}

fn valid_what() -> impl Strategy<Value = What> {
    prop_oneof![
        (valid_command(), any::<bool>()).prop_map(|(command, kind_named)| What::Shell {
            command,
            kind_named
        }),
        (valid_kind(), option::of(any_json()))
            .prop_map(|(kind, payload)| What::Other { kind, payload }),
    ]
}

/// A valid spec as the fields of its JSON form, in order, with the spec that
/// the form stands for. Unset options are left out or written as `null`.
fn valid_spec() -> impl Strategy<Value = (Vec<(String, Value)>, JobSpec)> {
    let priority = prop_oneof![
        Just(-PRIORITY_LIMIT),
        Just(PRIORITY_LIMIT),
        -PRIORITY_LIMIT..=PRIORITY_LIMIT,
    ];
    let max_retries = prop_oneof![Just(MAX_RETRIES_LIMIT), 0..=MAX_RETRIES_LIMIT];
    let timeout = prop_oneof![Just(TIMEOUT_LIMIT_SECS), 0..=TIMEOUT_LIMIT_SECS];
    (
        option::of(valid_id()),
        valid_what(),
        option::of(priority),
        option::of(max_retries),
        valid_when(),
        option::of(timeout),
        any::<bool>(),
    )
        .prop_map(|(id, what, priority, max_retries, when, timeout, nulls)| {
            let mut fields = Vec::new();
            let mut field = |name: &str, value: Option<Value>| match value {
                Some(value) => fields.push((name.to_owned(), value)),
                None if nulls => fields.push((name.to_owned(), Value::Null)),
                None => {}
            };

            let mut spec = match &what {
                What::Shell {
                    command,
                    kind_named,
                } => {
                    field("kind", kind_named.then(|| json!(SHELL_KIND)));
                    field("command", Some(json!(command)));
                    JobSpec::shell(command)
                }
                What::Other { kind, payload } => {
                    field("kind", Some(json!(kind)));
                    field("payload", payload.clone());
                    let mut spec = JobSpec::new(kind, Value::Null);
                    // A null payload is the same as none.
                    spec.payload = payload.clone().filter(|payload| !payload.is_null());
                    spec
                }
            };
            field("id", id.as_ref().map(|id| json!(id)));
            if let Some(id) = id {
                spec = spec.with_id(JobId::new(id).unwrap());
            }
            field("priority", priority.map(|n| json!(n)));
            spec = spec.with_priority(priority.unwrap_or(0));
            field("max_retries", max_retries.map(|n| json!(n)));
            spec.max_retries = max_retries;
            field("timeout", timeout.map(|n| json!(n)));
            spec.timeout_secs = timeout;
            match when {
                When::Now => {}
                When::At(text, at) => {
                    field("run_at", Some(json!(text)));
                    spec = spec.with_run_at(at);
                }
                When::Delay(secs) => {
                    field("delay", Some(json!(secs)));
                    spec = spec.with_delay(Duration::from_secs(secs));
                }
            }
            (fields, spec)
        })
}

/// Text that is nearly a valid spec: one cut short, or with one character
/// put in or taken out somewhere.
fn mangled_spec() -> impl Strategy<Value = String> {
    (
        valid_spec(),
        any::<prop::sample::Index>(),
        any::<char>(),
        0..3,
    )
        .prop_map(|((fields, _), at, extra, edit)| {
            let mut chars: Vec<char> = object_text(&fields).chars().collect();
            let at = at.index(chars.len() + 1);
            match edit {
                0 => chars.truncate(at),
                1 => chars.insert(at, extra),
                _ if at < chars.len() => {
                    chars.remove(at);
                }
                _ => {}
            }
            String::from_iter(chars)
        })
}

/// Any text: characters of every kind, the punctuation of JSON, bytes that
/// were not UTF-8, and nearly valid specs.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any_string(64),
        "[{}\\[\\]\":,.0-9eE+a-z_\\\\ \n-]{0,64}",
        prop::collection::vec(any::<u8>(), 0..64)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        mangled_spec(),
    ]
}

/// Parses `text`, checking what every answer must satisfy: an error is one
/// line, and an accepted spec passes validation and resolves.
fn parse(text: &str) -> Result<JobSpec, String> {
    match JobSpec::from_json(text) {
        Ok(spec) => {
            assert_eq!(spec.validate(), Ok(()), "accepted but invalid: {text}");
            let defaults = JobDefaults {
                max_retries: 3,
                timeout_secs: 0,
            };
            let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            assert!(spec.clone().resolve(&defaults, now).is_ok(), "{text}");
            Ok(spec)
        }
        Err(err) => {
            let message = err.to_string();
            assert_one_line(&message);
            Err(message)
        }
    }
}

/// `entries` with `name` set to `value`: replaced where it was, added last
/// otherwise. Setting one of `run_at` and `delay` drops the other, since the
/// two are refused together.
fn with_field(entries: &[(String, Value)], name: &str, value: Value) -> Vec<(String, Value)> {
    let rival = match name {
        "run_at" => Some("delay"),
        "delay" => Some("run_at"),
        _ => None,
    };
    let mut entries: Vec<_> = entries
        .iter()
        .filter(|(key, _)| Some(key.as_str()) != rival)
        .cloned()
        .collect();
    match entries.iter_mut().find(|(key, _)| key == name) {
        Some(entry) => entry.1 = value,
        None => entries.push((name.to_owned(), value)),
    }
    entries
}

proptest! {
    #![proptest_config(runner())]

    /// No text makes the parser panic, and every refusal is one line.
    #[test]
    fn any_text_gives_a_spec_or_a_one_line_error(text in any_text()) {
        let _ = parse(&text);
    }

    /// Any JSON value at all, and any object (duplicate keys and all), gives
    /// a spec or a one-line error.
    #[test]
    fn any_json_gives_a_spec_or_a_one_line_error(
        value in any_json(),
        entries in prop::collection::vec((any_key(), any_json()), 0..10),
    ) {
        let _ = parse(&value.to_string());
        let _ = parse(&object_text(&entries));
    }

    /// A valid spec written as JSON reads back as the spec it describes.
    #[test]
    fn valid_specs_round_trip((fields, spec) in valid_spec()) {
        let text = object_text(&fields);
        prop_assert_eq!(parse(&text), Ok(spec), "{}", text);
    }

    /// Changing one field of a valid spec to any value either gives a spec
    /// or an error that names that field.
    #[test]
    fn an_error_names_the_one_bad_field(
        (fields, _) in valid_spec(),
        name in select(FIELDS.to_vec()),
        value in any_json(),
    ) {
        let text = object_text(&with_field(&fields, name, value));
        if let Err(message) = parse(&text) {
            // The kind decides whether a spec takes a command or a payload,
            // so a changed kind may be reported as the field it now lacks or
            // forbids: `{"kind":null}` is a shell job whose command is empty.
            let named = names(&message, name)
                || name == "kind" && (names(&message, "command") || names(&message, "payload"));
            prop_assert!(named, "{} does not name {}: {}", text, name, message);
        }
    }

    /// A field the spec does not have is refused by its name.
    #[test]
    fn unknown_fields_are_refused_by_name(
        (fields, _) in valid_spec(),
        name in any_string(12).prop_filter("unknown", |name| !FIELDS.contains(&name.as_str())),
        value in any_json(),
    ) {
        let text = object_text(&with_field(&fields, &name, value));
        let message = parse(&text).expect_err(&text);
        // A name with characters that `{:?}` would escape is shown escaped.
        if name.chars().all(|c| c.escape_debug().eq([c]) || "\\\"'".contains(c)) {
            let expected = format!("unknown field `{name}`");
            prop_assert!(message.contains(&expected), "{}", message);
        } else {
            prop_assert!(message.contains("unknown field `"), "{}", message);
        }
    }

    /// A field given twice is refused by name, whatever the second value.
    #[test]
    fn repeated_fields_are_refused_by_name(
        (fields, _) in valid_spec(),
        which in any::<prop::sample::Index>(),
        value in any_json(),
    ) {
        let name = fields[which.index(fields.len())].0.clone();
        let mut entries = fields;
        entries.push((name.clone(), value));
        let text = object_text(&entries);
        let message = parse(&text).expect_err(&text);
        let expected = format!("duplicate field `{name}`");
        prop_assert!(message.contains(&expected), "{}", message);
    }

    /// Each whole-number field takes exactly its documented range, and a
    /// number outside it is refused with the field and the range.
    #[test]
    fn numbers_are_taken_exactly_within_their_limits(
        (name, min, max) in select(NUMBERS.to_vec()),
        pick in 0..3,
        by in -3i64..=3,
        anywhere in any::<i64>(),
    ) {
        let n = match pick {
            0 => min.saturating_add(by),
            1 => max.saturating_add(by),
            _ => anywhere,
        };
        let text = object_text(&[("command".into(), json!("true")), (name.into(), json!(n))]);
        let parsed = parse(&text);
        if (min..=max).contains(&n) {
            let spec = parsed.expect(&text);
            let read = match name {
                "priority" => i64::from(spec.priority),
                "max_retries" => i64::from(spec.max_retries.unwrap()),
                "timeout" => spec.timeout_secs.unwrap() as i64,
                _ => spec.delay.unwrap().as_secs() as i64,
            };
            prop_assert_eq!(read, n);
        } else {
            let expected = format!("{name} must be between {min} and {max}, got {n}");
            prop_assert_eq!(parsed, Err(expected));
        }
    }

    /// A spec built in code passes validation exactly when each of its
    /// numbers is within its documented limit, to the nanosecond.
    #[test]
    fn validation_holds_built_specs_to_the_same_limits(
        priority in any::<i32>(),
        max_retries in prop_oneof![Just(MAX_RETRIES_LIMIT + 1), any::<u32>()],
        timeout in prop_oneof![Just(TIMEOUT_LIMIT_SECS + 1), any::<u64>()],
        delay_secs in prop_oneof![DELAY_LIMIT_SECS - 1..=DELAY_LIMIT_SECS + 1, any::<u64>()],
        delay_nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        which in 0..4,
    ) {
        let spec = JobSpec::shell("true");
        let (spec, valid) = match which {
            0 => (spec.with_priority(priority), priority.abs() <= PRIORITY_LIMIT),
            1 => (spec.with_max_retries(max_retries), max_retries <= MAX_RETRIES_LIMIT),
            2 => (spec.with_timeout_secs(timeout), timeout <= TIMEOUT_LIMIT_SECS),
            _ => {
                let delay = Duration::new(delay_secs, delay_nanos);
                (spec.with_delay(delay), delay <= Duration::from_secs(DELAY_LIMIT_SECS))
            }
        };
        match spec.validate() {
            Ok(()) => prop_assert!(valid, "{:?} accepted", spec),
            Err(err) => {
                prop_assert!(!valid, "{:?} refused: {}", spec, err);
                assert_one_line(&err.to_string());
            }
        }
    }
}

/// The text of a shell spec with one more field.
fn shell_with(name: &str, value: Value) -> String {
    let mut spec = Map::new();
    spec.insert("command".into(), json!("true"));
    spec.insert(name.into(), value);
    Value::Object(spec).to_string()
}

#[test]
fn every_limit_is_inclusive_and_one_past_it_is_refused() {
    for (name, min, max) in NUMBERS {
        for n in [min, max] {
            assert!(parse(&shell_with(name, json!(n))).is_ok(), "{name} {n}");
        }
        for n in [min - 1, max + 1] {
            let message = parse(&shell_with(name, json!(n))).unwrap_err();
            assert!(
                message.starts_with(&format!("{name} must be between")),
                "{message}"
            );
        }
    }

    let longest = "i".repeat(MAX_ID_LEN);
    assert!(parse(&shell_with("id", json!(longest))).is_ok());
    let message = parse(&shell_with("id", json!(format!("{longest}i")))).unwrap_err();
    assert_eq!(message, "job id is 129 bytes long; the limit is 128");

    let kind = |kind: &str| json!({ "kind": kind }).to_string();
    assert!(parse(&kind(&"k".repeat(64))).is_ok());
    let message = parse(&kind(&"k".repeat(65))).unwrap_err();
    assert!(message.starts_with("job kind \"kkk"), "{message}");
}
