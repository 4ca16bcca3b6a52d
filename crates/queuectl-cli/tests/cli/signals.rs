//! Signals to `worker start` and the processes of jobs: running jobs get the
//! grace period, a second signal stops at once, a job that ignores SIGTERM
//! is still killed, and every process of a job is reaped.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::{Queue, group_members, millis, read_pid, text};

/// The history results of a job, oldest first.
fn results(job: &Value) -> Vec<String> {
    job["history"]
        .as_array()
        .expect("history is an array")
        .iter()
        .map(|attempt| text(&attempt["result"]).to_owned())
        .collect()
}

/// A first SIGINT or SIGTERM stops claiming and lets the running job finish
/// within the grace period; the worker then exits 0, and the job that was
/// waiting is untouched.
#[test]
fn first_signal_lets_running_jobs_finish_within_the_grace() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let queue = Queue::new();
        queue.enqueue(&["--id", "running", "--priority", "1", "sleep 1; echo done"]);
        queue.enqueue(&["--id", "waiting", "echo waiting"]);
        let mut worker = queue.start_worker_with(&["--count", "1", "--grace", "30"], "warn");
        queue.wait_for_state("running", "processing", Duration::from_secs(10));

        worker.signal(signal);

        assert!(worker.wait_exit().success(), "{signal}: {}", worker.log());
        let running = queue.job("running");
        assert_eq!(running["state"], "completed", "{signal}: {running:#}");
        assert_eq!(running["stdout"], "done\n");
        let waiting = queue.job("waiting");
        assert_eq!(waiting["state"], "pending", "{signal}: {waiting:#}");
        assert_eq!(waiting["attempts"], 0);
        assert!(queue.workers().is_empty());
    }
}

/// A job still running when the grace ends is stopped: it ignores SIGTERM,
/// so SIGKILL follows after the kill grace (2 s). It is released for
/// another worker, uncharged, and nothing of it is left, zombies included.
#[test]
fn job_outlasting_the_grace_is_killed_and_released_without_a_trace() {
    let queue = Queue::new();
    let pid_file = queue.path("shell.pid");
    let command = format!(
        "trap '' TERM; echo $$ > '{}'; sleep 3600 & sleep 3600; wait",
        pid_file.display()
    );
    queue.enqueue(&["--id", "stubborn", &command]);
    let mut worker = queue.start_worker_with(&["--count", "1", "--grace", "1"], "warn");
    let pgid = read_pid(&pid_file);

    let signalled = Instant::now();
    worker.signal(Signal::SIGTERM);
    let status = worker.wait_exit();
    let took = signalled.elapsed();

    assert!(status.success(), "{}", worker.log());
    // The grace (1 s), then the kill grace (2 s) for the ignored SIGTERM.
    assert!(took >= Duration::from_secs(3), "stopped after {took:?}");
    assert!(took < Duration::from_secs(8), "stopped after {took:?}");
    assert_eq!(group_members(pgid), [], "processes of the job are left");
    let job = queue.job("stubborn");
    assert_eq!(job["state"], "pending", "{job:#}");
    assert_eq!(job["attempts"], 0);
    assert_eq!(results(&job), ["released"]);
}

/// A second signal stops the worker at once: the running job is killed and
/// released, and another worker runs it to the end.
#[test]
fn second_signal_stops_at_once_and_another_worker_runs_the_job() {
    let queue = Queue::new();
    let marker = queue.path("first-run.pid");
    // The first run records its shell's pid and sleeps; a later run finishes.
    let command = format!(
        "if [ -s '{m}' ]; then echo second run; else echo $$ > '{m}'; sleep 3600; fi",
        m = marker.display()
    );
    queue.enqueue(&["--id", "long", &command]);
    let args = ["--count", "1", "--grace", "600"];
    let mut worker = queue.start_worker_with(&args, "warn,queuectl=info");
    let pgid = read_pid(&marker);

    worker.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    // Two signals sent at once may arrive as one, so the second waits until
    // the worker has logged the first.
    crate::support::wait_for("the first signal is heard", Duration::from_secs(10), || {
        worker.log().contains("signal received").then_some(())
    });
    worker.signal(Signal::SIGTERM);
    let status = worker.wait_exit();

    assert!(status.success(), "{}", worker.log());
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
    assert_eq!(group_members(pgid), [], "processes of the job are left");
    let released = queue.job("long");
    assert_eq!(released["state"], "pending", "{released:#}");
    assert_eq!(released["attempts"], 0);

    let mut second = queue.start_worker(1);
    let done = queue.wait_for_state("long", "completed", Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(second.wait_exit().success(), "{}", second.log());
    assert_eq!(done["stdout"], "second run\n");
    assert_eq!(results(&done), ["released", "succeeded"]);
}

/// At its timeout a job is stopped as soon as its processes are gone: the
/// shell forks `sleep`, both die of SIGTERM, and the worker reaps the
/// orphaned `sleep` itself rather than waiting out the kill grace for init.
#[test]
fn timed_out_job_ends_at_its_timeout_leaving_nothing() {
    let queue = Queue::new();
    let pid_file = queue.path("shell.pid");
    let command = format!("echo $$ > '{}'; sleep 30", pid_file.display());
    let id = queue.enqueue(&["--timeout", "1", "--max-retries", "0", &command]);

    let mut worker = queue.start_worker(1);
    let pgid = read_pid(&pid_file);
    let job = queue.wait_for_state(&id, "dead", Duration::from_secs(10));

    let took = millis(&job["finished_at"]) - millis(&job["started_at"]);
    // One second, not the three that waiting out the 2 s kill grace takes.
    assert!((1000..1900).contains(&took), "the attempt took {took} ms");
    assert_eq!(job["last_error"], "timed out after 1s");
    assert_eq!(group_members(pgid), [], "processes of the job are left");
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
}

/// A job that ignores SIGTERM is killed with SIGKILL after the kill grace
/// at its timeout, background children and all, and every one is reaped.
#[test]
fn timed_out_job_ignoring_sigterm_is_killed_and_reaped() {
    let queue = Queue::new();
    let pid_file = queue.path("shell.pid");
    let command = format!(
        "trap '' TERM; echo $$ > '{}'; sleep 3600 & sleep 3600",
        pid_file.display()
    );
    let id = queue.enqueue(&["--timeout", "1", "--max-retries", "0", &command]);

    let mut worker = queue.start_worker(1);
    let pgid = read_pid(&pid_file);
    let job = queue.wait_for_state(&id, "dead", Duration::from_secs(15));

    let took = millis(&job["finished_at"]) - millis(&job["started_at"]);
    assert!((3000..6000).contains(&took), "the attempt took {took} ms");
    assert_eq!(job["last_error"], "timed out after 1s");
    assert_eq!(group_members(pgid), [], "processes of the job are left");
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
}
