//! What an attempt produced, as a handler reports it.

use std::time::Duration;

use crate::{JobId, Timestamp};

/// Whether and when a failed attempt should be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetryDirective {
    /// Retry on the queue's backoff schedule while retries are left.
    #[default]
    Backoff,
    /// Retry after exactly this delay while retries are left.
    After(Duration),
    /// Do not retry: the job goes straight to the dead-letter queue.
    Never,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The job did its work.
    Succeeded,
    /// The job failed; `error` says why in one line.
    Failed {
        /// A one-line reason, shown to operators.
        error: String,
        /// Whether and when to run the job again.
        retry: RetryDirective,
    },
}

impl AttemptOutcome {
    /// A failure that retries on the backoff schedule.
    pub fn failed(error: impl Into<String>) -> Self {
        Self::Failed {
            error: error.into(),
            retry: RetryDirective::Backoff,
        }
    }

    /// The failure reason, if the attempt failed.
    pub fn error(&self) -> Option<&str> {
        match self {
            AttemptOutcome::Succeeded => None,
            AttemptOutcome::Failed { error, .. } => Some(error),
        }
    }
}

/// Everything a worker reports about one finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// The job the attempt belongs to.
    pub job_id: JobId,
    /// The attempt number the claim gave it.
    pub attempt: u32,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The process exit code, for jobs that are processes and exited.
    pub exit_code: Option<i32>,
    /// The kept tail of standard output.
    pub stdout: Option<String>,
    /// The kept tail of standard error.
    pub stderr: Option<String>,
    /// When the attempt started: the claimed job's `started_at`, unchanged.
    /// With the attempt number it names the claim the report is about, so a
    /// report from an earlier claim of the same job is refused.
    pub started_at: Timestamp,
    /// When the attempt ended.
    pub finished_at: Timestamp,
}
