//! What the tests share: a queue in a temporary directory, `queuectl` runs
//! against it, worker processes that never outlive a test, and polling.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// How often [`wait_for`] checks its condition.
const POLL: Duration = Duration::from_millis(25);

/// How long a worker process may take to register or to exit.
const WORKER_STARTUP: Duration = Duration::from_secs(10);

/// `queuectl` with a clean environment: no default database from the
/// caller's shell, no colour, and only warnings logged.
pub(crate) fn queuectl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_queuectl"));
    command
        .env_remove("QUEUECTL_DB")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// Runs `queuectl` with `args` and no `--db`.
pub(crate) fn run(args: &[&str]) -> Run {
    Run::of(queuectl().args(args))
}

/// How one run of `queuectl` ended.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code; `None` if a signal ended the process.
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Runs `command` to its end.
    pub(crate) fn of(command: &mut Command) -> Self {
        let output = command.output().expect("queuectl could not be started");
        Self::from_output(&output)
    }

    /// How a process that has ended, ended.
    pub(crate) fn from_output(output: &std::process::Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts the exit code, showing both streams if it differs.
    #[track_caller]
    pub(crate) fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "unexpected exit code: {self:#?}");
        self
    }

    /// Asserts that stderr is exactly one `queuectl: ...` line and returns it.
    #[track_caller]
    pub(crate) fn error_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line: {self:#?}");
        assert!(lines[0].starts_with("queuectl: "), "{self:#?}");
        lines[0]
    }
}

/// A queue database of its own in a temporary directory, deleted on drop.
pub(crate) struct Queue {
    db: PathBuf,
    dir: TempDir,
}

impl Queue {
    /// A fresh queue whose idle workers look for due jobs every 50 ms.
    pub(crate) fn new() -> Self {
        let queue = Self::unopened();
        queue.set_config("poll-interval", "50ms");
        queue
    }

    /// A queue whose database file does not exist yet.
    pub(crate) fn unopened() -> Self {
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        Self {
            db: dir.path().join("queue.db"),
            dir,
        }
    }

    pub(crate) fn db(&self) -> &Path {
        &self.db
    }

    /// A path in the queue's temporary directory, for files jobs write.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `queuectl --db <this queue> args...`, not yet run.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = queuectl();
        command.arg("--db").arg(&self.db).args(args);
        command
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::of(&mut self.command(args))
    }

    /// Runs a command that must succeed and returns its stdout.
    #[track_caller]
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, Some(0), "queuectl {args:?} failed: {run:#?}");
        run.stdout
    }

    /// Runs a command that must succeed and print JSON, and parses it.
    #[track_caller]
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|err| panic!("queuectl {args:?} printed bad JSON ({err}): {stdout}"))
    }

    /// Enqueues one job and returns its id.
    #[track_caller]
    pub(crate) fn enqueue(&self, args: &[&str]) -> String {
        let mut all = vec!["enqueue"];
        all.extend_from_slice(args);
        self.ok(&all).trim().to_owned()
    }

    /// `inspect --json`: the job's fields, `duration_ms` and `history`.
    #[track_caller]
    pub(crate) fn job(&self, id: &str) -> Value {
        self.json(&["inspect", id, "--json"])
    }

    #[track_caller]
    pub(crate) fn state(&self, id: &str) -> String {
        text(&self.job(id)["state"]).to_owned()
    }

    /// Every job, newest first.
    #[track_caller]
    pub(crate) fn jobs(&self) -> Vec<Value> {
        match self.json(&["list", "--json", "--limit", "100000"]) {
            Value::Array(jobs) => jobs,
            other => panic!("list --json printed {other}, not an array"),
        }
    }

    /// The `counts` object of `status --json`.
    #[track_caller]
    pub(crate) fn counts(&self) -> Value {
        self.json(&["status", "--json"])["counts"].clone()
    }

    /// The `workers` array of `status --json`.
    #[track_caller]
    pub(crate) fn workers(&self) -> Vec<Value> {
        match &self.json(&["status", "--json"])["workers"] {
            Value::Array(workers) => workers.clone(),
            other => panic!("status --json has workers {other}, not an array"),
        }
    }

    #[track_caller]
    pub(crate) fn set_config(&self, key: &str, value: &str) {
        self.ok(&["config", "set", key, value]);
    }

    /// Waits until job `id` is in `state` and returns it.
    #[track_caller]
    pub(crate) fn wait_for_state(&self, id: &str, state: &str, limit: Duration) -> Value {
        wait_for(&format!("job {id} is {state}"), limit, || {
            let job = self.job(id);
            (job["state"] == state).then_some(job)
        })
    }

    /// Starts `worker start --count <count>` logging warnings only, and
    /// waits until it has registered.
    #[track_caller]
    pub(crate) fn start_worker(&self, count: u16) -> Worker {
        self.start_worker_logging(count, "warn")
    }

    /// As [`start_worker`](Self::start_worker), with `RUST_LOG` set to
    /// `filter`; the log goes to a file that [`Worker::log`] reads.
    #[track_caller]
    pub(crate) fn start_worker_logging(&self, count: u16, filter: &str) -> Worker {
        self.start_worker_with(&["--count", &count.to_string()], filter)
    }

    /// Starts `worker start <args>` with `RUST_LOG` set to `filter`, and
    /// waits until it has registered; the log goes to a file that
    /// [`Worker::log`] reads.
    #[track_caller]
    pub(crate) fn start_worker_with(&self, args: &[&str], filter: &str) -> Worker {
        let log = tempfile::Builder::new()
            .prefix("worker-")
            .suffix(".log")
            .tempfile_in(self.dir.path())
            .expect("cannot create a worker log file");
        let (file, log) = log.keep().expect("cannot keep the worker log file");
        let mut all = vec!["worker", "start"];
        all.extend_from_slice(args);
        let child = self
            .command(&all)
            .env("RUST_LOG", filter)
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("cannot start a worker");
        let mut worker = Worker {
            child,
            log,
            status: None,
        };
        let pid = u64::from(worker.pid());
        wait_for("the worker registers", WORKER_STARTUP, || {
            if let Some(status) = worker.exited() {
                panic!("the worker exited at start with {status}: {}", worker.log());
            }
            let workers = self.workers();
            workers.iter().any(|w| w["pid"] == pid).then_some(())
        });
        worker
    }
}

/// A `queuectl worker start` process; killed on drop if it still runs, so a
/// failing test leaves no worker behind.
pub(crate) struct Worker {
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl Worker {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the worker has logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if the process has exited (and is now reaped).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("cannot check on the worker");
        }
        self.status
    }

    /// Waits for the process to exit on its own and returns its status.
    #[track_caller]
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
        wait_for("the worker exits", WORKER_STARTUP, || self.exited())
    }

    /// Sends `signal` to the process, if it still runs.
    pub(crate) fn signal(&mut self, signal: nix::sys::signal::Signal) {
        if self.exited().is_none() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid()).expect("a pid"));
            // It may exit between the check and the signal; that is no error.
            let _ = nix::sys::signal::kill(pid, signal);
        }
    }

    /// Kills the process with `SIGKILL`, as a crash would, and reaps it.
    pub(crate) fn kill(&mut self) {
        if self.exited().is_none() {
            // It may exit between the check and the kill; the wait reaps it
            // either way.
            let _ = self.child.kill();
            self.status = Some(self.child.wait().expect("cannot reap the worker"));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `condition` every 25 ms until it returns a value; panics naming
/// `what` if `limit` passes first.
#[track_caller]
pub(crate) fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut condition: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// A JSON string field, or a panic naming what it was instead.
#[track_caller]
pub(crate) fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value}"))
}

/// An RFC 3339 timestamp field as milliseconds since the epoch.
#[track_caller]
pub(crate) fn millis(value: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text(value))
        .unwrap_or_else(|err| panic!("{value} is not an RFC 3339 time: {err}"))
        .timestamp_millis()
}

/// Writes `lines` to `path`, one per line.
pub(crate) fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).expect("cannot write a test file");
}

/// A small pseudo-random generator (xorshift64*) for tests that pick
/// victims and moments; its seed goes into failure messages.
pub(crate) struct Rng {
    seed: u64,
    state: u64,
}

impl Rng {
    /// A generator seeded from the clock and this process.
    pub(crate) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = ((u64::from(nanos) << 20) ^ u64::from(std::process::id())) | 1;
        Self { seed, state: seed }
    }

    /// The seed this generator started from.
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// A number below `n`, which must not be 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The processes in process group `pgid`, zombies included, as their pid
/// and state letter, read from `/proc`.
pub(crate) fn group_members(pgid: i32) -> Vec<(i32, char)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name is in parentheses and may itself hold ") ".
            let (_, rest) = stat.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split(' ').collect();
            let state = fields.first()?.chars().next()?;
            let pgrp: i32 = fields.get(2)?.parse().ok()?;
            (pgrp == pgid).then_some((pid, state))
        })
        .collect()
}

/// Waits until `path` holds a number (a pid a job wrote) and returns it.
#[track_caller]
pub(crate) fn read_pid(path: &Path) -> i32 {
    wait_for(
        &format!("{} holds a pid", path.display()),
        Duration::from_secs(10),
        || std::fs::read_to_string(path).ok()?.trim().parse().ok(),
    )
}
