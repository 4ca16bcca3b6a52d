//! How errors become exit codes and one-line messages.

use queue_core::{ConfigError, SpecError};
use queue_store::StoreError;

/// The documented exit codes (see `queuectl --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The operation failed: the database could not be used, a worker failed.
    Failed = 1,
    /// The input was wrong: arguments, a job spec, a config value.
    Usage = 2,
    /// No job has the id given.
    NoSuchJob = 3,
    /// The job's state does not allow the operation, or its id is taken.
    Conflict = 4,
}

/// An input mistake found by the CLI itself, before any library was called.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

pub(crate) fn classify(err: &anyhow::Error) -> Failure {
    for cause in err.chain() {
        if cause.is::<UsageError>() || cause.is::<SpecError>() || cause.is::<ConfigError>() {
            return Failure::Usage;
        }
        if let Some(store) = cause.downcast_ref::<StoreError>() {
            return match store {
                StoreError::NotFound(_) => Failure::NoSuchJob,
                StoreError::WrongState { .. } | StoreError::Duplicate(_) => Failure::Conflict,
                StoreError::InvalidSpec { .. } | StoreError::Config(_) => Failure::Usage,
                _ => Failure::Failed,
            };
        }
    }
    Failure::Failed
}

/// The error and its causes on one line, each cause said once.
pub(crate) fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}
