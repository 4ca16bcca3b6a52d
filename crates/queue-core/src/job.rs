//! The stored job record and the summaries read from it.

use serde::{Deserialize, Serialize};

use crate::{JobId, JobState, Timestamp, WorkerId};

/// The kind of jobs that are shell commands, the kind the CLI enqueues.
pub const SHELL_KIND: &str = "shell";

/// A job as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Unique within the queue.
    pub id: JobId,
    /// Which handler runs it; [`SHELL_KIND`] for shell commands.
    pub kind: String,
    /// The shell command, for shell jobs.
    pub command: Option<String>,
    /// The handler's input, for jobs of other kinds.
    pub payload: Option<serde_json::Value>,
    /// Where the job is in its life.
    pub state: JobState,
    /// Attempts started so far; the claim counts an attempt.
    pub attempts: u32,
    /// How many attempts may follow the first.
    pub max_retries: u32,
    /// Higher runs first.
    pub priority: i32,
    /// When the job is due (for `failed` jobs, the retry time).
    pub run_at: Timestamp,
    /// The longest an attempt may run, in seconds; 0 means no limit. Named
    /// `timeout` in JSON, as in the job spec.
    #[serde(rename = "timeout")]
    pub timeout_secs: u64,
    /// When the job was enqueued.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
    /// When the latest attempt started.
    pub started_at: Option<Timestamp>,
    /// When the latest attempt ended.
    pub finished_at: Option<Timestamp>,
    /// The latest attempt's exit code, for processes that exited.
    pub exit_code: Option<i32>,
    /// Why the latest failed attempt failed.
    pub last_error: Option<String>,
    /// The kept tail of the latest attempt's standard output.
    pub stdout: Option<String>,
    /// The kept tail of the latest attempt's standard error.
    pub stderr: Option<String>,
    /// The worker holding the job while it is `processing`.
    pub worker_id: Option<WorkerId>,
    /// When that worker's claim lapses unless renewed.
    pub lease_expires_at: Option<Timestamp>,
}

impl Job {
    /// How long the latest attempt ran, once it has ended.
    pub fn duration(&self) -> Option<chrono::Duration> {
        match (self.started_at, self.finished_at) {
            (Some(start), Some(end)) if end >= start => Some(end - start),
            _ => None,
        }
    }

    /// One line that says what the job does: the command, or the kind and payload.
    pub fn summary(&self) -> String {
        match (&self.command, &self.payload) {
            (Some(command), _) => command.clone(),
            (None, Some(payload)) => format!("{} {payload}", self.kind),
            (None, None) => self.kind.clone(),
        }
    }
}

/// One attempt at a job, as its timeline records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The attempt number, from 1.
    pub attempt: u32,
    /// The worker that ran it.
    pub worker_id: WorkerId,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended (or was found abandoned).
    pub finished_at: Timestamp,
    /// How it ended: `succeeded`, `failed`, `released` or `lost`.
    pub result: String,
    /// The process exit code, if it exited.
    pub exit_code: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts {
    /// Waiting to run.
    pub pending: u64,
    /// Running now.
    pub processing: u64,
    /// Done.
    pub completed: u64,
    /// Failed and waiting to retry.
    pub failed: u64,
    /// In the dead-letter queue.
    pub dead: u64,
}

impl StateCounts {
    /// The count for one state.
    pub fn of(&self, state: JobState) -> u64 {
        match state {
            JobState::Pending => self.pending,
            JobState::Processing => self.processing,
            JobState::Completed => self.completed,
            JobState::Failed => self.failed,
            JobState::Dead => self.dead,
        }
    }

    /// A mutable reference to the count for one state.
    pub fn of_mut(&mut self, state: JobState) -> &mut u64 {
        match state {
            JobState::Pending => &mut self.pending,
            JobState::Processing => &mut self.processing,
            JobState::Completed => &mut self.completed,
            JobState::Failed => &mut self.failed,
            JobState::Dead => &mut self.dead,
        }
    }

    /// All jobs.
    pub fn total(&self) -> u64 {
        JobState::ALL.iter().map(|&state| self.of(state)).sum()
    }
}
