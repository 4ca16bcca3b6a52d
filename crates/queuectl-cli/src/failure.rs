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

/// clap's report of a usage error, which spans several paragraphs (the
/// error, maybe a tip, the usage, a pointer to help), as one line: the error,
/// any tip, and the help command of the subcommand that was being parsed.
pub(crate) fn usage_line(report: &str) -> String {
    let mut parts = Vec::new();
    let mut command = "queuectl".to_owned();
    for paragraph in report.split("\n\n") {
        let text = paragraph
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(usage) = text.strip_prefix("Usage: ") {
            // "queuectl enqueue [OPTIONS] ..." names the subcommand first.
            command = usage
                .split_whitespace()
                .take_while(|word| !word.starts_with(['[', '<', '-']))
                .collect::<Vec<_>>()
                .join(" ");
        } else if let Some(part) = text
            .strip_prefix("error: ")
            .or_else(|| text.strip_prefix("tip: "))
        {
            parts.push(part.to_owned());
        }
    }
    parts.push(format!("see '{command} --help'"));
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_report_becomes_one_line_with_the_help_command() {
        let report = "error: unexpected argument '--colour' found\n\n  \
            tip: a similar argument exists: '--color'\n\n\
            Usage: queuectl enqueue --priority <PRIORITY> <COMMAND|JSON>\n\n\
            For more information, try '--help'.\n";

        assert_eq!(
            usage_line(report),
            "unexpected argument '--colour' found; a similar argument exists: '--color'; \
             see 'queuectl enqueue --help'"
        );
    }

    #[test]
    fn an_error_spanning_lines_is_kept_whole() {
        let report = "error: the following required arguments were not provided:\n  \
            <COMMAND|JSON>\n\nUsage: queuectl enqueue <COMMAND|JSON>\n\n\
            For more information, try '--help'.\n";

        assert_eq!(
            usage_line(report),
            "the following required arguments were not provided: <COMMAND|JSON>; \
             see 'queuectl enqueue --help'"
        );
    }
}
