//! Job specs: what a caller asks the queue to run, checked before it is stored.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::printable;
use crate::{JobId, SHELL_KIND, SpecError, Timestamp};

/// The largest `max_retries` a job may ask for.
pub const MAX_RETRIES_LIMIT: u32 = 1000;
/// The largest `priority` magnitude.
pub const PRIORITY_LIMIT: i32 = 1_000_000;
/// The longest timeout a job may ask for: 30 days, in seconds.
pub const TIMEOUT_LIMIT_SECS: u64 = 30 * 24 * 3600;
/// The longest delay a job may ask for: 10 years, in seconds.
pub const DELAY_LIMIT_SECS: u64 = 10 * 366 * 24 * 3600;

/// What a caller asks the queue to run.
///
/// Only the command (or kind and payload) is required; unset options take the
/// queue's configured defaults when the job is stored. Build one in code with
/// [`JobSpec::shell`] or [`JobSpec::new`], or parse the JSON form with
/// [`JobSpec::from_json`].
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// A chosen id; generated when unset.
    pub id: Option<JobId>,
    /// Which handler runs the job.
    pub kind: String,
    /// The command line, for shell jobs.
    pub command: Option<String>,
    /// The handler's input, for other kinds.
    pub payload: Option<serde_json::Value>,
    /// Higher runs first. Default 0.
    pub priority: i32,
    /// Retries after the first attempt; the configured default when unset.
    pub max_retries: Option<u32>,
    /// When the job becomes due; at once when unset.
    pub run_at: Option<Timestamp>,
    /// How long after enqueueing the job becomes due; ignored when `run_at` is set.
    pub delay: Option<Duration>,
    /// The attempt time limit in seconds, 0 for none; the configured default when unset.
    pub timeout_secs: Option<u64>,
}

impl JobSpec {
    /// A shell job running `command` with `sh -c`.
    pub fn shell(command: impl Into<String>) -> Self {
        Self::empty(SHELL_KIND.to_owned(), Some(command.into()), None)
    }

    /// A job of `kind` with the given payload, for an in-process handler.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self::empty(kind.into(), None, Some(payload))
    }

    /// A job of `kind` whose payload is `payload` serialized to JSON, for a
    /// handler that decodes it back into the same type.
    ///
    /// Fails only when `payload` cannot be represented in JSON, such as a map
    /// with keys that are not strings.
    ///
    /// ```
    /// use queue_core::JobSpec;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Email<'a> {
    ///     to: &'a str,
    /// }
    ///
    /// let spec = JobSpec::typed("email", &Email { to: "ada@example.com" })?.with_priority(5);
    /// assert_eq!(spec.payload, Some(serde_json::json!({"to": "ada@example.com"})));
    /// # Ok::<(), queue_core::SpecError>(())
    /// ```
    pub fn typed<P>(kind: impl Into<String>, payload: &P) -> Result<Self, SpecError>
    where
        P: Serialize + ?Sized,
    {
        let value = serde_json::to_value(payload)
            .map_err(|err| SpecError::Payload(printable(&err.to_string())))?;
        Ok(Self::new(kind, value))
    }

    fn empty(kind: String, command: Option<String>, payload: Option<serde_json::Value>) -> Self {
        Self {
            id: None,
            kind,
            command,
            payload,
            priority: 0,
            max_retries: None,
            run_at: None,
            delay: None,
            timeout_secs: None,
        }
    }

    /// Sets the id.
    pub fn with_id(mut self, id: JobId) -> Self {
        self.id = Some(id);
        self
    }

    /// Sets the priority (higher first).
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the number of retries after the first attempt.
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = Some(max_retries);
        self
    }

    /// Makes the job due at `run_at`.
    pub fn with_run_at(mut self, run_at: Timestamp) -> Self {
        self.run_at = Some(run_at);
        self
    }

    /// Makes the job due `delay` after it is stored.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Sets the attempt time limit in seconds; 0 means none.
    pub fn with_timeout_secs(mut self, timeout_secs: u64) -> Self {
        self.timeout_secs = Some(timeout_secs);
        self
    }

    /// Parses the JSON form, such as
    /// `{"id":"job1","command":"sleep 2","max_retries":3,"priority":5,
    /// "run_at":"2026-12-24T10:00:00Z","timeout":10}`.
    ///
    /// Unknown fields are refused by name, and the result is [validated](Self::validate).
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        // The parser's message quotes an unknown field's name as it was
        // written, which may hold a line break or a terminal escape.
        let raw: RawSpec = serde_json::from_str(text)
            .map_err(|err| SpecError::Json(printable(&err.to_string())))?;
        let spec = raw.into_spec()?;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks every field against its limits.
    pub fn validate(&self) -> Result<(), SpecError> {
        let kind_ok = !self.kind.is_empty()
            && self.kind.len() <= 64
            && self
                .kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
        if !kind_ok {
            return Err(SpecError::BadKind(self.kind.clone()));
        }
        if self.kind == SHELL_KIND
            && self
                .command
                .as_deref()
                .is_none_or(|command| command.trim().is_empty())
        {
            return Err(SpecError::EmptyCommand);
        }
        if let Some(id) = &self.id {
            JobId::new(id.as_str())?;
        }
        let limit = i64::from(PRIORITY_LIMIT);
        check_range("priority", self.priority.into(), -limit, limit)?;
        if let Some(max_retries) = self.max_retries {
            check_range(
                "max_retries",
                max_retries.into(),
                0,
                MAX_RETRIES_LIMIT.into(),
            )?;
        }
        if let Some(timeout) = self.timeout_secs {
            check_range(
                "timeout",
                saturating_i64(timeout),
                0,
                TIMEOUT_LIMIT_SECS as i64,
            )?;
        }
        if let Some(delay) = self.delay {
            // Rounded up, so that a fraction of a second past the limit is
            // refused too.
            let secs = delay
                .as_secs()
                .saturating_add(u64::from(delay.subsec_nanos() > 0));
            check_range("delay", saturating_i64(secs), 0, DELAY_LIMIT_SECS as i64)?;
        }
        Ok(())
    }

    /// Fills unset options from `defaults` and fixes the due time against `now`.
    pub fn resolve(self, defaults: &JobDefaults, now: Timestamp) -> Result<NewJob, SpecError> {
        self.validate()?;
        let run_at = match (self.run_at, self.delay) {
            (Some(at), _) => at,
            (None, Some(delay)) => crate::backoff::after(now, delay),
            (None, None) => now,
        };
        Ok(NewJob {
            id: self.id.unwrap_or_else(JobId::generate),
            kind: self.kind,
            command: self.command,
            payload: self.payload,
            priority: self.priority,
            max_retries: self.max_retries.unwrap_or(defaults.max_retries),
            run_at,
            timeout_secs: self.timeout_secs.unwrap_or(defaults.timeout_secs),
            created_at: now,
        })
    }
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn check_range(field: &'static str, value: i64, min: i64, max: i64) -> Result<(), SpecError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(SpecError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// The defaults a spec takes for the options it leaves unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobDefaults {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Attempt time limit in seconds, 0 for none.
    pub timeout_secs: u64,
}

/// A spec with every option decided: exactly what the store writes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The job's id.
    pub id: JobId,
    /// Which handler runs it.
    pub kind: String,
    /// The command, for shell jobs.
    pub command: Option<String>,
    /// The payload, for other kinds.
    pub payload: Option<serde_json::Value>,
    /// Higher runs first.
    pub priority: i32,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// When it becomes due.
    pub run_at: Timestamp,
    /// Attempt time limit in seconds, 0 for none.
    pub timeout_secs: u64,
    /// When it was enqueued.
    pub created_at: Timestamp,
}

/// The JSON form as written by users. Every field is read as any JSON value
/// and then checked here, so that a wrong type or an out-of-range number is
/// reported with the field's name and range rather than as a type error.
/// `null` is the same as leaving a field out.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    id: Option<serde_json::Value>,
    kind: Option<serde_json::Value>,
    command: Option<serde_json::Value>,
    payload: Option<serde_json::Value>,
    priority: Option<serde_json::Value>,
    max_retries: Option<serde_json::Value>,
    run_at: Option<serde_json::Value>,
    delay: Option<serde_json::Value>,
    timeout: Option<serde_json::Value>,
}

impl RawSpec {
    fn into_spec(self) -> Result<JobSpec, SpecError> {
        let kind = text("kind", self.kind)?.unwrap_or_else(|| SHELL_KIND.to_owned());
        if kind == SHELL_KIND && self.payload.is_some() {
            return Err(SpecError::Json(
                "payload is for jobs of other kinds; use command".into(),
            ));
        }
        if kind != SHELL_KIND && self.command.is_some() {
            return Err(SpecError::Json(format!(
                "command is for shell jobs; a job of kind {kind:?} takes a payload"
            )));
        }
        if self.run_at.is_some() && self.delay.is_some() {
            return Err(SpecError::Json(
                "run_at and delay both say when the job runs; give one".into(),
            ));
        }
        let id = text("id", self.id)?.map(JobId::new).transpose()?;
        let limit = i64::from(PRIORITY_LIMIT);
        let priority = whole("priority", self.priority, -limit, limit)?.unwrap_or(0);
        let max_retries = whole("max_retries", self.max_retries, 0, MAX_RETRIES_LIMIT.into())?;
        let timeout = whole("timeout", self.timeout, 0, TIMEOUT_LIMIT_SECS as i64)?;
        let delay = whole("delay", self.delay, 0, DELAY_LIMIT_SECS as i64)?;
        let run_at = text("run_at", self.run_at)?
            .map(|text| {
                chrono::DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| SpecError::BadTime(text))
            })
            .transpose()?;
        // The ranges checked above fit every target type.
        Ok(JobSpec {
            id,
            kind,
            command: text("command", self.command)?,
            payload: self.payload,
            priority: priority as i32,
            max_retries: max_retries.map(|n| n as u32),
            run_at,
            delay: delay.map(|n| Duration::from_secs(n as u64)),
            timeout_secs: timeout.map(|n| n as u64),
        })
    }
}

/// A string field's value.
fn text(
    field: &'static str,
    value: Option<serde_json::Value>,
) -> Result<Option<String>, SpecError> {
    match value {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(SpecError::WrongType {
            field,
            expected: "a string".to_owned(),
            found: printable(&other.to_string()),
        }),
    }
}

/// A whole-number field's value, from `min` to `max`.
fn whole(
    field: &'static str,
    value: Option<serde_json::Value>,
    min: i64,
    max: i64,
) -> Result<Option<i64>, SpecError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.as_i64() {
        Some(n) => check_range(field, n, min, max).map(|()| Some(n)),
        // Fractions, numbers beyond 64 bits and other types alike.
        None => Err(SpecError::WrongType {
            field,
            expected: format!("a whole number from {min} to {max}"),
            found: printable(&value.to_string()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let spec = JobSpec::from_json(
            r#"{"id":"job1","command":"sleep 2","max_retries":3,"priority":5,
                "run_at":"2026-12-24T10:00:00Z","timeout":10}"#,
        )
        .unwrap();
        assert_eq!(spec.id.unwrap().as_str(), "job1");
        assert_eq!(spec.command.as_deref(), Some("sleep 2"));
        assert_eq!(spec.max_retries, Some(3));
        assert_eq!(spec.priority, 5);
        assert_eq!(spec.timeout_secs, Some(10));
        let at = chrono::Utc
            .with_ymd_and_hms(2026, 12, 24, 10, 0, 0)
            .unwrap();
        assert_eq!(spec.run_at, Some(at));
    }

    #[test]
    fn only_command_is_required() {
        let spec = JobSpec::from_json(r#"{"command":"true"}"#).unwrap();
        assert_eq!(spec, JobSpec::shell("true"));
    }

    #[test]
    fn refuses_unknown_fields_by_name() {
        let err = JobSpec::from_json(r#"{"command":"true","retries":3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `retries`"), "{err}");
    }

    #[test]
    fn refuses_bad_values_with_their_field() {
        let cases = [
            (r#"{"command":""}"#, "command is empty"),
            (r#"{"command":"  "}"#, "command is empty"),
            (r#"{}"#, "command is empty"),
            (
                r#"{"command":"x","max_retries":-1}"#,
                "max_retries must be between 0 and 1000",
            ),
            (
                r#"{"command":"x","priority":99999999999}"#,
                "priority must be between",
            ),
            (r#"{"command":"x","timeout":-5}"#, "timeout must be between"),
            (
                r#"{"command":"x","run_at":"tomorrow"}"#,
                "not an RFC 3339 time",
            ),
            (r#"{"command":"x","id":""}"#, "job id is empty"),
            (
                r#"{"command":"x","max_retries":1e3}"#,
                "max_retries must be a whole number from 0 to 1000, got 1000.0",
            ),
            (
                r#"{"command":"x","priority":18446744073709551616}"#,
                "priority must be a whole number from -1000000 to 1000000, \
                 got 1.8446744073709552e+19",
            ),
            (
                r#"{"command":"x","priority":"5"}"#,
                "priority must be a whole number from -1000000 to 1000000, got \"5\"",
            ),
            (
                r#"{"command":"x","timeout":9223372036854775807}"#,
                "timeout must be between 0 and 2592000, got 9223372036854775807",
            ),
            (r#"{"command":5}"#, "command must be a string, got 5"),
            (r#"{"command":"x","id":7}"#, "id must be a string, got 7"),
            (
                r#"{"command":"x","run_at":1766570400}"#,
                "run_at must be a string, got 1766570400",
            ),
            (
                r#"{"command":"x","run_at":"2026-02-30T10:00:00Z"}"#,
                "not an RFC 3339 time",
            ),
            (
                r#"{"command":"x","run_at":"2026-12-24T10:00:00Z","delay":5}"#,
                "run_at and delay both say when the job runs",
            ),
            (
                r#"{"command":"a","command":"b"}"#,
                "duplicate field `command`",
            ),
            (r#"{"command":"x","#, "invalid job spec"),
            (r#"[]"#, "invalid job spec"),
            (
                r#"{"command":"x","payload":{}}"#,
                "payload is for jobs of other kinds",
            ),
            (
                r#"{"kind":"bad kind","payload":1}"#,
                "job kind \"bad kind\" is invalid",
            ),
        ];
        for (json, expected) in cases {
            let err = JobSpec::from_json(json).expect_err(json).to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
    }

    #[test]
    fn quoted_names_and_values_cannot_break_the_line() {
        let cases = [
            (r#"{"command":"x","a\nb":1}"#, r"unknown field `a\nb`"),
            (r#"{"\u0000":null}"#, r"unknown field `\0`"),
            (r#"{"\u007f":null}"#, r"unknown field `\u{7f}`"),
            (r#"{"\u001b[2J":null}"#, r"unknown field `\u{1b}[2J`"),
            (
                r#"{"command":"0","priority":{"\u007f":null}}"#,
                r#"got {"\u{7f}":null}"#,
            ),
        ];
        for (json, expected) in cases {
            let err = JobSpec::from_json(json).expect_err(json).to_string();
            assert!(err.contains(expected), "{json}: {err}");
            assert!(!err.contains(char::is_control), "{json}: {err:?}");
        }
    }

    #[test]
    fn a_delay_a_nanosecond_past_the_limit_is_refused() {
        let limit = Duration::from_secs(DELAY_LIMIT_SECS);
        assert_eq!(JobSpec::shell("x").with_delay(limit).validate(), Ok(()));
        let err = JobSpec::shell("x")
            .with_delay(limit + Duration::from_nanos(1))
            .validate()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "delay must be between 0 and 316224000, got 316224001"
        );
    }

    #[test]
    fn payload_numbers_read_as_the_nearest_float() {
        let spec =
            JobSpec::from_json(r#"{"kind":"A","payload":[1.9874920783412965e+123]}"#).unwrap();
        assert_eq!(
            spec.payload,
            Some(serde_json::json!([1.9874920783412965e+123_f64]))
        );
    }

    #[test]
    fn resolve_fills_defaults_and_schedules() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let defaults = JobDefaults {
            max_retries: 7,
            timeout_secs: 30,
        };
        let job = JobSpec::shell("true").with_delay(Duration::from_secs(5));
        let job = job.resolve(&defaults, now).unwrap();
        assert_eq!(job.max_retries, 7);
        assert_eq!(job.timeout_secs, 30);
        assert_eq!(job.run_at, now + chrono::Duration::seconds(5));
        assert_eq!(job.kind, SHELL_KIND);
    }

    #[test]
    fn other_kinds_carry_a_payload() {
        let spec = JobSpec::from_json(r#"{"kind":"email","payload":{"to":"a@b"}}"#).unwrap();
        assert_eq!(spec.kind, "email");
        assert_eq!(spec.payload, Some(serde_json::json!({"to": "a@b"})));
    }

    #[test]
    fn typed_payloads_serialize_or_say_why_not() {
        let spec = JobSpec::typed("resize", &(640, 480)).unwrap();
        assert_eq!(spec.kind, "resize");
        assert_eq!(spec.payload, Some(serde_json::json!([640, 480])));

        let unkeyable = std::collections::HashMap::from([((1, 2), "tuple keys")]);
        let err = JobSpec::typed("resize", &unkeyable).unwrap_err();
        assert!(matches!(err, SpecError::Payload(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("payload cannot be stored as JSON"),
            "{err}"
        );
    }
}
