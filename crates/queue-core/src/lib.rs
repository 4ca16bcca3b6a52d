//! The vocabulary of queuectl: what a job is, the states it moves through and
//! the policy that decides when a failed job runs again.
//!
//! This crate is pure. It performs no I/O, reads no clock (every function that
//! needs the time takes it as a parameter) and depends on no other crate of the
//! workspace, so the rules of the queue can be read and tested in one place.
//!
//! - [`JobSpec`] is what a caller asks for; [`Job`] is what the store keeps.
//! - [`JobState`] and [`Transition`] form the state machine; [`settle`] decides
//!   where an attempt leaves its job.
//! - [`BackoffPolicy`] is the retry schedule; [`QueueConfig`] holds the
//!   settings every worker shares, each validated by [`ConfigKey`].
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use queue_core::{AttemptOutcome, BackoffPolicy, JobState, Settlement, settle};
//!
//! let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
//! let policy = BackoffPolicy::default();
//! // The first attempt of a job allowed three retries failed: it runs again in 2 s.
//! let outcome = AttemptOutcome::failed("exit status 1");
//! let settlement = settle(&outcome, 1, 3, &policy, now);
//! assert_eq!(settlement.state, JobState::Failed);
//! assert_eq!(settlement.run_at, Some(now + chrono::Duration::seconds(2)));
//! ```

#![deny(missing_docs)]

mod backoff;
mod config;
mod error;
mod id;
mod job;
mod outcome;
mod spec;
mod state;

pub use backoff::BackoffPolicy;
pub use config::{ConfigKey, QueueConfig, Synchronous};
pub use error::{ConfigError, SpecError, TransitionError};
pub use id::{IdError, JobId, MAX_ID_LEN, WorkerId};
pub use job::{AttemptRecord, Job, SHELL_KIND, StateCounts};
pub use outcome::{AttemptOutcome, AttemptReport, RetryDirective};
pub use spec::{
    DELAY_LIMIT_SECS, JobDefaults, JobSpec, MAX_RETRIES_LIMIT, NewJob, PRIORITY_LIMIT,
    TIMEOUT_LIMIT_SECS,
};
pub use state::{JobState, Settlement, Transition, UnknownState, settle};

/// A point in time. Every time in the queue is UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
