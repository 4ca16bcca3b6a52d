//! A panicking handler fails its attempt; the pool and its thread live on.

use std::time::Duration;

use queue_core::{JobSpec, JobState};
use queue_store::Store;
use queue_worker::{Client, JobContext, WorkerPool};

use crate::support::pinned_queue;

/// The panic's message becomes the attempt's error, and the only executor
/// goes on to run the next job. The clock stands still, so the failed job's
/// retry never comes due during the test.
#[test]
fn a_panic_becomes_a_failed_attempt_and_the_pool_keeps_working() {
    let queue = pinned_queue();
    let client = Client::new(queue.shared());
    let spec = JobSpec::typed("divide", &0_u32)
        .unwrap()
        .with_priority(1)
        .with_max_retries(1);
    let boom = client.enqueue_spec(spec).unwrap();
    let fine = client.enqueue("divide", &4_u32).unwrap();

    let pool = WorkerPool::builder(queue.shared())
        .typed("divide", |_ctx: &JobContext, by: u32| {
            if by == 0 {
                panic!("cannot divide 12 by zero");
            }
            Ok(())
        })
        .concurrency(1)
        .poll_interval(Duration::from_millis(20))
        .start()
        .unwrap();

    let done = queue.wait_for_state(&fine, JobState::Completed);
    assert_eq!(done.attempts, 1);
    let failed = queue.job(&boom);
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(
        failed.last_error.as_deref(),
        Some("handler panicked: cannot divide 12 by zero")
    );

    let attempts = queue.store.attempts(&boom).unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].result, "failed");

    pool.handle().stop_now();
    let summary = pool.join().unwrap();
    assert_eq!((summary.completed, summary.failed), (1, 1));
}
