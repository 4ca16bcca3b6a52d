//! Lifecycle events, delivered in order to the application's hooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use queue_core::{JobSpec, JobState};
use queue_worker::{AttemptRef, Client, JobContext, JobError, JobEvent, WorkerPool};

use crate::support::{pinned_now, pinned_queue};

/// A job that fails once and then succeeds, and one that fails for good,
/// produce exactly their events, in the order they happened.
#[test]
fn events_are_delivered_in_order() {
    let queue = pinned_queue();
    let client = Client::new(queue.shared());
    let flaky = client.enqueue_spec(JobSpec::typed("flaky", &()).unwrap().with_priority(1));
    let flaky = flaky.unwrap();
    let doomed = client.enqueue("doomed", &()).unwrap();

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pool = WorkerPool::builder(queue.shared())
        .typed("flaky", |ctx: &JobContext, (): ()| {
            if ctx.attempt() == 1 {
                // Due again at once, so the same pool runs the retry.
                return Err(JobError::retry_after(Duration::ZERO, "first try fails"));
            }
            Ok(())
        })
        .typed("doomed", |_ctx: &JobContext, (): ()| {
            Err(JobError::permanent("no way"))
        })
        .concurrency(1)
        .on_event(move |event| sink.lock().unwrap().push(event.clone()))
        .start()
        .unwrap();
    queue.wait_for_state(&flaky, JobState::Completed);
    queue.wait_for_state(&doomed, JobState::Dead);
    pool.handle().shutdown();
    let summary = pool.join().unwrap();
    assert_eq!(summary.dropped_events, 0);

    let attempt = |id: &queue_core::JobId, kind: &str, number| AttemptRef {
        job_id: id.clone(),
        kind: kind.into(),
        number,
    };
    let events = seen.lock().unwrap().clone();
    let for_flaky: Vec<_> = events
        .iter()
        .filter(|event| event.attempt().job_id == flaky)
        .cloned()
        .collect();
    let zero = Duration::ZERO;
    assert_eq!(
        for_flaky.iter().map(without_duration).collect::<Vec<_>>(),
        [
            JobEvent::Started(attempt(&flaky, "flaky", 1)),
            JobEvent::Failed {
                attempt: attempt(&flaky, "flaky", 1),
                error: "first try fails".into(),
                retry_at: pinned_now(),
                duration: zero,
            },
            JobEvent::Started(attempt(&flaky, "flaky", 2)),
            JobEvent::Completed {
                attempt: attempt(&flaky, "flaky", 2),
                duration: zero
            },
        ]
    );
    let for_doomed: Vec<_> = events
        .iter()
        .filter(|event| event.attempt().job_id == doomed)
        .map(without_duration)
        .collect();
    assert_eq!(
        for_doomed,
        [
            JobEvent::Started(attempt(&doomed, "doomed", 1)),
            JobEvent::Dead {
                attempt: attempt(&doomed, "doomed", 1),
                error: "no way".into(),
                duration: zero,
            },
        ]
    );
    assert_eq!(events.len(), 6);
}

/// A hook that panics is reported and keeps receiving events; other hooks
/// are not disturbed.
#[test]
fn a_panicking_hook_does_not_stop_delivery() {
    let queue = pinned_queue();
    let client = Client::new(queue.shared());
    let ids = client
        .enqueue_batch((0..3).map(|n| JobSpec::typed("noop", &n).unwrap()))
        .unwrap();

    let calls = Arc::new(Mutex::new(0));
    let counted = calls.clone();
    let pool = WorkerPool::builder(queue.shared())
        .typed("noop", |_ctx: &JobContext, _n: u32| Ok(()))
        .on_event(|_event| panic!("hook failure"))
        .on_event(move |_event| *counted.lock().unwrap() += 1)
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();
    pool.join().unwrap();

    assert_eq!(*calls.lock().unwrap(), 2 * ids.len());
}

/// Handler durations depend on the machine; the tests compare the rest.
fn without_duration(event: &JobEvent) -> JobEvent {
    let mut event = event.clone();
    match &mut event {
        JobEvent::Completed { duration, .. }
        | JobEvent::Failed { duration, .. }
        | JobEvent::Dead { duration, .. } => *duration = Duration::ZERO,
        _ => {}
    }
    event
}
