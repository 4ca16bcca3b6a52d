//! Many workers on one queue: every job is claimed by exactly one of them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{Queue, wait_for, write_lines};

const JOBS: usize = 300;

/// Logs the line each executor writes as it starts a job.
const JOB_START_LOG: &str = "warn,queue_worker::pool::executor=debug";

/// 300 jobs on two worker processes of four slots each: every job runs
/// exactly once, and both processes take part.
#[test]
fn every_job_runs_exactly_once_across_two_worker_processes() {
    let queue = Queue::new();
    let ran = queue.path("ran.log");
    let ids: Vec<String> = (0..JOBS).map(|n| format!("job-{n:03}")).collect();
    let specs: Vec<String> = ids
        .iter()
        .map(|id| {
            // A short line appended with O_APPEND is written atomically.
            let command = format!("echo {id} >> '{}'", ran.display());
            serde_json::json!({ "id": id, "command": command }).to_string()
        })
        .collect();
    let file = queue.path("jobs.jsonl");
    write_lines(&file, &specs);

    let mut workers = [
        queue.start_worker_logging(4, JOB_START_LOG),
        queue.start_worker_logging(4, JOB_START_LOG),
    ];
    let enqueued = queue.ok(&["enqueue", "--file", file.to_str().expect("UTF-8 path")]);
    assert_eq!(enqueued.lines().collect::<Vec<_>>(), ids);

    wait_for("every job completed", Duration::from_secs(60), || {
        let counts = queue.counts();
        assert_eq!(counts["dead"], 0, "{counts:#}");
        (counts["completed"] == JOBS).then_some(())
    });
    assert_eq!(queue.ok(&["worker", "stop"]).trim(), "all workers stopped");
    for worker in &mut workers {
        assert!(worker.wait_exit().success(), "{}", worker.log());
    }

    let mut runs: BTreeMap<String, usize> = BTreeMap::new();
    let log = std::fs::read_to_string(&ran).expect("the jobs wrote their ids");
    for line in log.lines() {
        *runs.entry(line.to_owned()).or_default() += 1;
    }
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "jobs that ran more than once: {twice:?}");
    assert_eq!(runs.keys().cloned().collect::<Vec<_>>(), ids);

    let jobs = queue.jobs();
    assert_eq!(jobs.len(), JOBS);
    for job in &jobs {
        assert_eq!(job["state"], "completed", "{job:#}");
        assert_eq!(job["attempts"], 1, "{job:#}");
    }

    let started: Vec<usize> = workers
        .iter()
        .map(|worker| worker.log().matches("job started").count())
        .collect();
    assert_eq!(
        started.iter().sum::<usize>(),
        JOBS,
        "job starts per worker: {started:?}"
    );
    assert!(
        started.iter().all(|&n| n > 0),
        "a worker ran nothing: {started:?}"
    );
}

/// A worker started with `--prefetch` holds its slots' jobs and that many
/// more, and no others: the rest stay for other workers. It reports only the
/// started ones as running, and a stop gives every unfinished job back
/// without charging an attempt.
#[test]
fn prefetching_worker_holds_slots_plus_prefetch_and_gives_them_back_on_stop() {
    let queue = Queue::new();
    let ids: Vec<String> = (0..6)
        .map(|n| queue.enqueue(&["--id", &format!("long-{n}"), "sleep 60"]))
        .collect();

    let mut worker =
        queue.start_worker_with(&["--count", "1", "--prefetch", "2", "--grace", "0"], "warn");
    wait_for(
        "the worker holds three jobs",
        Duration::from_secs(20),
        || {
            let counts = queue.counts();
            (counts["processing"] == 3).then_some(())
        },
    );
    let workers = wait_for(
        "the heartbeat shows one running",
        Duration::from_secs(20),
        || {
            let workers = queue.workers();
            (workers.first().is_some_and(|w| w["running"] == 1)).then_some(workers)
        },
    );
    assert_eq!(workers.len(), 1, "{workers:#?}");
    let counts = queue.counts();
    assert_eq!(counts["processing"], 3, "{counts:#}");
    assert_eq!(counts["pending"], 3, "{counts:#}");

    assert_eq!(queue.ok(&["worker", "stop"]).trim(), "all workers stopped");
    assert!(worker.wait_exit().success(), "{}", worker.log());
    for id in &ids {
        let job = queue.job(id);
        assert_eq!(job["state"], "pending", "{job:#}");
        assert_eq!(job["attempts"], 0, "{job:#}");
    }
}
