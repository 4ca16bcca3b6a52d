//! How jobs run: in priority order, not before they are due, within their
//! timeout, and in bounded memory whatever they print.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Queue, millis, text, wait_for};

/// Jobs waiting for one free slot run by priority, highest first, and in
/// enqueue order within a priority.
#[test]
fn jobs_run_by_priority_then_in_enqueue_order() {
    let queue = Queue::new();
    let ran = queue.path("order.log");
    let jobs = [
        ("zero-a", "0"),
        ("five-a", "5"),
        ("zero-b", "0"),
        ("nine", "9"),
        ("five-b", "5"),
        ("minus-one", "-1"),
        ("zero-c", "0"),
    ];
    for (id, priority) in jobs {
        let command = format!("echo {id} >> '{}'", ran.display());
        queue.enqueue(&["--id", id, "--priority", priority, &command]);
    }

    let mut worker = queue.start_worker(1);
    wait_for("every job completed", Duration::from_secs(20), || {
        (queue.counts()["completed"] == jobs.len()).then_some(())
    });
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    let expected = [
        "nine",
        "five-a",
        "five-b",
        "zero-a",
        "zero-b",
        "zero-c",
        "minus-one",
    ];
    let order = std::fs::read_to_string(&ran).expect("the jobs wrote their ids");
    assert_eq!(order.lines().collect::<Vec<_>>(), expected);
    let starts: Vec<i64> = expected
        .iter()
        .map(|id| millis(&queue.job(id)["started_at"]))
        .collect();
    assert!(starts.is_sorted(), "start times out of order: {starts:?}");
}

/// A job enqueued with `--delay 2` does not start until two seconds after
/// it was enqueued.
#[test]
fn delayed_job_starts_no_earlier_than_its_delay() {
    let queue = Queue::new();
    let mut worker = queue.start_worker(1);

    let id = queue.enqueue(&["--delay", "2", "echo later"]);
    let job = queue.wait_for_state(&id, "completed", Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    let created = millis(&job["created_at"]);
    let started = millis(&job["started_at"]);
    assert!(millis(&job["run_at"]) >= created + 2000, "{job:#}");
    assert!(
        started >= created + 2000,
        "started {} ms after enqueue",
        started - created
    );
    assert!(started >= millis(&job["run_at"]), "{job:#}");
    assert_eq!(job["stdout"], "later\n");
}

/// A job that runs past its timeout is killed with everything it started,
/// background children included, and fails saying it timed out.
#[test]
fn timed_out_job_leaves_no_process_behind_and_says_it_timed_out() {
    let queue = Queue::new();
    // Sleep lengths no other process on the machine is likely to use.
    let first = 5_000_000 + 2 * u64::from(std::process::id());
    let second = first + 1;
    let command = format!("sleep {first} & sleep {second}");
    let id = queue.enqueue(&["--timeout", "1", "--max-retries", "0", &command]);

    let mut worker = queue.start_worker(1);
    wait_for("both sleeps run", Duration::from_secs(10), || {
        (sleeping(first) == 1 && sleeping(second) == 1).then_some(())
    });
    let job = queue.wait_for_state(&id, "dead", Duration::from_secs(15));

    assert_eq!(
        sleeping(first) + sleeping(second),
        0,
        "a sleep outlived its job"
    );
    assert_eq!(job["last_error"], "timed out after 1s");
    assert_eq!(job["exit_code"], Value::Null);
    assert_eq!(job["timeout"], 1);
    let took = millis(&job["finished_at"]) - millis(&job["started_at"]);
    assert!((1000..5000).contains(&took), "the attempt took {took} ms");

    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
}

/// How many running processes are `sleep <seconds>`. Zombies have an empty
/// command line, so only live processes count.
fn sleeping(seconds: u64) -> usize {
    let wanted = seconds.to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| {
            let mut args = cmdline.split(|&byte| byte == 0);
            let program = std::str::from_utf8(args.next().unwrap_or_default()).unwrap_or("");
            Path::new(program).ends_with("sleep") && args.next() == Some(wanted.as_bytes())
        })
        .count()
}

/// A job printing 100 MB leaves the worker's peak memory under 50 MB and
/// stores the last 64 KiB (the default output limit) after a marker line
/// that counts the bytes left out.
#[test]
fn huge_output_keeps_worker_memory_bounded_and_stores_the_tail() {
    const PRINTED: u64 = 100_000_000;
    const KEPT: u64 = 65_536;
    let queue = Queue::new();
    let id = queue.enqueue(&[&format!("yes | head -c {PRINTED}")]);

    let mut worker = queue.start_worker(1);
    let job = queue.wait_for_state(&id, "completed", Duration::from_secs(60));
    let peak_kib = peak_rss_kib(worker.pid());
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    assert!(
        peak_kib < 50 * 1024,
        "the worker's peak RSS was {peak_kib} KiB"
    );
    let stdout = text(&job["stdout"]);
    let (marker, tail) = stdout.split_once('\n').expect("a marker line");
    assert_eq!(
        marker,
        format!("[... {} bytes omitted ...]", PRINTED - KEPT)
    );
    // `yes` prints "y\n", and both counts are even, so the tail is whole lines.
    assert_eq!(tail.len() as u64, KEPT);
    assert!(
        tail == "y\n".repeat(tail.len() / 2),
        "the tail is not yes's output"
    );
}

/// The peak resident set size of process `pid` (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the worker's /proc status is readable");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

/// An idle worker starts a job enqueued by another process without waiting
/// for its poll: with a one-minute poll interval, only the enqueue's wake-up
/// can start the job within seconds.
#[cfg(target_os = "linux")]
#[test]
fn enqueue_wakes_an_idle_worker_before_its_poll() {
    let queue = Queue::new();
    queue.set_config("poll-interval", "60s");
    let mut worker = queue.start_worker(1);
    // The worker's first claim found nothing; from now on it sleeps.
    let id = queue.enqueue(&["echo woken"]);
    let job = queue.wait_for_state(&id, "completed", Duration::from_secs(10));
    assert_eq!(text(&job["stdout"]), "woken\n");
    let waited = millis(&job["started_at"]) - millis(&job["created_at"]);
    assert!(waited < 5_000, "started {waited} ms after the enqueue");
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
}
