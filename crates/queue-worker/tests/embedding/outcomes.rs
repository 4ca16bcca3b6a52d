//! Each outcome a handler can report, and where it leaves the job.
//!
//! The queue's clock stands still, so every retry time is exact.

use std::time::Duration;

use queue_core::{JobId, JobSpec, JobState, RetryDirective};
use queue_worker::{Client, JobContext, JobError, WorkerPool};

use crate::support::{Queue, pinned_now, pinned_queue};

/// What the handler under test does with a job, chosen by its payload.
#[derive(serde::Serialize, serde::Deserialize)]
enum Then {
    Succeed,
    Retry,
    RetryAfterSecs(u64),
    GiveUp,
    Propagate,
}

fn handle(_ctx: &JobContext, then: Then) -> Result<(), JobError> {
    match then {
        Then::Succeed => Ok(()),
        Then::Retry => Err(JobError::retry("service unavailable")),
        Then::RetryAfterSecs(secs) => Err(JobError::retry_after(
            Duration::from_secs(secs),
            "rate limited",
        )),
        Then::GiveUp => Err(JobError::permanent("account closed")),
        Then::Propagate => {
            let n: u8 = "300".parse()?;
            Err(JobError::permanent(format!("parsed {n}")))
        }
    }
}

/// Runs one attempt of a job asking `then`, with retries to spare.
fn run_once(then: Then) -> (Queue, JobId) {
    let queue = pinned_queue();
    let spec = JobSpec::typed("outcome", &then)
        .unwrap()
        .with_max_retries(5);
    let id = Client::new(queue.shared()).enqueue_spec(spec).unwrap();
    let pool = WorkerPool::builder(queue.shared())
        .typed("outcome", handle)
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();
    pool.join().unwrap();
    (queue, id)
}

/// `Ok(())` completes the job.
#[test]
fn success_completes_the_job() {
    let (queue, id) = run_once(Then::Succeed);
    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error, None);
}

/// A retryable error waits out the backoff: `base^1` = 2 s after attempt 1.
#[test]
fn a_retryable_error_schedules_the_backoff() {
    let (queue, id) = run_once(Then::Retry);
    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.run_at, pinned_now() + chrono::Duration::seconds(2));
    assert_eq!(job.last_error.as_deref(), Some("service unavailable"));
}

/// "Retry after" replaces the backoff with the handler's own delay.
#[test]
fn retry_after_schedules_exactly_the_given_delay() {
    let (queue, id) = run_once(Then::RetryAfterSecs(90));
    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.run_at, pinned_now() + chrono::Duration::seconds(90));
    assert_eq!(job.last_error.as_deref(), Some("rate limited"));
}

/// A permanent error sends the job to the dead-letter queue at once, with
/// five retries unused.
#[test]
fn a_permanent_error_goes_straight_to_the_dead_letter_queue() {
    let (queue, id) = run_once(Then::GiveUp);
    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Dead);
    assert_eq!(job.attempts, 1);
    assert_eq!(job.last_error.as_deref(), Some("account closed"));
}

/// An error returned with `?` is retryable and keeps its message.
#[test]
fn an_error_returned_with_question_mark_is_retried() {
    let (queue, id) = run_once(Then::Propagate);
    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(
        job.last_error.as_deref(),
        Some("number too large to fit in target type")
    );
}

/// Retrying spends retries: with none left, a retryable error is final too.
#[test]
fn retries_run_out_into_the_dead_letter_queue() {
    let queue = pinned_queue();
    let spec = JobSpec::typed("outcome", &Then::Retry)
        .unwrap()
        .with_max_retries(0);
    let id = Client::new(queue.shared()).enqueue_spec(spec).unwrap();
    let pool = WorkerPool::builder(queue.shared())
        .typed("outcome", handle)
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();
    assert_eq!(pool.join().unwrap().dead, 1);
    assert_eq!(queue.job(&id).state, JobState::Dead);
}

/// The error's directive is what the store is asked to apply.
#[test]
fn job_errors_carry_the_core_retry_directives() {
    let delay = Duration::from_millis(1500);
    assert_eq!(
        JobError::retry("x").retry_directive(),
        RetryDirective::Backoff
    );
    assert_eq!(
        JobError::retry_after(delay, "x").retry_directive(),
        RetryDirective::After(delay)
    );
    assert_eq!(
        JobError::permanent("x").retry_directive(),
        RetryDirective::Never
    );
}
