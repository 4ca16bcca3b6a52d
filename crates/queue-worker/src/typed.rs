//! Typed handlers: jobs whose payload is decoded into a Rust type before the
//! handler runs, and [`JobError`], the failure such a handler returns.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use queue_core::{AttemptOutcome, RetryDirective};
use serde::de::DeserializeOwned;

use crate::{Execution, Handler, JobContext};

/// Why an attempt failed, and whether and when the job should run again.
///
/// A handler returns one of three kinds:
///
/// - [`JobError::retry`]: try again on the queue's backoff schedule
///   (`backoff-base` and `backoff-max`) while retries are left;
/// - [`JobError::retry_after`]: try again after exactly this delay, while
///   retries are left, for a rate limit or a service that said when;
/// - [`JobError::permanent`]: do not try again; the job goes straight to the
///   dead-letter queue, whatever retries it had left.
///
/// Every failed attempt counts against the job's `max_retries`, so a job
/// that keeps asking to retry still ends in the dead-letter queue.
///
/// Any error type converts into a retryable `JobError` with `?`, its
/// message being the error and its sources on one line:
///
/// ```
/// use queue_worker::JobError;
///
/// fn parse(text: &str) -> Result<u32, JobError> {
///     let n: u32 = text.parse()?;
///     if n == 0 {
///         return Err(JobError::permanent("zero items cannot be shipped"));
///     }
///     Ok(n)
/// }
///
/// assert_eq!(parse("x").unwrap_err().message(), "invalid digit found in string");
/// assert_eq!(parse("7").unwrap(), 7);
/// ```
///
/// `JobError` does not implement [`std::error::Error`] itself: that is what
/// lets every error convert into it.
pub struct JobError {
    message: String,
    retry: RetryDirective,
}

impl JobError {
    /// A failure worth retrying on the queue's backoff schedule.
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: RetryDirective::Backoff,
        }
    }

    /// A failure worth retrying after exactly `delay` instead of the backoff
    /// schedule.
    pub fn retry_after(delay: Duration, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: RetryDirective::After(delay),
        }
    }

    /// A failure that retrying cannot fix, such as bad input: the job goes to
    /// the dead-letter queue at once.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retry: RetryDirective::Never,
        }
    }

    /// The one-line reason, as the job's `last_error` will show it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether and when the job runs again.
    pub fn retry_directive(&self) -> RetryDirective {
        self.retry
    }

    /// Whether the job goes to the dead-letter queue without retrying.
    pub fn is_permanent(&self) -> bool {
        self.retry == RetryDirective::Never
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobError")
            .field("message", &self.message)
            .field("retry", &self.retry)
            .finish()
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E> From<E> for JobError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            // Many errors repeat their source's text in their own.
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        Self::retry(message.replace('\n', " "))
    }
}

impl From<JobError> for Execution {
    fn from(err: JobError) -> Self {
        Execution::from_outcome(AttemptOutcome::Failed {
            error: err.message,
            retry: err.retry,
        })
    }
}

impl From<Result<(), JobError>> for Execution {
    fn from(result: Result<(), JobError>) -> Self {
        match result {
            Ok(()) => Execution::succeeded(),
            Err(err) => err.into(),
        }
    }
}

/// A handler for jobs whose payload is a [`Payload`](TypedHandler::Payload),
/// decoded from the job's JSON before [`run`](TypedHandler::run) is called.
///
/// Register one with [`PoolBuilder::typed_handler`]; a closure does the same
/// through [`PoolBuilder::typed`]. A payload that does not decode fails the
/// attempt permanently, with a message that names the expected type and what
/// did not match, and the handler is not called. A job stored without a
/// payload decodes as JSON `null`, which suits `()` and `Option<T>`.
///
/// ```
/// use queue_worker::{JobContext, JobError, TypedHandler};
///
/// #[derive(serde::Deserialize)]
/// struct Resize {
///     image: String,
///     width: u32,
/// }
///
/// struct Resizer {
///     max_width: u32,
/// }
///
/// impl TypedHandler for Resizer {
///     type Payload = Resize;
///
///     fn run(&self, ctx: &JobContext, job: Resize) -> Result<(), JobError> {
///         if job.width > self.max_width {
///             return Err(JobError::permanent(format!("{} is too wide", job.image)));
///         }
///         if ctx.cancel().is_cancelled() {
///             return Err(JobError::retry("stopped before resizing"));
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// [`PoolBuilder::typed_handler`]: crate::PoolBuilder::typed_handler
/// [`PoolBuilder::typed`]: crate::PoolBuilder::typed
pub trait TypedHandler: Send + Sync + 'static {
    /// What a job of this kind carries.
    type Payload: DeserializeOwned;

    /// Runs one attempt with the decoded payload.
    fn run(&self, ctx: &JobContext, payload: Self::Payload) -> Result<(), JobError>;
}

/// Adapts a [`TypedHandler`] to [`Handler`] by decoding the payload first.
pub(crate) struct Decoding<H>(pub(crate) H);

impl<H: TypedHandler> Handler for Decoding<H> {
    fn run(&self, ctx: &JobContext) -> Execution {
        match ctx.payload::<H::Payload>() {
            Ok(payload) => self.0.run(ctx, payload).into(),
            Err(err) => err.into(),
        }
    }
}

/// A closure over a decoded payload, as a [`TypedHandler`].
pub(crate) struct TypedFn<P, F> {
    f: F,
    // `fn() -> P` keeps the closure Send and Sync whatever `P` is: no `P` is
    // ever stored.
    payload: PhantomData<fn() -> P>,
}

impl<P, F> TypedFn<P, F> {
    pub(crate) fn new(f: F) -> Self {
        Self {
            f,
            payload: PhantomData,
        }
    }
}

impl<P, F> TypedHandler for TypedFn<P, F>
where
    P: DeserializeOwned + 'static,
    F: Fn(&JobContext, P) -> Result<(), JobError> + Send + Sync + 'static,
{
    type Payload = P;

    fn run(&self, ctx: &JobContext, payload: P) -> Result<(), JobError> {
        (self.f)(ctx, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot reach the mail server")]
    struct Unreachable(#[source] std::io::Error);

    #[test]
    fn errors_convert_to_retries_with_their_sources_on_one_line() {
        let io = std::io::Error::other("connection refused");
        let err = JobError::from(Unreachable(io));
        assert_eq!(
            err.message(),
            "cannot reach the mail server: connection refused"
        );
        assert_eq!(err.retry_directive(), RetryDirective::Backoff);
    }

    #[test]
    fn each_constructor_maps_to_its_directive() {
        let delay = Duration::from_secs(90);
        assert_eq!(
            JobError::retry("a").retry_directive(),
            RetryDirective::Backoff
        );
        assert_eq!(
            JobError::retry_after(delay, "b").retry_directive(),
            RetryDirective::After(delay)
        );
        assert!(JobError::permanent("c").is_permanent());

        let execution = Execution::from(Err(JobError::permanent("bad input")));
        let expected = AttemptOutcome::Failed {
            error: "bad input".into(),
            retry: RetryDirective::Never,
        };
        assert_eq!(execution.outcome, expected);
        assert_eq!(Execution::from(Ok(())), Execution::succeeded());
    }
}
