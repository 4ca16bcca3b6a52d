//! The handler for shell jobs: [`ShellHandler`] runs a job's command under
//! `sh -c` in a process group of its own, enforces the job's timeout, honours
//! cancellation and keeps a bounded tail of what the command prints.
//!
//! # The process group is the unit of a job
//!
//! A shell command starts whatever it likes: pipelines, background children,
//! grandchildren. Killing only the `sh` process would leave those running and
//! holding the output pipes. So the shell is made the leader of a new process
//! group, and every signal the handler sends goes to the whole group.
//!
//! Stopping a job (timeout or cancellation) sends `SIGTERM` to the group,
//! waits up to the kill grace ([`ShellHandler::with_kill_grace`]) for it to
//! empty, then sends `SIGKILL`. The attempt then fails with exit code `None`.
//!
//! # Nothing outlives the shell
//!
//! When the `sh` process exits on its own, whatever is left in its group is
//! killed with `SIGKILL` at once. A job is its command: a background child
//! still running after the shell returned is a stray, and if it held stdout
//! open the output reader would wait for it forever. A command that really
//! needs a long-lived daemon must detach it from the group itself (`setsid`),
//! and then it is no longer the queue's business.
//!
//! # No zombies
//!
//! The shell is reaped through its `Child`. Its children outlive it when the
//! group is signalled; in a process that called
//! [`become_subreaper`](crate::become_subreaper) they become the worker's
//! children, and the handler reaps them by group before the attempt ends, so
//! a stopped job ends as soon as its processes are gone. Orphans that left
//! the group are reaped when a later attempt ends (see the `reap` module).
//!
//! # Output
//!
//! Standard output and standard error are drained on the thread that runs
//! the attempt, by the same `poll(2)` that waits for the shell to exit
//! (through a pidfd), keeping only the last
//! [`JobContext::output_limit_bytes`] bytes of each (see the `capture`
//! module); no thread is started per job. A stream that carried no bytes at
//! all is reported as `None`, so "printed nothing" stays distinct from
//! "printed an empty line". The tails are also the attempt's live output: a
//! pool stores them about once a second while the job runs (see
//! [`JobContext::publish_output`]). Text is decoded as lossy UTF-8, so
//! binary output is stored, mangled, rather than failing the attempt.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use queue_core::{AttemptOutcome, RetryDirective};
use rustix::process::{Pid as RustixPid, PidfdFlags, pidfd_open};
use wait_timeout::ChildExt;

use crate::capture::OutputPump;
use crate::handler::{Execution, Handler, JobContext};
use crate::reap;

/// The longest the handler waits on the child before checking the deadline
/// and the cancel signal again; it bounds how late either is noticed.
const POLL_SLICE: Duration = Duration::from_millis(50);

/// How often the exit of a shell with open pipes is checked where there are
/// no pidfds; with one, the exit is noticed at once.
const FALLBACK_EXIT_CHECK: Duration = Duration::from_millis(5);

/// How long to keep reading output once the job's group is gone.
///
/// Killing the group closes every pipe the job held, so this only runs out
/// when a process that left the group keeps a pipe open (see
/// `OutputPump::finish`).
const OUTPUT_DRAIN_WAIT: Duration = Duration::from_secs(1);

/// How long to wait for a group sent `SIGKILL` to empty once its shell is
/// reaped. Killed processes die at once, and with a subreaper their
/// zombies are reaped here; a zombie given to PID 1 is not waited for long.
const EMPTY_WAIT: Duration = Duration::from_millis(500);

/// The error of an attempt stopped by its [`CancelToken`](crate::CancelToken).
const CANCELLED_ERROR: &str = "cancelled by the worker (shutdown or lost lease)";

/// Runs shell jobs: the job's `command` under `sh -c`, with a timeout,
/// cancellation and bounded output capture.
///
/// What an attempt does:
///
/// - The shell starts with stdin from `/dev/null`, as the leader of a new
///   process group; every signal the handler sends goes to that whole group.
/// - On timeout ([`JobContext::timeout`]) or cancellation
///   ([`JobContext::cancel`]) the group gets `SIGTERM`, then `SIGKILL` after
///   the [kill grace](ShellHandler::with_kill_grace). The attempt fails with
///   "timed out after 10s" or a "cancelled ..." error and no exit code.
/// - When the shell exits on its own, anything still running in its group is
///   killed with `SIGKILL`: no process of a job outlives its attempt.
/// - Exit status 0 succeeds; any other fails as "exit status N" (127 for a
///   command that is not found), and death by a signal the handler did not
///   send fails as "killed by signal N (SIGNAME)". A job without a command
///   fails with [`RetryDirective::Never`].
/// - `stdout` and `stderr` keep the last [`JobContext::output_limit_bytes`]
///   bytes each, as lossy UTF-8, after a `[... N bytes omitted ...]` line when
///   bytes were dropped; a stream that carried no bytes is `None`.
///
/// ```
/// use std::time::Duration;
///
/// use queue_worker::ShellHandler;
///
/// // Give jobs 5 s to exit after SIGTERM before they are killed.
/// let handler = ShellHandler::new().with_kill_grace(Duration::from_secs(5));
/// assert_eq!(handler.kill_grace(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellHandler {
    kill_grace: Duration,
}

impl ShellHandler {
    /// The kill grace of a new handler: 2 seconds.
    pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

    /// A handler with the default kill grace.
    pub fn new() -> Self {
        Self {
            kill_grace: Self::DEFAULT_KILL_GRACE,
        }
    }

    /// Sets how long a job being stopped gets between `SIGTERM` and
    /// `SIGKILL`. Default: [`ShellHandler::DEFAULT_KILL_GRACE`] (2 s).
    #[must_use]
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// How long a job being stopped gets between `SIGTERM` and `SIGKILL`.
    pub fn kill_grace(&self) -> Duration {
        self.kill_grace
    }
}

impl Default for ShellHandler {
    fn default() -> Self {
        Self::new()
    }
}

impl Handler for ShellHandler {
    fn run(&self, ctx: &JobContext) -> Execution {
        let Some(command) = ctx.job().command.as_deref() else {
            // Retrying cannot give the job a command, so it goes straight to
            // the dead-letter queue.
            return Execution::from_outcome(AttemptOutcome::Failed {
                error: "shell job has no command to run".to_owned(),
                retry: RetryDirective::Never,
            });
        };
        if ctx.cancel().is_cancelled() {
            return Execution::failed(CANCELLED_ERROR);
        }

        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(command)
            .stdin(empty_stdin())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // The tracking lasts to the end of the attempt, when the shell has
        // been reaped whichever way it ended.
        let (mut child, _tracked) = match reap::spawn_tracked(&mut shell) {
            Ok(spawned) => spawned,
            Err(err) => return Execution::failed(format!("cannot start sh: {err}")),
        };
        let group = ProcessGroup::led_by(&child);
        // The shell is not reaped yet, so its pid cannot have been reused.
        let exit = match pidfd_open(RustixPid::from_child(&child), PidfdFlags::empty()) {
            Ok(pidfd) => Some(pidfd),
            Err(err) => {
                tracing::debug!(%err, "no pidfd for sh; watching its exit by polling");
                None
            }
        };
        // Both streams are piped, so `take` always finds them.
        let mut output = OutputPump::new(
            child.stdout.take().map(OwnedFd::from),
            child.stderr.take().map(OwnedFd::from),
            ctx.output_limit_bytes(),
            ctx.live_output().clone(),
        );

        let ending = Supervisor {
            ctx,
            child: &mut child,
            exit,
            output: &mut output,
            group,
            kill_grace: self.kill_grace,
        }
        .run();
        reap::sweep_orphans();

        let (stdout, stderr) = output.finish(OUTPUT_DRAIN_WAIT);
        Execution {
            outcome: ending.outcome(),
            exit_code: ending.exit_code(),
            stdout,
            stderr,
        }
    }
}

/// An empty standard input: a copy of one `/dev/null` opened for the whole
/// process. `Stdio::null` opens the file again for every job, and a path
/// lookup costs several times a copy of a descriptor.
fn empty_stdin() -> Stdio {
    static DEV_NULL: OnceLock<Option<File>> = OnceLock::new();
    DEV_NULL
        .get_or_init(|| File::open("/dev/null").ok())
        .as_ref()
        .and_then(|null| null.try_clone().ok())
        .map_or_else(Stdio::null, Stdio::from)
}

/// Waits for the shell to be reaped, so that no zombie is left behind.
///
/// Only called once the group has been sent `SIGKILL`, so the wait is short.
fn reap(child: &mut Child) {
    if let Err(err) = child.wait() {
        tracing::debug!(%err, "cannot reap sh");
    }
}

/// How an attempt's process ended.
#[derive(Debug)]
enum Ending {
    /// The shell exited on its own.
    Exited(ExitStatus),
    /// The job ran past its timeout and was killed.
    TimedOut(Duration),
    /// The cancel signal fired and the job was killed.
    Cancelled,
    /// Waiting for the shell failed, so the job was killed.
    WaitFailed(io::Error),
}

impl Ending {
    fn outcome(&self) -> AttemptOutcome {
        let status = match self {
            Ending::Exited(status) => status,
            Ending::TimedOut(limit) => {
                return AttemptOutcome::failed(format!("timed out after {}", seconds(*limit)));
            }
            Ending::Cancelled => return AttemptOutcome::failed(CANCELLED_ERROR),
            Ending::WaitFailed(err) => {
                return AttemptOutcome::failed(format!("cannot wait for sh: {err}"));
            }
        };
        match (status.code(), status.signal()) {
            (Some(0), _) => AttemptOutcome::Succeeded,
            (Some(code), _) => AttemptOutcome::failed(format!("exit status {code}")),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(name) => AttemptOutcome::failed(format!("killed by signal {signal} ({name})")),
                Err(_) => AttemptOutcome::failed(format!("killed by signal {signal}")),
            },
            (None, None) => AttemptOutcome::failed(format!("sh ended abnormally: {status}")),
        }
    }

    fn exit_code(&self) -> Option<i32> {
        match self {
            Ending::Exited(status) => status.code(),
            Ending::TimedOut(_) | Ending::Cancelled | Ending::WaitFailed(_) => None,
        }
    }
}

/// A duration as operators read it: `10s` for whole seconds, which every job
/// timeout is, and Rust's debug form otherwise.
fn seconds(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{duration:?}")
    }
}

/// The process group a job's shell leads.
#[derive(Debug, Clone, Copy)]
struct ProcessGroup(Pid);

impl ProcessGroup {
    /// The group of a child spawned with `process_group(0)`: its id is the
    /// child's pid, set before `spawn` returned.
    fn led_by(child: &Child) -> Self {
        // Linux pids are at most 2^22 (`pid_max`), so the cast cannot wrap.
        Self(Pid::from_raw(child.id() as i32))
    }

    /// Sends `signal` to every process of the group; returns whether the
    /// group still had a member to receive it.
    ///
    /// Known limitation: once the shell is reaped and the group is empty,
    /// the kernel may reuse the id. Only a process that makes itself a group
    /// leader with exactly that id, within the moments between reaping and
    /// the last signal, could be hit; that needs a full wrap of the pid space.
    fn signal(self, signal: Signal) -> bool {
        match killpg(self.0, signal) {
            Ok(()) => true,
            Err(Errno::ESRCH) => false,
            Err(err) => {
                let pgid = self.0.as_raw();
                tracing::debug!(pgid, %signal, %err, "cannot signal process group");
                false
            }
        }
    }

    /// Whether any process (a zombie included) is still in the group.
    fn is_alive(self) -> bool {
        killpg(self.0, None).is_ok()
    }

    /// Reaps the group's members that are this process's children, and says
    /// whether the group is now empty. Only once the shell is reaped.
    fn reap(self) -> bool {
        reap::reap_group(self.0);
        !self.is_alive()
    }

    /// Reaps the group's members until it is empty or `limit` has passed;
    /// only once the shell is reaped and the group was sent `SIGKILL`.
    fn empty_within(self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.reap() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Watches one running shell until it exits, times out or is cancelled,
/// reading its output meanwhile.
struct Supervisor<'a> {
    ctx: &'a JobContext,
    child: &'a mut Child,
    /// The shell's pidfd, readable once it has exited; `None` on kernels
    /// without pidfds (before Linux 5.3).
    exit: Option<OwnedFd>,
    output: &'a mut OutputPump,
    group: ProcessGroup,
    kill_grace: Duration,
}

impl Supervisor<'_> {
    /// Waits for the attempt to end and leaves no process of the group
    /// running and the shell reaped, whichever way it ended.
    fn run(mut self) -> Ending {
        let ending = self.wait();

        // After a normal exit, whatever the shell left behind goes too (see
        // the module documentation). Every other ending has already killed
        // the group in `stop`.
        if matches!(ending, Ending::Exited(_)) && self.group.signal(Signal::SIGKILL) {
            tracing::debug!(
                job_id = %self.ctx.id(),
                attempt = self.ctx.attempt(),
                "killed processes the job left running"
            );
            self.group.empty_within(EMPTY_WAIT);
        }
        ending
    }

    /// Waits in short slices so the deadline and the cancel signal are both
    /// noticed within [`POLL_SLICE`].
    fn wait(&mut self) -> Ending {
        let started = Instant::now();
        // A timeout too large to add to the clock is as good as none.
        let deadline = self
            .ctx
            .timeout()
            .and_then(|limit| started.checked_add(limit).map(|at| (limit, at)));

        loop {
            if self.ctx.cancel().is_cancelled() {
                self.debug("job cancelled, stopping its process group");
                self.stop();
                return Ending::Cancelled;
            }

            let mut slice = POLL_SLICE;
            if let Some((limit, at)) = deadline {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.debug("job timed out, stopping its process group");
                    self.stop();
                    return Ending::TimedOut(limit);
                }
                slice = slice.min(left);
            }

            match self.wait_slice(slice) {
                Ok(Some(status)) => return Ending::Exited(status),
                Ok(None) => {}
                Err(err) => {
                    self.debug("cannot wait for sh, stopping its process group");
                    self.stop();
                    return Ending::WaitFailed(err);
                }
            }
        }
    }

    /// Waits up to `slice` for the shell to exit, reading its output
    /// meanwhile; returns early, with `None`, when output arrives, so that
    /// the caller's checks run between chunks.
    ///
    /// Known limitation: without a pidfd, the exit of a shell whose pipes
    /// are still open (a background child holds them) is noticed only every
    /// [`FALLBACK_EXIT_CHECK`].
    fn wait_slice(&mut self, slice: Duration) -> io::Result<Option<ExitStatus>> {
        match &self.exit {
            Some(pidfd) => {
                if self.output.pump(Some(pidfd.as_fd()), slice) {
                    // Readable means exited, so this finds the status; a
                    // blocking wait here could only hang on a kernel bug.
                    return match self.child.try_wait()? {
                        Some(status) => Ok(Some(status)),
                        None => self.child.wait_timeout(slice),
                    };
                }
                Ok(None)
            }
            None if self.output.is_open() => {
                self.output.pump(None, slice.min(FALLBACK_EXIT_CHECK));
                self.child.try_wait()
            }
            None => self.child.wait_timeout(slice),
        }
    }

    /// Sends `SIGTERM` to the group, gives it the kill grace to exit, then
    /// sends `SIGKILL`, and reaps the shell.
    fn stop(&mut self) {
        self.group.signal(Signal::SIGTERM);

        let grace_end = Instant::now().checked_add(self.kill_grace);
        let mut shell_reaped = false;
        loop {
            if !shell_reaped {
                match self.child.try_wait() {
                    Ok(status) => shell_reaped = status.is_some(),
                    Err(_) => break,
                }
            }
            // The shell is reaped first, through its `Child`, before its
            // orphans are reaped by group (see `reap`). Orphans given to
            // PID 1 rather than to this process stay members until PID 1
            // reaps them, and keep this waiting up to the grace.
            if shell_reaped && self.group.reap() {
                return;
            }

            let left = match grace_end {
                Some(end) => end.saturating_duration_since(Instant::now()),
                None => POLL_SLICE,
            };
            if left.is_zero() {
                break;
            }
            let slice = left.min(POLL_SLICE);
            if shell_reaped {
                // Members killed by the signal are reaped within moments;
                // until then, what they print is still read.
                self.output.pump(None, slice.min(Duration::from_millis(5)));
            } else {
                match self.wait_slice(slice) {
                    Ok(status) => shell_reaped = status.is_some(),
                    Err(_) => break,
                }
            }
        }

        self.debug("job still running after the kill grace, killing its process group");
        self.group.signal(Signal::SIGKILL);
        if !shell_reaped {
            reap(self.child);
        }
        self.group.empty_within(EMPTY_WAIT);
    }

    fn debug(&self, message: &str) {
        tracing::debug!(job_id = %self.ctx.id(), attempt = self.ctx.attempt(), "{message}");
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use chrono::Utc;
    use queue_core::{Job, JobId, JobState, SHELL_KIND};

    use super::*;
    use crate::CancelToken;

    /// A handler that gives stopped jobs little grace, to keep tests quick.
    fn handler() -> ShellHandler {
        ShellHandler::new().with_kill_grace(Duration::from_millis(200))
    }

    fn job(command: Option<&str>, timeout_secs: u64) -> Job {
        let now = Utc::now();
        Job {
            id: JobId::generate(),
            kind: SHELL_KIND.to_owned(),
            command: command.map(str::to_owned),
            payload: None,
            state: JobState::Processing,
            attempts: 1,
            max_retries: 3,
            priority: 0,
            run_at: now,
            timeout_secs,
            created_at: now,
            updated_at: now,
            started_at: Some(now),
            finished_at: None,
            exit_code: None,
            last_error: None,
            stdout: None,
            stderr: None,
            worker_id: None,
            lease_expires_at: None,
        }
    }

    fn context(command: &str, timeout_secs: u64) -> JobContext {
        JobContext::new(
            job(Some(command), timeout_secs),
            CancelToken::new(),
            64 * 1024,
        )
    }

    fn run(command: &str) -> Execution {
        handler().run(&context(command, 0))
    }

    /// How many live `sleep <seconds>` processes exist; each test sleeps for
    /// its own odd number of seconds so that tests running at once don't see
    /// each other's processes. Zombies have an empty command line, so only
    /// processes still running are counted.
    fn sleepers(seconds: u32) -> usize {
        let wanted = seconds.to_string();
        let Ok(entries) = fs::read_dir("/proc") else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| fs::read(entry.path().join("cmdline")).ok())
            .filter(|cmdline| {
                let mut args = cmdline.split(|&byte| byte == 0);
                let program = args.next().unwrap_or_default();
                Path::new(std::str::from_utf8(program).unwrap_or_default()).ends_with("sleep")
                    && args.next() == Some(wanted.as_bytes())
            })
            .count()
    }

    /// Polls `condition` until it holds or `limit` passes; returns whether it held.
    fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if condition() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        condition()
    }

    #[test]
    fn successful_command_reports_success_and_its_stdout() {
        let execution = run("echo hello; echo world");

        assert_eq!(execution.outcome, AttemptOutcome::Succeeded);
        assert_eq!(execution.exit_code, Some(0));
        assert_eq!(execution.stdout.as_deref(), Some("hello\nworld\n"));
        assert_eq!(execution.stderr, None);
    }

    #[test]
    fn silent_command_reports_no_output() {
        let execution = run("true");

        assert_eq!(execution.outcome, AttemptOutcome::Succeeded);
        assert_eq!((execution.stdout, execution.stderr), (None, None));
    }

    #[test]
    fn stdin_is_empty() {
        // `cat` would wait forever on an inherited terminal or pipe.
        let execution = run("cat; echo eof");

        assert_eq!(execution.stdout.as_deref(), Some("eof\n"));
    }

    #[test]
    fn nonzero_exit_fails_with_its_status_and_keeps_stderr() {
        let execution = run("echo oops >&2; exit 3");

        assert_eq!(execution.outcome, AttemptOutcome::failed("exit status 3"));
        assert_eq!(execution.exit_code, Some(3));
        assert_eq!(execution.stderr.as_deref(), Some("oops\n"));
    }

    #[test]
    fn unknown_program_is_an_ordinary_exit_127_failure() {
        let execution = run("queuectl-test-no-such-program");

        assert_eq!(execution.outcome, AttemptOutcome::failed("exit status 127"));
        assert_eq!(execution.exit_code, Some(127));
        let stderr = execution.stderr.unwrap_or_default();
        assert!(stderr.contains("not found"), "stderr: {stderr}");
    }

    #[test]
    fn job_without_a_command_fails_without_retry() {
        let ctx = JobContext::new(job(None, 0), CancelToken::new(), 1024);

        let execution = handler().run(&ctx);

        assert_eq!(
            execution.outcome,
            AttemptOutcome::Failed {
                error: "shell job has no command to run".to_owned(),
                retry: RetryDirective::Never,
            }
        );
        assert_eq!(execution.exit_code, None);
    }

    #[test]
    fn shell_killed_by_a_signal_reports_the_signal() {
        let execution = run("kill -KILL $$");

        assert_eq!(
            execution.outcome,
            AttemptOutcome::failed("killed by signal 9 (SIGKILL)")
        );
        assert_eq!(execution.exit_code, None);
    }

    /// Runs `command` with a one-second timeout on another thread, checks
    /// that `sleep <seconds>` was running twice, and returns the execution
    /// with how long the attempt took.
    fn run_until_timeout(command: &str, seconds: u32) -> (Execution, Duration) {
        let ctx = context(command, 1);
        let started = Instant::now();
        let running = thread::spawn(move || handler().run(&ctx));
        assert!(eventually(Duration::from_secs(5), || sleepers(seconds) == 2));
        let execution = running.join().unwrap();
        (execution, started.elapsed())
    }

    #[test]
    fn timeout_kills_the_whole_group_including_background_children() {
        let (execution, took) = run_until_timeout("sleep 31337 & sleep 31337", 31337);

        assert_eq!(
            execution.outcome,
            AttemptOutcome::failed("timed out after 1s")
        );
        assert_eq!(execution.exit_code, None);
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert!(eventually(Duration::from_secs(5), || sleepers(31337) == 0));
    }

    #[test]
    fn timeout_kills_a_job_that_ignores_sigterm() {
        // The background child inherits the ignored SIGTERM too.
        let command = "trap '' TERM; sleep 31338 & sleep 31338";

        let (execution, took) = run_until_timeout(command, 31338);

        assert_eq!(
            execution.outcome,
            AttemptOutcome::failed("timed out after 1s")
        );
        // The kill grace (200 ms) had to run out before SIGKILL.
        assert!(took >= Duration::from_millis(1200), "took {took:?}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
        assert!(eventually(Duration::from_secs(5), || sleepers(31338) == 0));
    }

    #[test]
    fn background_child_is_killed_once_the_shell_exits() {
        let started = Instant::now();

        // The background sleep inherits stdout; without the group kill the
        // reader would wait for it.
        let execution = run("sleep 31339 & echo done");

        assert_eq!(execution.outcome, AttemptOutcome::Succeeded);
        assert_eq!(execution.stdout.as_deref(), Some("done\n"));
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(eventually(Duration::from_secs(5), || sleepers(31339) == 0));
    }

    #[test]
    fn cancellation_stops_a_running_job_promptly() {
        let ctx = context("echo started; sleep 31340", 0);
        let cancel = ctx.cancel().clone();
        let running = thread::spawn(move || handler().run(&ctx));
        assert!(eventually(Duration::from_secs(10), || sleepers(31340) == 1));

        let cancelled_at = Instant::now();
        cancel.cancel();
        let execution = running.join().unwrap();

        assert!(
            cancelled_at.elapsed() < Duration::from_secs(2),
            "{:?}",
            cancelled_at.elapsed()
        );
        assert_eq!(execution.outcome, AttemptOutcome::failed(CANCELLED_ERROR));
        assert_eq!(execution.exit_code, None);
        assert_eq!(execution.stdout.as_deref(), Some("started\n"));
        assert!(eventually(Duration::from_secs(5), || sleepers(31340) == 0));
    }

    #[test]
    fn cancelled_before_start_runs_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let command = format!("touch '{}'", marker.display());
        let ctx = context(&command, 0);
        ctx.cancel().cancel();

        let execution = handler().run(&ctx);

        assert_eq!(execution.outcome, AttemptOutcome::failed(CANCELLED_ERROR));
        assert!(!marker.exists());
    }

    #[test]
    fn huge_output_keeps_only_the_tail() {
        let limit = 4096;
        let ctx = JobContext::new(
            job(Some("head -c 100000000 /dev/zero; echo err >&2"), 0),
            CancelToken::new(),
            limit,
        );

        let execution = handler().run(&ctx);

        assert_eq!(execution.outcome, AttemptOutcome::Succeeded);
        let expected = format!(
            "[... {} bytes omitted ...]\n{}",
            100_000_000 - limit,
            "\0".repeat(limit)
        );
        assert!(
            execution.stdout.as_deref() == Some(expected.as_str()),
            "wrong tail"
        );
        assert_eq!(execution.stderr.as_deref(), Some("err\n"));
    }

    #[test]
    fn invalid_utf8_output_is_captured_lossily() {
        let execution = run(r"printf '\377\376ok'");

        assert_eq!(execution.outcome, AttemptOutcome::Succeeded);
        assert_eq!(execution.stdout.as_deref(), Some("\u{FFFD}\u{FFFD}ok"));
    }

    /// Reads `/proc/<pid>/stat`: the state letter, parent pid and process
    /// group, or `None` once the process is gone.
    fn stat(pid: i32) -> Option<(char, i32, i32)> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may itself hold ") ".
        let (_, rest) = stat.rsplit_once(") ")?;
        let mut fields = rest.split(' ');
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        Some((state, ppid, pgrp))
    }

    /// The processes of group `pgid`, as (pid, state, parent).
    fn members(pgid: i32) -> Vec<(i32, char, i32)> {
        let Ok(entries) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
            .filter_map(|pid| {
                let (state, ppid, pgrp) = stat(pid)?;
                (pgrp == pgid).then_some((pid, state, ppid))
            })
            .collect()
    }

    /// A job whose shell forks its command (dash does) is stopped at its
    /// timeout by SIGTERM; the orphaned command is this process's to reap,
    /// so the attempt ends at once instead of waiting out the kill grace for
    /// PID 1 to reap it, and nothing of the group is left, zombies included.
    #[test]
    fn timed_out_job_ends_promptly_and_leaves_no_zombie() {
        crate::become_subreaper().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let leader = dir.path().join("leader");
        let command = format!("echo $$ > '{}'; sleep 31341", leader.display());
        let ctx = context(&command, 1);

        let started = Instant::now();
        let execution = ShellHandler::new().run(&ctx);
        let took = started.elapsed();

        assert_eq!(
            execution.outcome,
            AttemptOutcome::failed("timed out after 1s")
        );
        // The default kill grace is 2 s; waiting it out would take 3 s.
        assert!(took < Duration::from_millis(1900), "took {took:?}");
        let pgid: i32 = fs::read_to_string(&leader).unwrap().trim().parse().unwrap();
        assert_eq!(members(pgid), [], "left in the job's group");
    }

    /// A process that left its job's group (`setsid`) is not the job's to
    /// kill, but once it exits its zombie is reaped when a later attempt
    /// ends: the first, unless another test's shell is exiting just then and
    /// the sweep's one look names that shell instead (see `reap`).
    #[test]
    fn orphan_that_left_the_group_is_reaped_after_it_exits() {
        crate::become_subreaper().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let escaped = dir.path().join("escaped");
        // The job waits until the child has left its group, or the group
        // kill at its end could reach the child first.
        let command = format!(
            "setsid sh -c 'echo $$ > \"{f}\"; sleep 0.2' & \
             while [ ! -s '{f}' ]; do sleep 0.01; done",
            f = escaped.display()
        );

        let execution = run(&command);

        assert_eq!(execution.outcome, AttemptOutcome::Succeeded);
        let pid = std::cell::Cell::new(0);
        assert!(eventually(Duration::from_secs(5), || {
            let Some(found) = fs::read_to_string(&escaped)
                .ok()
                .and_then(|text| text.trim().parse().ok())
            else {
                return false;
            };
            pid.set(found);
            let ours = i32::try_from(std::process::id()).unwrap();
            // Gone already (another test's attempt reaped it), or our zombie.
            stat(found).is_none_or(|(state, ppid, _)| state == 'Z' && ppid == ours)
        }));
        let reaped = eventually(Duration::from_secs(5), || {
            run("true");
            stat(pid.get()).is_none()
        });
        assert!(
            reaped,
            "the escaped process is still there: {:?}",
            stat(pid.get())
        );
    }

    #[test]
    fn timeout_message_names_the_limit() {
        assert_eq!(seconds(Duration::from_secs(10)), "10s");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5s");
    }
}
