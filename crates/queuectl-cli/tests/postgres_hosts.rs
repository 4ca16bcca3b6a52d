//! Many hosts on one PostgreSQL queue: worker processes with distinct host
//! names share the jobs, each job runs once, a killed worker's jobs are
//! rescued by the others, and idle workers hear about new jobs at once.
//!
//! The server is named by `QUEUECTL_TEST_POSTGRES_URL`; each test works in a
//! schema of its own. Without a server the tests say so and pass, unless
//! `QUEUECTL_REQUIRE_SERVICES=1` (as in CI) makes that a failure.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The test server's URL, or `None` when these tests are to skip.
fn server_url() -> Option<String> {
    static SAID: AtomicBool = AtomicBool::new(false);
    match std::env::var("QUEUECTL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("QUEUECTL_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "QUEUECTL_REQUIRE_SERVICES=1 but QUEUECTL_TEST_POSTGRES_URL is not set: \
                 point it at a PostgreSQL server, such as \
                 postgres://queuectl@127.0.0.1:5432/postgres"
            );
            if !SAID.swap(true, Ordering::Relaxed) {
                say_skipped();
            }
            None
        }
    }
}

#[expect(clippy::print_stderr, reason = "a skipped test says why")]
fn say_skipped() {
    eprintln!(
        "skipping the many-hosts tests: set QUEUECTL_TEST_POSTGRES_URL to a PostgreSQL \
         server's URL to run them"
    );
}

/// One queue in a schema of its own, the worker processes started on it,
/// and a directory for their logs and the jobs' output. Dropping it kills
/// any worker still running and drops the schema.
struct Queue {
    url: String,
    schema: String,
    dir: tempfile::TempDir,
    workers: Vec<(String, Child)>,
}

impl Queue {
    fn new() -> Option<Self> {
        let url = server_url()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let schema = format!("hosts_{}_{nanos}", std::process::id());
        Some(Self {
            url,
            schema,
            dir: tempfile::tempdir().unwrap(),
            workers: Vec::new(),
        })
    }

    fn db(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.url, self.schema)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a command to completion and returns its output; it must succeed.
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_queuectl"))
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
        drop(input);
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "queuectl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.run(args, None).stdout).unwrap()
    }

    /// Starts `queuectl worker start` as host `host`, logging to a file.
    fn start_worker(&mut self, host: &str, count: u16) {
        let log = std::fs::File::create(self.path(&format!("{host}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_queuectl"))
            .arg("--db")
            .arg(self.db())
            .args(["worker", "start", "--grace", "5", "--count"])
            .arg(count.to_string())
            .env("QUEUECTL_HOST", host)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.workers.push((host.to_owned(), child));
    }

    fn worker(&mut self, host: &str) -> &mut Child {
        self.workers
            .iter_mut()
            .find(|(name, _)| name == host)
            .map(|(_, child)| child)
            .unwrap()
    }

    /// Enqueues `count` jobs named `job-N`, each running `command(id)`.
    fn enqueue(&self, count: usize, command: impl Fn(&str) -> String) -> Vec<String> {
        let ids: Vec<String> = (0..count).map(|n| format!("job-{n}")).collect();
        let mut lines = String::new();
        for id in &ids {
            let spec = serde_json::json!({ "id": id, "command": command(id) });
            lines.push_str(&spec.to_string());
            lines.push('\n');
        }
        self.run(&["enqueue", "--file", "-"], Some(lines.as_bytes()));
        ids
    }

    fn counts(&self) -> Value {
        self.json(&["status", "--json"])["counts"].clone()
    }

    /// Asks every worker to stop and waits for each process to exit.
    fn stop_workers(&mut self) {
        self.run(&["worker", "stop", "--no-wait"], None);
        for (host, child) in &mut self.workers {
            let status = wait_for_exit(child, Duration::from_secs(30));
            assert!(status.is_some(), "worker {host} did not stop");
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        for (_, child) in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let drop_schema = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
            let _ = client.batch_execute(&drop_schema);
        }
    }
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The host part of a worker id (`host:pid:unique`).
fn host_of(worker_id: &str) -> &str {
    worker_id.split(':').next().unwrap_or_default()
}

/// 10,000 jobs shared by worker processes on three hosts each run exactly
/// once, and `status` shows the workers of every host while they run.
#[test]
fn ten_thousand_jobs_run_exactly_once_across_hosts() {
    const JOBS: usize = 10_000;
    let Some(mut queue) = Queue::new() else {
        return;
    };
    let out = queue.path("ran.txt");
    let ids = queue.enqueue(JOBS, |id| format!("echo {id} >> {}", out.display()));
    let hosts = ["host-a", "host-b", "host-c"];
    for host in hosts {
        queue.start_worker(host, 4);
    }

    wait_until(Duration::from_secs(30), "workers on every host", || {
        let status = queue.json(&["status", "--json"]);
        let seen: HashSet<String> = status["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["host"].as_str().unwrap().to_owned())
            .collect();
        hosts.iter().all(|host| seen.contains(*host))
    });
    wait_until(Duration::from_secs(300), "every job to complete", || {
        queue.counts()["completed"] == JOBS
    });
    queue.stop_workers();

    let ran = lines(&out);
    assert_eq!(ran.len(), JOBS, "some job ran twice or not at all");
    let distinct: HashSet<&String> = ran.iter().collect();
    assert_eq!(distinct, ids.iter().collect());
    let done = queue.json(&["list", "--state", "completed", "--limit", "20000", "--json"]);
    for job in done.as_array().unwrap() {
        assert_eq!(job["attempts"], 1, "{job}");
    }
    let mut per_host: HashMap<String, usize> = HashMap::new();
    for id in ids.iter().step_by(97) {
        let inspected = queue.json(&["inspect", id, "--json"]);
        let history = inspected["history"].as_array().unwrap();
        assert_eq!(history.len(), 1, "{inspected}");
        let host = host_of(history[0]["worker_id"].as_str().unwrap()).to_owned();
        *per_host.entry(host).or_default() += 1;
    }
    assert!(
        per_host.len() >= 2,
        "the jobs were not shared between hosts: {per_host:?}"
    );
}

/// A worker killed with SIGKILL mid-run loses its jobs to the other hosts
/// once its lease lapses; each of them then completes there.
#[test]
fn killed_workers_jobs_are_rescued_by_the_other_hosts() {
    let Some(mut queue) = Queue::new() else {
        return;
    };
    queue.run(&["config", "set", "lease", "2"], None);
    queue.run(&["config", "set", "poll-interval", "200ms"], None);
    queue.run(&["config", "set", "backoff-max", "1"], None);
    let out = queue.path("done.txt");
    let ids = queue.enqueue(12, |id| format!("sleep 2; echo {id} >> {}", out.display()));
    queue.start_worker("doomed", 3);
    wait_until(
        Duration::from_secs(30),
        "the doomed worker to hold jobs",
        || queue.counts()["processing"] == 3,
    );
    queue.start_worker("survivor-1", 2);
    queue.start_worker("survivor-2", 2);

    let running = queue.json(&["list", "--state", "processing", "--json"]);
    let held: Vec<String> = running
        .as_array()
        .unwrap()
        .iter()
        .filter(|job| host_of(job["worker_id"].as_str().unwrap()) == "doomed")
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(held.len(), 3);
    let doomed = queue.worker("doomed");
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    wait_until(Duration::from_secs(90), "every job to complete", || {
        queue.counts()["completed"] == ids.len()
    });
    queue.stop_workers();

    for id in &held {
        let inspected = queue.json(&["inspect", id, "--json"]);
        let history = inspected["history"].as_array().unwrap();
        let lost = &history[0];
        assert_eq!(lost["result"], "lost", "{inspected}");
        assert_eq!(host_of(lost["worker_id"].as_str().unwrap()), "doomed");
        let last = history.last().unwrap();
        assert_eq!(last["result"], "succeeded", "{inspected}");
        let host = host_of(last["worker_id"].as_str().unwrap());
        assert!(host.starts_with("survivor-"), "{inspected}");
    }
    let done: HashSet<String> = lines(&out).into_iter().collect();
    assert_eq!(
        done,
        ids.into_iter().collect(),
        "every job ran at least once"
    );
}

/// An idle worker starts a newly enqueued job within moments, though its
/// poll interval is half a minute: the enqueue's notification wakes it.
#[test]
fn idle_workers_start_new_jobs_without_waiting_for_the_poll() {
    let Some(mut queue) = Queue::new() else {
        return;
    };
    queue.run(&["config", "set", "poll-interval", "30s"], None);
    queue.start_worker("listener", 1);
    wait_until(Duration::from_secs(30), "the worker to register", || {
        !queue.json(&["status", "--json"])["workers"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    // Let the worker's first poll find the queue empty, so that only a
    // wake-up can start the job below.
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    queue.enqueue(1, |_| "true".into());
    wait_until(Duration::from_secs(10), "the job to complete", || {
        queue.counts()["completed"] == 1
    });

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    queue.stop_workers();
}
