//! What runs a job: the [`Handler`] trait, the context a handler gets, and
//! the cancellation signal that asks it to stop.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use queue_core::{AttemptOutcome, Job, JobId};
use serde::de::DeserializeOwned;

use crate::JobError;
use crate::capture::TailBuffer;
use crate::live::LiveOutput;

/// Runs jobs of one kind.
///
/// A handler is shared by every executor thread of a pool, so it must be
/// `Send + Sync`. It should return promptly once [`JobContext::cancel`]
/// fires. A panic is caught by the pool and recorded as a failed attempt.
pub trait Handler: Send + Sync + 'static {
    /// Runs one attempt of the job in `ctx` and says how it went.
    fn run(&self, ctx: &JobContext) -> Execution;
}

impl<F> Handler for F
where
    F: Fn(&JobContext) -> Execution + Send + Sync + 'static,
{
    fn run(&self, ctx: &JobContext) -> Execution {
        self(ctx)
    }
}

/// What one attempt produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    /// Success, or a failure with its retry directive.
    pub outcome: AttemptOutcome,
    /// The exit code, for jobs that are processes and exited.
    pub exit_code: Option<i32>,
    /// The kept tail of standard output.
    pub stdout: Option<String>,
    /// The kept tail of standard error.
    pub stderr: Option<String>,
}

impl Execution {
    /// A success with nothing else to report.
    pub fn succeeded() -> Self {
        Self::from_outcome(AttemptOutcome::Succeeded)
    }

    /// A failure that retries on the backoff schedule.
    pub fn failed(error: impl Into<String>) -> Self {
        Self::from_outcome(AttemptOutcome::failed(error))
    }

    /// An execution with the given outcome and nothing else to report.
    pub fn from_outcome(outcome: AttemptOutcome) -> Self {
        Self {
            outcome,
            exit_code: None,
            stdout: None,
            stderr: None,
        }
    }
}

/// Everything a handler knows about the attempt it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    job: Job,
    cancel: CancelToken,
    output_limit_bytes: usize,
    live: LiveOutput,
}

impl JobContext {
    /// A context for one attempt at `job`.
    ///
    /// Output published through a context made here goes nowhere; a pool
    /// gives each attempt's context a slot that it stores while the job runs.
    pub fn new(job: Job, cancel: CancelToken, output_limit_bytes: usize) -> Self {
        Self {
            job,
            cancel,
            output_limit_bytes,
            live: LiveOutput::new(),
        }
    }

    /// The context with the slot a pool reads the attempt's output from.
    pub(crate) fn with_live_output(mut self, live: LiveOutput) -> Self {
        self.live = live;
        self
    }

    /// The slot for the attempt's output while it runs.
    pub(crate) fn live_output(&self) -> &LiveOutput {
        &self.live
    }

    /// The job as it was claimed.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The job's id.
    pub fn id(&self) -> &JobId {
        &self.job.id
    }

    /// The job's kind, which chose this handler.
    pub fn kind(&self) -> &str {
        &self.job.kind
    }

    /// The job's payload decoded as a `P`; a job without one decodes as
    /// JSON `null`.
    ///
    /// A payload that does not match is a permanent [`JobError`]: retrying
    /// would decode the same bytes again. Handlers registered with
    /// [`PoolBuilder::typed`](crate::PoolBuilder::typed) get the payload
    /// decoded already; this is for handlers that implement [`Handler`].
    ///
    /// ```
    /// use queue_worker::{Execution, JobContext, JobError};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Greeting {
    ///     name: String,
    /// }
    ///
    /// fn greet(ctx: &JobContext) -> Execution {
    ///     let run = || -> Result<(), JobError> {
    ///         let greeting: Greeting = ctx.payload()?;
    ///         tracing::info!(name = %greeting.name, "hello");
    ///         Ok(())
    ///     };
    ///     run().into()
    /// }
    /// ```
    pub fn payload<P: DeserializeOwned>(&self) -> Result<P, JobError> {
        let value = self
            .job
            .payload
            .as_ref()
            .unwrap_or(&serde_json::Value::Null);
        P::deserialize(value).map_err(|err| {
            JobError::permanent(format!(
                "payload of {:?} job does not match {}: {err}",
                self.job.kind,
                std::any::type_name::<P>()
            ))
        })
    }

    /// This attempt's number, from 1.
    pub fn attempt(&self) -> u32 {
        self.job.attempts
    }

    /// The attempt's time limit, if the job has one.
    pub fn timeout(&self) -> Option<Duration> {
        (self.job.timeout_secs > 0).then(|| Duration::from_secs(self.job.timeout_secs))
    }

    /// The signal that asks this attempt to stop early.
    ///
    /// It fires when the pool shuts down and the job is still running once
    /// the shutdown grace is over (at once for
    /// [`PoolHandle::stop_now`](crate::PoolHandle::stop_now)); the attempt is
    /// then given back to the queue uncharged, whatever the handler returns.
    /// It also fires when the pool lost the job's lease, so another worker
    /// may be running the job already; the attempt's result is then dropped.
    pub fn cancel(&self) -> &CancelToken {
        &self.cancel
    }

    /// The most bytes of each output stream worth keeping.
    pub fn output_limit_bytes(&self) -> usize {
        self.output_limit_bytes
    }

    /// Shows what this attempt has printed so far while it still runs: the
    /// pool stores it as the job's `stdout` and `stderr` within about a
    /// second, where `queuectl inspect` and the dashboard read it. Each call
    /// replaces both streams (`None`: nothing yet), each cut to its last
    /// [`output_limit_bytes`](Self::output_limit_bytes) as the final output
    /// is; what [`Execution`] reports when the attempt ends replaces it.
    /// [`ShellHandler`](crate::ShellHandler) publishes its output this way by
    /// itself.
    ///
    /// ```
    /// use queue_worker::{Execution, JobContext};
    ///
    /// fn count(ctx: &JobContext) -> Execution {
    ///     let mut log = String::new();
    ///     for step in 1..=3 {
    ///         log.push_str(&format!("step {step} done\n"));
    ///         ctx.publish_output(Some(&log), None);
    ///     }
    ///     Execution {
    ///         stdout: Some(log),
    ///         ..Execution::succeeded()
    ///     }
    /// }
    /// ```
    pub fn publish_output(&self, stdout: Option<&str>, stderr: Option<&str>) {
        let bounded = |text: Option<&str>| {
            text.map(|text| {
                let mut tail = TailBuffer::new(self.output_limit_bytes);
                tail.push(text.as_bytes());
                Arc::new(Mutex::new(tail))
            })
        };
        self.live.attach(bounded(stdout), bounded(stderr));
    }
}

/// A one-way signal that asks a running handler to stop.
///
/// Clones share the signal. Handlers either check [`is_cancelled`] between
/// steps or block in [`wait_timeout`] instead of sleeping.
///
/// [`is_cancelled`]: CancelToken::is_cancelled
/// [`wait_timeout`]: CancelToken::wait_timeout
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl CancelToken {
    /// A signal that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the signal and wakes every waiter. Firing twice is harmless.
    pub fn cancel(&self) {
        let (fired, condvar) = &*self.inner;
        *fired.lock().unwrap_or_else(PoisonError::into_inner) = true;
        condvar.notify_all();
    }

    /// Whether the signal has fired.
    pub fn is_cancelled(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until the signal fires or `timeout` passes; returns whether it fired.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (fired, condvar) = &*self.inner;
        let guard = fired.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = condvar
            .wait_timeout_while(guard, timeout, |fired| !*fired)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    #[test]
    fn cancel_wakes_a_waiter() {
        let token = CancelToken::new();
        let waiter = {
            let token = token.clone();
            thread::spawn(move || token.wait_timeout(Duration::from_secs(60)))
        };
        token.cancel();
        assert!(waiter.join().unwrap());
        assert!(token.is_cancelled());
    }

    #[test]
    fn wait_times_out_when_not_cancelled() {
        let token = CancelToken::new();
        assert!(!token.wait_timeout(Duration::from_millis(1)));
        assert!(!token.is_cancelled());
    }
}
