//! The worker pool against a real SQLite store whose clock the tests move,
//! for the cases where the pool and the store must agree about who holds a
//! job.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use chrono::TimeZone;
use queue_core::{JobId, JobSpec, JobState};
use queue_store::{ManualClock, SqliteStore, Store};
use queue_worker::{Execution, JobContext, WorkerPool};

/// Polls `condition` every 10 ms until it holds; panics naming `what` after `limit`.
#[track_caller]
fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A job lost while it runs, then dead, revived and claimed again by the
/// same pool, runs twice at once in that pool. The late end of the first
/// run must neither settle nor hide the second: the job completes.
#[test]
fn revived_job_claimed_again_while_its_lost_run_ends_completes() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(
        SqliteStore::builder(dir.path().join("queue.db"))
            .clock(clock.clone())
            .open()
            .unwrap(),
    );
    let id = JobId::new("j").unwrap();
    store
        .enqueue(vec![
            JobSpec::new("test", serde_json::json!(null))
                .with_id(id.clone())
                .with_max_retries(0),
        ])
        .unwrap();

    // The first run ends only once the second has started, so both are in
    // the pool together; the second succeeds at once.
    let runs = Arc::new(AtomicUsize::new(0));
    let (second_started, wait_for_second) = mpsc::channel::<()>();
    let wait_for_second = std::sync::Mutex::new(wait_for_second);
    let handler = {
        let runs = Arc::clone(&runs);
        move |_ctx: &JobContext| {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                let _ = wait_for_second
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
            } else {
                let _ = second_started.send(());
            }
            Execution::succeeded()
        }
    };
    let pool = WorkerPool::builder(store.clone())
        .handler("test", handler)
        .concurrency(2)
        // Long enough that no renewal runs during the test; the clock moves by hand.
        .lease(Duration::from_secs(600))
        .poll_interval(Duration::from_millis(10))
        .start()
        .unwrap();
    wait_until("the first run started", Duration::from_secs(10), || {
        runs.load(Ordering::SeqCst) == 1
    });

    clock.advance(Duration::from_secs(601));
    assert_eq!(store.rescue_expired().unwrap(), std::slice::from_ref(&id));
    assert_eq!(store.job(&id).unwrap().unwrap().state, JobState::Dead);
    store.revive(&id).unwrap();
    pool.handle().wake();

    wait_until("the job completed", Duration::from_secs(20), || {
        store.job(&id).unwrap().unwrap().state == JobState::Completed
    });
    pool.handle().shutdown_when_idle();
    let summary = pool.join().unwrap();

    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(summary.completed, 1);
    assert_eq!(summary.stale, 1, "{summary:?}");
    let history = store.attempts(&id).unwrap();
    let results: Vec<&str> = history.iter().map(|a| a.result.as_str()).collect();
    assert_eq!(results, ["lost", "succeeded"]);
}

/// Periods too long to add to the clock are cut to a year rather than
/// overflowing it: a pool given the longest lease, poll interval and
/// shutdown grace there are still claims, drains and stops.
#[test]
fn longest_periods_do_not_overflow_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("queue.db")).unwrap());
    let ids = store
        .enqueue(vec![JobSpec::new("test", serde_json::json!(null))])
        .unwrap();
    let handler = |ctx: &JobContext| {
        ctx.cancel().wait_timeout(Duration::from_secs(20));
        Execution::failed("cancelled")
    };
    let pool = WorkerPool::builder(store.clone())
        .handler("test", handler)
        .lease(Duration::MAX)
        .poll_interval(Duration::MAX)
        .shutdown_grace(Duration::MAX)
        .start()
        .unwrap();
    wait_until("the job runs", Duration::from_secs(10), || {
        store.job(&ids[0]).unwrap().unwrap().state == JobState::Processing
    });

    pool.handle().shutdown();
    pool.handle().stop_now();
    let summary = pool.join().unwrap();

    assert_eq!(summary.released, 1, "{summary:?}");
    assert_eq!(
        store.job(&ids[0]).unwrap().unwrap().state,
        JobState::Pending
    );
}
