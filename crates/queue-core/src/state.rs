//! The job state machine: every state a job can be in, every move between
//! them, and the rule that settles an attempt.
//!
//! ```text
//!   pending --claim--> processing --succeed----------------------> completed
//!      ^                  |-------fail, retries left (retry)-----> failed --claim--> processing
//!      |                  |-------fail, none left (bury)---------> dead
//!      |                  '-------release (worker shutdown)------> pending
//!      '--------------------------revive (dead-letter retry)------ dead
//!   pending | failed --cancel--> dead
//! ```
//!
//! A lapsed lease is settled like a failed attempt (retry or bury).
//!
//! `failed` means "failed, will retry": the job's `run_at` is when. Storage
//! backends apply these moves as guarded writes; they never invent others.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{AttemptOutcome, BackoffPolicy, RetryDirective, Timestamp, TransitionError};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to be claimed once its `run_at` has passed.
    Pending,
    /// Claimed by a worker, which holds a lease on it.
    Processing,
    /// Ran and succeeded. Final.
    Completed,
    /// Failed an attempt and will run again at its `run_at`.
    Failed,
    /// Out of retries, failed permanently or cancelled: in the dead-letter queue.
    Dead,
}

impl JobState {
    /// Every state, in the order of a job's life.
    pub const ALL: [JobState; 5] = [
        JobState::Pending,
        JobState::Processing,
        JobState::Completed,
        JobState::Failed,
        JobState::Dead,
    ];

    /// The lowercase name used in storage, output and arguments.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Processing => "processing",
            JobState::Completed => "completed",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// Whether a worker may claim a job in this state once it is due.
    pub fn is_claimable(self) -> bool {
        matches!(self, JobState::Pending | JobState::Failed)
    }

    /// Applies `transition`, or says why it is not allowed from this state.
    pub fn apply(self, transition: Transition) -> Result<JobState, TransitionError> {
        use JobState::*;
        use Transition::*;
        let next = match (self, transition) {
            (Pending | Failed, Claim) => Processing,
            (Processing, Succeed) => Completed,
            (Processing, Retry) => Failed,
            (Processing, Bury) => Dead,
            (Processing, Release) => Pending,
            (Dead, Revive) => Pending,
            (Pending | Failed, Cancel) => Dead,
            (from, transition) => return Err(TransitionError { from, transition }),
        };
        Ok(next)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not the name of a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?}; expected one of pending, processing, completed, failed, dead")]
pub struct UnknownState(pub String);

impl FromStr for JobState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_owned()))
    }
}

/// A move of a job from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transition {
    /// A worker takes a due job and starts an attempt.
    Claim,
    /// The attempt succeeded.
    Succeed,
    /// The attempt failed and the job will run again later.
    Retry,
    /// The attempt failed and the job will not run again.
    Bury,
    /// The worker gave the job back unfinished (shutdown); the attempt is not charged.
    Release,
    /// An operator brought a dead job back from the dead-letter queue.
    Revive,
    /// An operator cancelled a job that had not started.
    Cancel,
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Transition::Claim => "claim",
            Transition::Succeed => "succeed",
            Transition::Retry => "retry",
            Transition::Bury => "bury",
            Transition::Release => "release",
            Transition::Revive => "revive",
            Transition::Cancel => "cancel",
        };
        f.write_str(name)
    }
}

/// Where an attempt leaves its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    /// The transition out of `processing`.
    pub transition: Transition,
    /// The state the job moves to.
    pub state: JobState,
    /// When the job runs again; set only for [`JobState::Failed`].
    pub run_at: Option<Timestamp>,
}

/// Decides where a finished attempt leaves its job.
///
/// `attempts` counts the attempts started so far, this one included;
/// `max_retries` is how many attempts may follow the first. A failure with
/// retries left moves to `failed` with a `run_at` from the backoff `policy` (or
/// the handler's own delay); otherwise the job is dead.
pub fn settle(
    outcome: &AttemptOutcome,
    attempts: u32,
    max_retries: u32,
    policy: &BackoffPolicy,
    now: Timestamp,
) -> Settlement {
    let (directive, _) = match outcome {
        AttemptOutcome::Succeeded => {
            return Settlement {
                transition: Transition::Succeed,
                state: JobState::Completed,
                run_at: None,
            };
        }
        AttemptOutcome::Failed { retry, error } => (retry, error),
    };
    let retries_left = attempts <= max_retries;
    let delay = match directive {
        RetryDirective::Never => None,
        _ if !retries_left => None,
        RetryDirective::Backoff => Some(policy.delay_after(attempts)),
        RetryDirective::After(delay) => Some(*delay),
    };
    match delay {
        Some(delay) => Settlement {
            transition: Transition::Retry,
            state: JobState::Failed,
            run_at: Some(crate::backoff::after(now, delay)),
        },
        None => Settlement {
            transition: Transition::Bury,
            state: JobState::Dead,
            run_at: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;

    use super::*;

    fn now() -> Timestamp {
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 24, 10, 0, 0)
            .unwrap()
    }

    #[test]
    fn every_legal_transition_lands_where_the_diagram_says() {
        use JobState::*;
        use Transition::*;
        let legal = [
            (Pending, Claim, Processing),
            (Failed, Claim, Processing),
            (Processing, Succeed, Completed),
            (Processing, Retry, Failed),
            (Processing, Bury, Dead),
            (Processing, Release, Pending),
            (Dead, Revive, Pending),
            (Pending, Cancel, Dead),
            (Failed, Cancel, Dead),
        ];
        for (from, transition, to) in legal {
            assert_eq!(from.apply(transition), Ok(to), "{from} --{transition}-->");
        }
    }

    #[test]
    fn every_other_transition_is_refused_with_its_names() {
        use Transition::*;
        let all = [Claim, Succeed, Retry, Bury, Release, Revive, Cancel];
        let mut refused = 0;
        for from in JobState::ALL {
            for transition in all {
                if let Err(err) = from.apply(transition) {
                    assert_eq!(err, TransitionError { from, transition });
                    assert!(err.to_string().contains(from.as_str()));
                    refused += 1;
                }
            }
        }
        // 5 states x 7 transitions, 9 of them legal.
        assert_eq!(refused, 35 - 9);
    }

    #[test]
    fn completed_is_final() {
        use Transition::*;
        for transition in [Claim, Succeed, Retry, Bury, Release, Revive, Cancel] {
            assert!(JobState::Completed.apply(transition).is_err());
        }
    }

    #[test]
    fn state_names_round_trip() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(state));
        }
        assert!("running".parse::<JobState>().is_err());
    }

    #[test]
    fn success_completes() {
        let s = settle(
            &AttemptOutcome::Succeeded,
            1,
            3,
            &BackoffPolicy::default(),
            now(),
        );
        assert_eq!(s.state, JobState::Completed);
        assert_eq!(s.run_at, None);
    }

    #[test]
    fn failures_back_off_then_die_after_max_retries() {
        let policy = BackoffPolicy::default();
        let failed = AttemptOutcome::failed("boom");
        for (attempt, delay) in [(1, 2), (2, 4), (3, 8)] {
            let s = settle(&failed, attempt, 3, &policy, now());
            assert_eq!(s.state, JobState::Failed, "attempt {attempt}");
            assert_eq!(s.run_at, Some(now() + chrono::Duration::seconds(delay)));
        }
        let last = settle(&failed, 4, 3, &policy, now());
        assert_eq!(last.state, JobState::Dead);
        assert_eq!(last.transition, Transition::Bury);
    }

    #[test]
    fn zero_retries_dies_on_first_failure() {
        let s = settle(
            &AttemptOutcome::failed("x"),
            1,
            0,
            &BackoffPolicy::default(),
            now(),
        );
        assert_eq!(s.state, JobState::Dead);
    }

    #[test]
    fn permanent_failure_skips_remaining_retries() {
        let outcome = AttemptOutcome::Failed {
            error: "bad input".into(),
            retry: RetryDirective::Never,
        };
        let s = settle(&outcome, 1, 5, &BackoffPolicy::default(), now());
        assert_eq!(s.state, JobState::Dead);
    }

    #[test]
    fn retry_after_uses_the_handlers_delay() {
        let outcome = AttemptOutcome::Failed {
            error: "rate limited".into(),
            retry: RetryDirective::After(Duration::from_secs(90)),
        };
        let s = settle(&outcome, 1, 5, &BackoffPolicy::default(), now());
        assert_eq!(s.run_at, Some(now() + chrono::Duration::seconds(90)));
        let out_of_retries = settle(&outcome, 6, 5, &BackoffPolicy::default(), now());
        assert_eq!(out_of_retries.state, JobState::Dead);
    }
}
