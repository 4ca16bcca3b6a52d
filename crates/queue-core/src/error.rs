//! The errors of the vocabulary: illegal moves, bad specs, bad settings.

use crate::{IdError, JobState, Transition};

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition} a job that is {from}")]
pub struct TransitionError {
    /// The state the job was in.
    pub from: JobState,
    /// The move that was asked for.
    pub transition: Transition,
}

/// A job spec that cannot be enqueued.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The text was not a JSON job spec.
    #[error("invalid job spec: {0}")]
    Json(String),
    /// A shell job without a command.
    #[error("command is empty")]
    EmptyCommand,
    /// A job kind that is empty or malformed.
    #[error("job kind {0:?} is invalid; use letters, digits, '-', '_', '.' or ':'")]
    BadKind(String),
    /// A bad job id.
    #[error(transparent)]
    Id(#[from] IdError),
    /// A numeric field out of its range.
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The field's name as users write it.
        field: &'static str,
        /// The value given.
        value: i64,
        /// The smallest accepted value.
        min: i64,
        /// The largest accepted value.
        max: i64,
    },
    /// A payload that cannot be represented as JSON.
    #[error("payload cannot be stored as JSON: {0}")]
    Payload(String),
    /// A field of the JSON form holding the wrong kind of value.
    #[error("{field} must be {expected}, got {found}")]
    WrongType {
        /// The field's name as users write it.
        field: &'static str,
        /// What it must hold.
        expected: String,
        /// What it held, as JSON.
        found: String,
    },
    /// A time that is not RFC 3339.
    #[error("run_at {0:?} is not an RFC 3339 time such as 2026-12-24T10:00:00Z")]
    BadTime(String),
}

/// `text` with each character that would break or garble a one-line message
/// (line breaks, other control characters, bidirectional overrides) escaped
/// the way `{:?}` escapes it.
///
/// Messages built with `{:?}` escape the user's text already; this is for
/// text that arrives formatted, such as a JSON parser's error naming a field.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // `escape_debug` leaves printable characters as they are, except
        // these three, which need no escaping outside a quoted string.
        if matches!(c, '\\' | '"' | '\'') {
            out.push(c);
        } else {
            out.extend(c.escape_debug());
        }
    }
    out
}

/// A configuration key or value that is not accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No such setting.
    #[error("unknown config key {key:?}; known keys: {known}")]
    UnknownKey {
        /// The key given.
        key: String,
        /// The keys there are, comma-separated.
        known: String,
    },
    /// The value does not parse or is out of range.
    #[error("invalid value {value:?} for {key}: {reason}")]
    BadValue {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// What is expected.
        reason: String,
    },
}
