//! An executor thread: runs the jobs it is handed and reports how they went.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crossbeam_channel::Receiver;
use queue_core::{AttemptReport, Job};
use queue_store::Store;

use super::reports::ReportSender;
use crate::events::EventSink;
use crate::live::LiveOutput;
use crate::{AttemptRef, CancelToken, Execution, Handler, JobContext, JobEvent};

/// A claimed job on its way to an executor.
pub(super) struct Assignment {
    /// Names this run to the coordinator; see [`Report::dispatch`].
    pub(super) dispatch: u64,
    pub(super) job: Job,
    pub(super) cancel: CancelToken,
    /// Where the handler shows the attempt's output while it runs.
    pub(super) output: LiveOutput,
}

/// A finished attempt on its way back to the coordinator.
pub(super) struct Report {
    /// The assignment's number. A job id is not enough: a run cancelled
    /// after its lease was lost may still be finishing when the same job,
    /// revived, is claimed and dispatched again.
    pub(super) dispatch: u64,
    pub(super) report: AttemptReport,
}

pub(super) struct Executor {
    pub(super) store: Arc<dyn Store>,
    pub(super) handlers: Arc<HashMap<String, Arc<dyn Handler>>>,
    pub(super) jobs: Receiver<Assignment>,
    pub(super) reports: ReportSender,
    pub(super) output_limit: usize,
    pub(super) events: EventSink,
}

impl Executor {
    /// Runs jobs until the coordinator closes the channel.
    pub(super) fn run(mut self) {
        for Assignment {
            dispatch,
            job,
            cancel,
            output,
        } in self.jobs.iter()
        {
            let started_at = job.started_at.unwrap_or_else(|| self.store.now());
            let job_id = job.id.clone();
            let attempt = job.attempts;
            let mut execution = if cancel.is_cancelled() {
                // The pool lost or gave up the job while it waited in the
                // prefetch; the report only tells the coordinator it is done.
                Execution::failed("cancelled before it started")
            } else {
                tracing::debug!(job_id = %job_id, attempt, kind = %job.kind, "job started");
                // Known limitation: the coordinator may cancel the job and emit
                // `Lost` between the check above and this event, so a hook can
                // see `Lost` before `Started` for one attempt; a prefetched job
                // lost before any executor took it gets `Lost` with no `Started`.
                self.events.emit(|| {
                    JobEvent::Started(AttemptRef {
                        job_id: job_id.clone(),
                        kind: job.kind.clone(),
                        number: attempt,
                    })
                });
                match self.handlers.get(&job.kind) {
                    Some(handler) => {
                        let ctx = JobContext::new(job, cancel, self.output_limit)
                            .with_live_output(output.clone());
                        run_guarded(handler.as_ref(), &ctx)
                    }
                    None => {
                        Execution::failed(format!("no handler for jobs of kind {:?}", job.kind))
                    }
                }
            };
            if execution.stdout.is_none() && execution.stderr.is_none() {
                // What a handler published is its output, unless it reports
                // its own; the last publication may not have been stored yet.
                (execution.stdout, execution.stderr) = output.current();
            }
            let report = AttemptReport {
                job_id,
                attempt,
                outcome: execution.outcome,
                exit_code: execution.exit_code,
                stdout: execution.stdout,
                stderr: execution.stderr,
                started_at,
                finished_at: self.store.now(),
            };
            if !self.reports.send(Report { dispatch, report }) {
                // The coordinator is gone; the lease will bring the job back.
                return;
            }
        }
    }
}

/// Runs the handler, turning a panic into a failed attempt so the thread lives on.
fn run_guarded(handler: &dyn Handler, ctx: &JobContext) -> Execution {
    match catch_unwind(AssertUnwindSafe(|| handler.run(ctx))) {
        Ok(execution) => execution,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic payload".into());
            Execution::failed(format!("handler panicked: {message}"))
        }
    }
}
