//! The storage contract every backend keeps.
//!
//! Every write that concerns a running attempt names the worker that claimed
//! it and succeeds only while the job is still `processing` under that worker,
//! so a worker that lost its lease cannot overwrite what happened since.

use std::time::Duration;

use queue_core::{
    AttemptRecord, AttemptReport, Job, JobId, JobSpec, JobState, QueueConfig, Settlement,
    StateCounts, Timestamp, Transition, WorkerId,
};
use serde::{Deserialize, Serialize};

use crate::{BackendError, Result};

/// The error recorded for an attempt whose worker stopped renewing its lease.
pub(crate) const LOST_WORKER_ERROR: &str = "worker lost: its lease expired before it reported";

/// Durable job storage shared by every worker and command on one queue.
///
/// Implementations are cheap to share between threads (`&self` methods, a
/// pool of connections inside) and apply every change atomically.
pub trait Store: Send + Sync {
    /// Stores `specs` in one transaction and returns their ids in order.
    ///
    /// Unset options take the configured defaults. If any spec is invalid or
    /// its id is taken, nothing is stored.
    fn enqueue(&self, specs: Vec<JobSpec>) -> Result<Vec<JobId>>;

    /// Moves up to `request.limit` due jobs to `processing` under
    /// `request.worker`, in claim order, and returns them. Each claim counts an
    /// attempt and starts a lease of `request.lease`.
    fn claim(&self, request: &ClaimRequest<'_>) -> Result<Vec<Job>>;

    /// Records finished attempts of jobs held by `worker`, one result per
    /// report in the same order. A report about a job the worker no longer
    /// holds changes nothing and comes back [`Settled::Stale`]. A report's
    /// `stdout` and `stderr` replace the job's; a stream it leaves out keeps
    /// what [`Store::record_output`] stored while the attempt ran.
    ///
    /// A report names its claim by the attempt number and the `started_at`
    /// that the claim returned. A backend makes `started_at` differ between
    /// any two claims of one job (advancing it past the previous one if the
    /// clock did not), so a late report never lands on a later claim, even
    /// after a revive has started the attempt numbers again.
    fn settle(&self, worker: &WorkerId, reports: &[AttemptReport]) -> Result<Vec<Settled>>;

    /// Settles `reports` as [`Store::settle`] does, then claims as
    /// [`Store::claim`] does, and returns both answers. Settling comes
    /// first, so the claim sees the jobs as the reports left them: a retry
    /// due at once can be claimed again in the same call.
    ///
    /// A worker that has just finished jobs and has slots free calls this
    /// instead of the two, to pay for one write instead of two. An error
    /// means nothing was settled (nor claimed), so the caller may send the
    /// same reports again. A backend that can, does both in one transaction,
    /// and a failed claim then undoes the settle too. The default makes the
    /// two calls in turn; a claim that fails after the settle has landed is
    /// logged and claims nothing, as a claim that found no job, because the
    /// reports it answers for must not come back as stale.
    fn settle_and_claim(
        &self,
        worker: &WorkerId,
        reports: &[AttemptReport],
        claim: &ClaimRequest<'_>,
    ) -> Result<(Vec<Settled>, Vec<Job>)> {
        let settled = self.settle(worker, reports)?;
        let claimed = self.claim(claim).unwrap_or_else(|err| {
            tracing::warn!(worker = %worker, error = %err, "claim after a settle failed");
            Vec::new()
        });
        Ok((settled, claimed))
    }

    /// Stores what attempts held by `worker` have printed so far, as their
    /// jobs' `stdout` and `stderr`, and returns how many updates landed.
    ///
    /// An update names its claim as a report does (the attempt number and
    /// the claim's `started_at`), and lands only while that claim still holds
    /// the job as `processing`; any other update changes nothing and is left
    /// out of the count, so a worker that lost a job never overwrites it.
    /// Each update replaces both streams, and leaves `updated_at` alone: the
    /// job has not changed state. A claim clears the output of the previous
    /// attempt, so what a running job shows is always its own. When the
    /// attempt ends, a stream its report carries replaces what was stored;
    /// one it leaves out (`None`), and every stream of an attempt that is
    /// released or rescued, keeps the last output stored here.
    fn record_output(&self, worker: &WorkerId, updates: &[OutputUpdate]) -> Result<usize>;

    /// Extends the lease of every job `worker` holds and returns their ids;
    /// a job missing from the answer was lost and must not be reported on.
    fn renew_leases(&self, worker: &WorkerId, lease: Duration) -> Result<Vec<JobId>>;

    /// Gives jobs back unfinished (on shutdown): they become `pending` and due
    /// at once, and the attempt is not charged. Returns how many were held.
    fn release(&self, worker: &WorkerId, ids: &[JobId]) -> Result<usize>;

    /// Settles every attempt whose lease has lapsed as a failure ("worker
    /// lost"), so the job retries with backoff or goes dead. Returns their ids.
    fn rescue_expired(&self) -> Result<Vec<JobId>>;

    /// Brings a dead job back: `pending`, due now, attempts reset.
    fn revive(&self, id: &JobId) -> Result<Job>;

    /// Sends a job that has not started (`pending` or `failed`) to `dead`.
    fn cancel(&self, id: &JobId) -> Result<Job>;

    /// One job, or `None`.
    fn job(&self, id: &JobId) -> Result<Option<Job>>;

    /// The attempts of a job that have ended, oldest first.
    fn attempts(&self, id: &JobId) -> Result<Vec<AttemptRecord>>;

    /// A page of jobs; see [`JobQuery`] for the order.
    fn list(&self, query: &JobQuery) -> Result<Vec<Job>>;

    /// How many jobs are in each state, without scanning the jobs.
    fn counts(&self) -> Result<StateCounts>;

    /// How many jobs finished in each minute from `since` on, oldest minute
    /// first; minutes in which none finished are left out. A job counts as
    /// finished once it is `completed` or `dead`, in the minute of its last
    /// change, so a revived job no longer counts. Reads only the jobs that
    /// finished in that time.
    fn finished_per_minute(&self, since: Timestamp) -> Result<Vec<FinishedMinute>>;

    /// The `pending` job that has waited longest since it last changed (it
    /// was enqueued, revived or released), or `None` when none is pending.
    fn oldest_pending(&self) -> Result<Option<Job>>;

    /// The shared settings.
    fn config(&self) -> Result<QueueConfig>;

    /// Changes one setting after checking its value; returns the new settings.
    fn set_config(&self, key: queue_core::ConfigKey, value: &str) -> Result<QueueConfig>;

    /// Adds a worker to the registry.
    fn register_worker(&self, worker: &WorkerRecord) -> Result<()>;

    /// Records that `worker` is alive and running `running` jobs; says whether
    /// it has been asked to stop.
    fn heartbeat(&self, worker: &WorkerId, running: u32) -> Result<WorkerSignal>;

    /// Removes a worker from the registry.
    fn unregister_worker(&self, worker: &WorkerId) -> Result<()>;

    /// Every registered worker, newest first.
    fn workers(&self) -> Result<Vec<WorkerRecord>>;

    /// Asks every registered worker to stop; returns how many were asked.
    fn request_stop(&self) -> Result<usize>;

    /// The store's current time, by the clock that decides due times.
    fn now(&self) -> Timestamp;

    /// Hands every job with its attempt timeline to `sink`, oldest enqueue
    /// first, all read from one consistent snapshot; only jobs in `state`
    /// when one is given. Returns how many were handed over. An error from
    /// `sink` stops the export and comes back as [`StoreError::Sink`].
    ///
    /// [`StoreError::Sink`]: crate::StoreError::Sink
    fn export(&self, state: Option<JobState>, sink: &mut ExportSink<'_>) -> Result<u64>;

    /// Stores whole records copied from another queue (see [`Store::export`])
    /// in one transaction, keeping ids, states, attempts, times, output and
    /// timelines, after the current jobs in claim order. A job that was
    /// `processing` arrives released, as [`imported`] describes. If any id is
    /// taken or repeated, nothing is stored. Returns how many were stored.
    fn import(&self, records: Vec<JobRecord>) -> Result<usize>;

    /// A way for `worker` to hear that jobs were enqueued sooner than its
    /// next poll, if this backend has one. Each call opens a new source; the
    /// default has none, and workers then rely on polling alone. A worker
    /// opens its source before it registers, so that no enqueue which sees
    /// the worker registered can miss it.
    fn wake_source(&self, worker: &WorkerId) -> Result<Option<Box<dyn WakeSource>>> {
        let _ = worker;
        Ok(None)
    }
}

/// Receives exported jobs one at a time; see [`Store::export`].
pub type ExportSink<'a> = dyn FnMut(JobRecord) -> std::result::Result<(), BackendError> + 'a;

/// A job with its attempt timeline: the unit of export and import.
///
/// Its JSON form is the job's fields with the timeline under `history`, the
/// same shape `queuectl inspect --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job as stored.
    #[serde(flatten)]
    pub job: Job,
    /// Its ended attempts, oldest first.
    #[serde(default)]
    pub history: Vec<AttemptRecord>,
}

/// A record as it is stored by [`Store::import`] at `now`.
///
/// A job that was `processing` belongs to a worker of the queue it came
/// from, which can never report to this one; it is released as a shutting
/// down worker would release it: `pending`, due at `now`, its running
/// attempt not charged and its lease dropped. Other records are unchanged.
pub fn imported(mut record: JobRecord, now: Timestamp) -> JobRecord {
    let job = &mut record.job;
    if let Ok(state) = job.state.apply(Transition::Release) {
        job.state = state;
        job.attempts = job.attempts.saturating_sub(1);
        job.run_at = now;
        job.updated_at = now;
    }
    job.worker_id = None;
    job.lease_expires_at = None;
    record
}

/// Tells idle workers that jobs may be due, sooner than their next poll.
///
/// A store hands one out per worker pool ([`Store::wake_source`]); the pool
/// waits on it in a thread of its own and claims when it fires. A wake-up
/// is only a hint: a worker still polls, so a missed one costs a poll
/// interval of delay, never a job.
pub trait WakeSource: Send {
    /// Waits up to `timeout` for a sign that jobs were enqueued and says
    /// whether one came. An error means the source could not listen; the
    /// caller waits a while and calls again, and the source tries to recover.
    fn wait(&mut self, timeout: Duration) -> Result<bool>;
}

/// What a worker asks [`Store::claim`] for.
#[derive(Debug, Clone)]
pub struct ClaimRequest<'a> {
    /// The worker that will hold the jobs.
    pub worker: &'a WorkerId,
    /// The most jobs to claim.
    pub limit: usize,
    /// How long the claim lasts without renewal.
    pub lease: Duration,
    /// Only jobs of these kinds; every kind when empty.
    pub kinds: &'a [String],
}

/// What a running attempt has printed so far; see [`Store::record_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputUpdate {
    /// The job.
    pub job_id: JobId,
    /// The attempt's number, as the claim returned it.
    pub attempt: u32,
    /// The claim's `started_at`, as the claim returned it.
    pub started_at: Timestamp,
    /// The kept tail of standard output so far, `None` if nothing yet.
    pub stdout: Option<String>,
    /// The kept tail of standard error so far, `None` if nothing yet.
    pub stderr: Option<String>,
}

/// What [`Store::settle`] did with one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The job moved as the settlement says: its new state and, for a retry,
    /// when it runs again.
    Moved(Settlement),
    /// The worker no longer held the job; nothing changed.
    Stale,
}

impl Settled {
    /// The state the job moved to, or `None` for a stale report.
    pub fn state(&self) -> Option<JobState> {
        match self {
            Settled::Moved(settlement) => Some(settlement.state),
            Settled::Stale => None,
        }
    }
}

/// Which jobs [`Store::list`] returns.
///
/// With a state of `pending` or `failed`, jobs come in claim order (next to
/// run first); with another state, most recently updated first; with no
/// state, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobQuery {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs whose id or command contains this text.
    pub text: Option<String>,
    /// The most jobs to return.
    pub limit: usize,
    /// How many matching jobs to skip first.
    pub offset: usize,
}

/// How many jobs finished in one minute; see [`Store::finished_per_minute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedMinute {
    /// The start of the minute (UTC, on a whole minute).
    pub minute: Timestamp,
    /// Jobs that completed in it.
    pub completed: u64,
    /// Jobs that went dead in it.
    pub dead: u64,
}

impl FinishedMinute {
    /// Every job that finished in the minute.
    pub fn total(&self) -> u64 {
        self.completed.saturating_add(self.dead)
    }
}

/// Folds `(state, minute number since the epoch, count)` rows, as both
/// backends read them, into minutes in order.
pub(crate) fn fold_minutes(
    rows: impl IntoIterator<Item = (JobState, i64, u64)>,
) -> Result<Vec<FinishedMinute>> {
    let mut minutes: std::collections::BTreeMap<i64, FinishedMinute> = Default::default();
    for (state, minute, n) in rows {
        let entry = match minutes.entry(minute) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                let start = crate::millis::from_millis(minute.saturating_mul(60_000))?;
                entry.insert(FinishedMinute {
                    minute: start,
                    completed: 0,
                    dead: 0,
                })
            }
        };
        match state {
            JobState::Completed => entry.completed += n,
            JobState::Dead => entry.dead += n,
            _ => {}
        }
    }
    Ok(minutes.into_values().collect())
}

/// A worker process in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerRecord {
    /// Its id, stamped on the jobs it claims.
    pub id: WorkerId,
    /// The host it runs on.
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// How many jobs it runs at once.
    pub slots: u32,
    /// How many it is running now.
    pub running: u32,
    /// When it started.
    pub started_at: Timestamp,
    /// When it last reported in.
    pub heartbeat_at: Timestamp,
    /// Whether it has been asked to stop.
    pub stop_requested: bool,
}

/// What the registry tells a worker at its heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSignal {
    /// Stop claiming, finish running jobs and exit.
    pub stop_requested: bool,
}
