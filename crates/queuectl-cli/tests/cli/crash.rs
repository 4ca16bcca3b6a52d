//! Workers killed or paused mid-job: the queue survives them, nothing is
//! lost, and a worker that lost a job cannot overwrite it.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use crate::support::{Queue, text, wait_for};

/// Stored jobs survive a worker killed with SIGKILL: a new worker runs the
/// pending jobs, and the job that was running comes back once its lease
/// expires and completes, its record showing the lost attempt.
#[test]
fn job_of_a_killed_worker_comes_back_after_its_lease_and_completes() {
    let queue = Queue::new();
    queue.set_config("lease", "2s");
    // The retry after a lost attempt waits 1^1 = 1 s.
    queue.set_config("backoff-base", "1");

    // The first run records its shell's pid and hangs; a second run sees the
    // record and finishes.
    let marker = queue.path("interrupted.pid");
    let command = format!(
        "if [ -s '{m}' ]; then echo recovered; else echo $$ > '{m}'; sleep 60; fi",
        m = marker.display()
    );
    queue.enqueue(&["--id", "early", "--priority", "20", "echo early"]);
    queue.enqueue(&["--id", "interrupted", "--priority", "10", &command]);
    queue.enqueue(&["--id", "waiting-1", "echo one"]);
    queue.enqueue(&["--id", "waiting-2", "echo two"]);

    let mut first = queue.start_worker(1);
    let shell = wait_for("the job has started", Duration::from_secs(10), || {
        let pid = std::fs::read_to_string(&marker).ok()?;
        pid.trim().parse::<i32>().ok()
    });
    first.kill();
    // The job's shell leads a process group of its own and outlives the
    // worker; kill it too, as a reboot would.
    let _ = killpg(Pid::from_raw(shell), Signal::SIGKILL);

    assert!(
        queue.workers().is_empty(),
        "a killed worker is not listed as running"
    );
    let early = queue.job("early");
    assert_eq!(early["state"], "completed");
    assert_eq!(early["stdout"], "early\n");
    assert_eq!(queue.state("interrupted"), "processing");
    assert_eq!(queue.state("waiting-1"), "pending");
    assert_eq!(queue.state("waiting-2"), "pending");

    let mut second = queue.start_worker(2);
    for id in ["waiting-1", "waiting-2"] {
        queue.wait_for_state(id, "completed", Duration::from_secs(10));
    }
    let recovered = queue.wait_for_state("interrupted", "completed", Duration::from_secs(20));
    queue.ok(&["worker", "stop"]);
    assert!(second.wait_exit().success(), "{}", second.log());

    assert_eq!(recovered["stdout"], "recovered\n");
    assert_eq!(recovered["attempts"], 2);
    let history = recovered["history"]
        .as_array()
        .expect("history is an array");
    let results: Vec<&str> = history.iter().map(|a| text(&a["result"])).collect();
    assert_eq!(results, ["lost", "succeeded"], "{recovered:#}");
    assert!(
        text(&history[0]["error"]).contains("lease expired"),
        "{recovered:#}"
    );
    assert_eq!(history[0]["exit_code"], Value::Null);
    assert_ne!(history[0]["worker_id"], history[1]["worker_id"]);
    assert_eq!(queue.job("early"), early, "a finished job changed");
}

/// A worker paused (SIGSTOP) past its lease loses its job to another worker,
/// which runs it to the end. When the paused worker resumes, its job has
/// finished too, but its late report is refused and logged: the job keeps
/// the other worker's result.
#[test]
fn paused_worker_cannot_overwrite_the_job_it_lost() {
    let queue = Queue::new();
    queue.set_config("lease", "1s");
    queue.set_config("backoff-base", "1");
    let runs = queue.path("runs.log");
    let command = format!("echo $PPID >> '{}'; sleep 0.5; echo done", runs.display());
    queue.enqueue(&["--id", "job", &command]);
    let mut paused = queue.start_worker(1);
    wait_for("the first run started", Duration::from_secs(10), || {
        std::fs::read_to_string(&runs)
            .ok()
            .filter(|log| !log.is_empty())
    });

    paused.signal(Signal::SIGSTOP);
    let mut other = queue.start_worker(1);
    let done = queue.wait_for_state("job", "completed", Duration::from_secs(20));
    paused.signal(Signal::SIGCONT);
    wait_for(
        "the late report is refused",
        Duration::from_secs(10),
        || {
            let log = paused.log();
            (log.contains("late report refused") || log.contains("lease lost")).then_some(())
        },
    );
    queue.ok(&["worker", "stop"]);
    assert!(paused.wait_exit().success(), "{}", paused.log());
    assert!(other.wait_exit().success(), "{}", other.log());

    let after = queue.job("job");
    assert_eq!(after, done, "the late report changed the job");
    let history = after["history"].as_array().expect("history is an array");
    let results: Vec<&str> = history.iter().map(|a| text(&a["result"])).collect();
    assert_eq!(results, ["lost", "succeeded"], "{after:#}");
    assert_ne!(history[0]["worker_id"], history[1]["worker_id"]);
    let pids: Vec<u32> = std::fs::read_to_string(&runs)
        .expect("the runs wrote their workers' pids")
        .lines()
        .map(|pid| pid.parse().expect("a pid"))
        .collect();
    assert_eq!(pids, [paused.pid(), other.pid()]);
}
