//! `worker stop`: a graceful stop asked for from another process.

use std::time::Duration;

use crate::support::{Queue, millis};

/// `worker stop` lets the running job finish, claims nothing new, and
/// returns once the worker has exited, with code 0.
#[test]
fn worker_stop_finishes_the_running_job_and_claims_nothing_new() {
    let queue = Queue::new();
    // The running job outlasts the worker's heartbeat (at most 1 s), which
    // is when the worker hears of the stop.
    queue.enqueue(&["--id", "running", "--priority", "1", "sleep 2; echo ok"]);
    queue.enqueue(&["--id", "queued", "echo queued"]);
    let mut worker = queue.start_worker(1);
    queue.wait_for_state("running", "processing", Duration::from_secs(10));

    let stop = queue.run(&["worker", "stop"]);
    let stopped_at = chrono::Utc::now().timestamp_millis();
    let exited = worker.exited();

    stop.expect_code(0);
    assert_eq!(stop.stdout.trim(), "all workers stopped");
    assert!(
        exited.is_some(),
        "worker stop returned before the worker exited"
    );
    assert!(worker.wait_exit().success(), "{}", worker.log());

    let running = queue.job("running");
    assert_eq!(running["state"], "completed", "{running:#}");
    assert_eq!(running["stdout"], "ok\n");
    assert!(millis(&running["finished_at"]) <= stopped_at);
    let queued = queue.job("queued");
    assert_eq!(queued["state"], "pending", "{queued:#}");
    assert_eq!(queued["attempts"], 0);
    assert!(queue.workers().is_empty());
}

/// `worker stop` with no worker running says so and succeeds.
#[test]
fn worker_stop_without_workers_says_none_are_running() {
    let queue = Queue::new();

    assert_eq!(
        queue.ok(&["worker", "stop"]).trim(),
        "no workers are running"
    );
}
