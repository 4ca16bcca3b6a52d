//! The cancel signal reaches a running handler when the pool shuts down.

use std::time::{Duration, Instant};

use queue_core::JobState;
use queue_worker::{JobContext, JobError, JobEvent, WorkerPool};

use crate::support::{DEADLINE, queue};

/// A handler blocked on its cancel signal is woken when the shutdown grace
/// runs out, returns, and its job goes back to the queue uncharged.
#[test]
fn shutdown_cancels_a_running_handler_after_the_grace() {
    let queue = queue();
    let (started, running) = crossbeam_channel::unbounded();
    let (stopped, cancelled) = crossbeam_channel::unbounded();
    let (events, seen) = crossbeam_channel::unbounded();
    let pool = WorkerPool::builder(queue.shared())
        .typed("long", move |ctx: &JobContext, (): ()| {
            let _ = started.send(());
            // Far longer than the test may take: only cancellation ends it.
            let fired = ctx.cancel().wait_timeout(Duration::from_secs(600));
            let _ = stopped.send(fired);
            Err(JobError::retry("interrupted"))
        })
        .shutdown_grace(Duration::from_millis(50))
        .on_event(move |event| {
            let _ = events.send(event.clone());
        })
        .start()
        .unwrap();
    let id = pool.client().enqueue("long", &()).unwrap();
    running.recv_timeout(DEADLINE).expect("the handler started");

    let shutdown = Instant::now();
    pool.handle().shutdown();
    assert_eq!(
        cancelled.recv_timeout(DEADLINE),
        Ok(true),
        "the handler saw the signal"
    );
    let summary = pool.join().unwrap();
    assert!(shutdown.elapsed() < DEADLINE);
    assert_eq!(summary.released, 1);

    let job = queue.job(&id);
    assert_eq!(job.state, JobState::Pending);
    assert_eq!(job.attempts, 0, "a released attempt is not charged");
    let kinds: Vec<_> = seen.try_iter().collect();
    assert!(
        matches!(
            kinds.as_slice(),
            [JobEvent::Started(_), JobEvent::Released(_)]
        ),
        "{kinds:?}"
    );
}

/// A handler that finishes within the grace is never cancelled, and its
/// result stands.
#[test]
fn a_handler_that_finishes_within_the_grace_is_not_cancelled() {
    let queue = queue();
    let (started, running) = crossbeam_channel::unbounded();
    let (go, release) = crossbeam_channel::unbounded::<()>();
    let pool = WorkerPool::builder(queue.shared())
        .typed("short", move |ctx: &JobContext, (): ()| {
            let _ = started.send(());
            let _ = release.recv_timeout(DEADLINE);
            if ctx.cancel().is_cancelled() {
                return Err(JobError::retry("cancelled"));
            }
            Ok(())
        })
        .shutdown_grace(DEADLINE)
        .start()
        .unwrap();
    let id = pool.client().enqueue("short", &()).unwrap();
    running.recv_timeout(DEADLINE).expect("the handler started");

    pool.handle().shutdown();
    go.send(()).unwrap();
    let summary = pool.join().unwrap();
    assert_eq!((summary.completed, summary.released), (1, 0));
    assert_eq!(queue.job(&id).state, JobState::Completed);
}
