//! The coordinator: the one thread of a pool that talks to the store.
//!
//! It is a closed loop over typed messages. Each turn it settles the reports
//! that arrived, does whatever periodic upkeep is due (heartbeat, lease
//! renewal, rescue, and storing the output of running jobs), claims jobs for
//! idle executors and a bounded prefetch, and then blocks until a report, a
//! control message or the next deadline. A turn that would settle and then
//! claim with no heartbeat or rescue due between them makes both one store
//! call, settling first, since a write costs the store most at its commit.
//! A pool with a prefetch that is about to claim again lets its reports wait
//! a few milliseconds for that claim to carry them, so that short jobs cost
//! one commit per batch rather than one per job.
//! Nothing else in a pool writes to the store, so the order of writes about
//! one job is the order of this loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select};
use queue_core::{AttemptReport, Job, JobState, Timestamp, WorkerId};
use queue_store::{ClaimRequest, OutputUpdate, Settled, Store, WorkerRecord};

use super::executor::{Assignment, Report};
use super::reports::Doorbell;
use super::{PoolError, PoolSummary};
use crate::events::EventSink;
use crate::live::LiveOutput;
use crate::{AttemptRef, CancelToken, JobEvent};

/// How often the output of running jobs is stored while they run, at most.
const OUTPUT_FLUSH_PERIOD: Duration = Duration::from_secs(1);

/// How long a report may wait to be settled with others, at most, while a
/// prefetching pool has work coming. Short enough that nobody watching the
/// queue sees it; long enough for a few short jobs to finish beside it.
const SETTLE_DELAY: Duration = Duration::from_millis(5);

/// Messages from [`super::PoolHandle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    Wake,
    Shutdown,
    ShutdownWhenIdle,
    StopNow,
}

/// What the coordinator needs to know, all of it fixed at start.
pub(super) struct Settings {
    pub(super) concurrency: usize,
    /// How many claimed jobs may wait for an executor, beyond the running ones.
    pub(super) prefetch: usize,
    pub(super) lease: Duration,
    pub(super) poll_interval: Duration,
    pub(super) shutdown_grace: Duration,
    pub(super) claim_batch: usize,
    pub(super) kinds: Vec<String>,
}

pub(super) struct Parts {
    pub(super) store: Arc<dyn Store>,
    pub(super) worker: WorkerId,
    pub(super) host: String,
    pub(super) settings: Settings,
    pub(super) jobs: Sender<Assignment>,
    /// The executors' end of `jobs`, to take back jobs none has started.
    pub(super) backlog: Receiver<Assignment>,
    pub(super) reports: Receiver<Report>,
    /// Rings when enough reports wait; see [`super::reports`].
    pub(super) doorbell: Doorbell,
    pub(super) control: Receiver<Control>,
    pub(super) events: EventSink,
}

/// Where the pool is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Claiming and running.
    Running,
    /// Claiming until nothing is due, then draining.
    UntilIdle,
    /// Claiming nothing; running jobs finish until the deadline.
    Draining { deadline: Instant },
    /// Cancelling what still runs; released as it reports.
    Stopping,
}

/// A job an executor is running, or that waits in the job channel for one.
struct Running {
    attempt: AttemptRef,
    cancel: CancelToken,
    /// Set when the pool cancelled it to stop; its report becomes a release.
    released: bool,
    /// Set when its lease was lost; its report is dropped.
    lost: bool,
    /// What it has printed so far, and the claim's start, which names the
    /// claim when that output is stored.
    output: LiveOutput,
    started_at: Option<Timestamp>,
}

pub(super) struct Coordinator {
    store: Arc<dyn Store>,
    worker: WorkerId,
    settings: Settings,
    jobs: Option<Sender<Assignment>>,
    backlog: Receiver<Assignment>,
    reports: Receiver<Report>,
    doorbell: Doorbell,
    control: Receiver<Control>,
    /// Every job the pool holds, started or not. Keyed by dispatch number:
    /// one job can be in here twice, when a run that lost its lease is still
    /// ending as a later claim of it runs.
    running: HashMap<u64, Running>,
    next_dispatch: u64,
    unsettled: Vec<AttemptReport>,
    /// The kind of each unsettled report's job, in the same order, for events.
    unsettled_kinds: Vec<String>,
    /// When the oldest unsettled report must be settled, waiting or not;
    /// set exactly while `unsettled` holds reports.
    settle_by: Option<Instant>,
    /// Whether the last settle failed; the next is tried after a pause. Only
    /// ever set while `unsettled` holds the reports that failed.
    settle_retry: bool,
    events: EventSink,
    phase: Phase,
    /// Whether the last claim found fewer jobs than it asked for.
    starved: bool,
    /// Whether the last claim failed: the queue may still hold due jobs, so
    /// a pool that runs until idle must not take it for empty.
    claim_failed: bool,
    next_poll: Instant,
    next_heartbeat: Instant,
    next_renewal: Instant,
    next_rescue: Instant,
    next_output_flush: Instant,
    summary: PoolSummary,
}

impl Coordinator {
    /// Registers the worker; the pool does not start if that fails.
    pub(super) fn new(parts: Parts) -> Result<Self, PoolError> {
        let now = parts.store.now();
        parts.store.register_worker(&WorkerRecord {
            id: parts.worker.clone(),
            host: parts.host,
            pid: std::process::id(),
            slots: u32::try_from(parts.settings.concurrency).unwrap_or(u32::MAX),
            running: 0,
            started_at: now,
            heartbeat_at: now,
            stop_requested: false,
        })?;
        let start = Instant::now();
        Ok(Self {
            store: parts.store,
            worker: parts.worker,
            settings: parts.settings,
            jobs: Some(parts.jobs),
            backlog: parts.backlog,
            reports: parts.reports,
            doorbell: parts.doorbell,
            control: parts.control,
            running: HashMap::new(),
            next_dispatch: 0,
            unsettled: Vec::new(),
            unsettled_kinds: Vec::new(),
            settle_by: None,
            settle_retry: false,
            events: parts.events,
            phase: Phase::Running,
            starved: false,
            claim_failed: false,
            next_poll: start,
            next_heartbeat: start,
            next_renewal: start,
            next_rescue: start,
            next_output_flush: start,
            summary: PoolSummary::default(),
        })
    }

    pub(super) fn run(mut self) -> Result<PoolSummary, PoolError> {
        tracing::info!(
            worker = %self.worker,
            slots = self.settings.concurrency,
            lease_ms = self.settings.lease.as_millis() as u64,
            "worker pool started"
        );
        loop {
            self.collect_reports();
            if self.folds_claim() {
                self.settle_and_claim();
            } else if self.settle_due() {
                self.settle_reports();
            }
            self.upkeep();
            self.claim();
            if self.finished() {
                break;
            }
            self.wait();
        }
        // Closing the channel lets the executors' loops end.
        self.jobs = None;
        if let Err(err) = self.store.unregister_worker(&self.worker) {
            tracing::warn!(worker = %self.worker, error = %err, "could not leave the registry");
        }
        tracing::info!(
            worker = %self.worker,
            completed = self.summary.completed,
            failed = self.summary.failed,
            dead = self.summary.dead,
            released = self.summary.released,
            "worker pool stopped"
        );
        self.summary.dropped_events = self.events.dropped();
        Ok(self.summary)
    }

    fn finished(&self) -> bool {
        let stopping = matches!(self.phase, Phase::Draining { .. } | Phase::Stopping);
        stopping && self.running.is_empty() && self.unsettled.is_empty()
    }

    /// How many more jobs the pool may hold: executors plus the prefetch.
    fn free_slots(&self) -> usize {
        (self.settings.concurrency + self.settings.prefetch).saturating_sub(self.running.len())
    }

    /// Whether enough is free to be worth a claim. Waiting until a prefetch's
    /// worth is free makes each claim a batch; it can never leave an
    /// executor idle, since an idle executor means an empty job channel, so
    /// at most `concurrency - 1` jobs held and more than the prefetch free.
    fn wants_claim(&self) -> bool {
        self.free_slots() >= self.claim_threshold()
    }

    /// Whether a claim will come soon without being asked for: the pool has a
    /// prefetch to refill, is claiming, and its last claim found work.
    fn claim_coming(&self) -> bool {
        self.settings.prefetch > 0 && self.claiming() && !self.starved
    }

    /// How many free slots make a claim worth it: half a prefetch, or one.
    fn claim_threshold(&self) -> usize {
        self.settings.prefetch.div_ceil(2).max(1)
    }

    /// How many more reports must arrive before this pool has anything to
    /// do but wait, when it need not hear of each one: it holds reports that
    /// wait for the next claim (see [`Coordinator::settle_due`]), and neither
    /// that claim nor a full batch of reports is due yet. Those reports'
    /// settle deadline bounds the wait.
    fn reports_to_wait_for(&self) -> Option<usize> {
        if !self.claim_coming() || self.unsettled.is_empty() || self.settle_retry {
            return None;
        }
        let until_claim = self.claim_threshold().saturating_sub(self.free_slots());
        let until_full = self
            .settings
            .claim_batch
            .saturating_sub(self.unsettled.len());
        Some(until_claim.min(until_full)).filter(|&n| n > 0)
    }

    /// How many held jobs an executor has started (or is about to).
    fn started(&self) -> usize {
        self.running
            .len()
            .saturating_sub(self.backlog.len())
            .min(self.settings.concurrency)
    }

    /// Takes every report that is ready without blocking.
    fn collect_reports(&mut self) {
        while let Ok(report) = self.reports.try_recv() {
            self.accept(report);
        }
    }

    fn accept(&mut self, Report { dispatch, report }: Report) {
        let Some(running) = self.running.remove(&dispatch) else {
            tracing::error!(job_id = %report.job_id, "report for a job the pool never sent out");
            return;
        };
        if running.lost {
            tracing::warn!(
                job_id = %report.job_id,
                attempt = report.attempt,
                "finished a job after losing its lease; the report is dropped"
            );
            self.summary.stale += 1;
            return;
        }
        if running.released {
            match self
                .store
                .release(&self.worker, std::slice::from_ref(&report.job_id))
            {
                Ok(n) => {
                    self.summary.released += n as u64;
                    if n > 0 {
                        self.events.emit(|| JobEvent::Released(running.attempt));
                    }
                }
                Err(err) => tracing::error!(
                    job_id = %report.job_id,
                    error = %err,
                    "could not release a job; its lease will bring it back"
                ),
            }
            return;
        }
        self.unsettled.push(report);
        self.unsettled_kinds.push(running.attempt.kind);
        self.settle_by
            .get_or_insert_with(|| Instant::now() + SETTLE_DELAY);
    }

    /// Whether the reports should be settled this turn rather than wait for
    /// the next claim to carry them. Only a prefetching pool that is still
    /// claiming and finding work lets them wait: its next claim comes as soon
    /// as half the prefetch is free. A pool without a prefetch claims after
    /// every report, and one that is starved or stopping may not claim again.
    fn settle_due(&self) -> bool {
        if self.unsettled.is_empty() {
            return false;
        }
        !self.claim_coming()
            || self.settle_retry
            || self.unsettled.len() >= self.settings.claim_batch
            || self.settle_by.is_some_and(|at| Instant::now() >= at)
    }

    /// Settles all collected reports in one store call; on failure they are
    /// kept and tried again next turn, while the leases keep the jobs held.
    fn settle_reports(&mut self) {
        if self.unsettled.is_empty() {
            return;
        }
        match self.store.settle(&self.worker, &self.unsettled) {
            Ok(results) => self.settled(results),
            Err(err) => self.settle_failed(&err),
        }
    }

    /// Tells and counts where the unsettled reports left their jobs.
    fn settled(&mut self, results: Vec<Settled>) {
        self.settle_by = None;
        self.settle_retry = false;
        let kinds = self.unsettled_kinds.drain(..);
        for ((report, kind), result) in self.unsettled.drain(..).zip(kinds).zip(results) {
            log_settled(&report, result);
            if self.events.is_enabled() {
                if let Some(event) = settled_event(report, kind, result) {
                    self.events.emit(|| event);
                }
            }
            match result {
                Settled::Moved(moved) => match moved.state {
                    JobState::Completed => self.summary.completed += 1,
                    JobState::Dead => self.summary.dead += 1,
                    _ => self.summary.failed += 1,
                },
                Settled::Stale => self.summary.stale += 1,
            }
        }
        // A finished job may have freed a slot for work already due.
        self.starved = false;
    }

    fn settle_failed(&mut self, err: &queue_store::StoreError) {
        self.settle_retry = true;
        tracing::error!(
            worker = %self.worker,
            reports = self.unsettled.len(),
            error = %err,
            "could not record finished jobs; will retry"
        );
    }

    fn claiming(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::UntilIdle)
    }

    /// Whether this turn's settle can carry its claim in the same store
    /// call: the turn would claim once the reports are settled (a settle
    /// makes a claim due), and no upkeep that could stop claiming (a stop
    /// asked at the heartbeat) or free jobs (a rescue) comes between them.
    fn folds_claim(&self) -> bool {
        let upkeep_due = Instant::now() >= self.next_heartbeat.min(self.next_rescue);
        !self.unsettled.is_empty() && self.claiming() && self.wants_claim() && !upkeep_due
    }

    /// Settles the reports and claims the first batch in one store call,
    /// then claims on as [`Coordinator::claim`] would. On failure nothing
    /// was settled or claimed: the reports are kept for the next turn, and
    /// the claim waits for the next poll.
    fn settle_and_claim(&mut self) {
        let limit = self.claim_limit();
        let answer =
            self.store
                .settle_and_claim(&self.worker, &self.unsettled, &self.claim_request(limit));
        match answer {
            Ok((results, claimed)) => {
                self.settled(results);
                if self.take_claimed(limit, Ok(claimed)) {
                    self.claim_while_free();
                } else {
                    self.after_claims();
                }
            }
            Err(err) => {
                self.settle_failed(&err);
                self.starved = true;
                self.claim_failed = true;
                self.after_claims();
            }
        }
    }

    fn claim(&mut self) {
        let due = !self.starved || Instant::now() >= self.next_poll;
        if !self.claiming() || !due {
            return;
        }
        if !self.wants_claim() {
            return;
        }
        self.claim_while_free();
    }

    /// How many jobs the next claim asks for.
    fn claim_limit(&self) -> usize {
        self.free_slots().min(self.settings.claim_batch)
    }

    fn claim_request(&self, limit: usize) -> ClaimRequest<'_> {
        ClaimRequest {
            worker: &self.worker,
            limit,
            lease: self.settings.lease,
            kinds: &self.settings.kinds,
        }
    }

    /// Claims batch after batch until the pool is full or a claim comes back
    /// short.
    fn claim_while_free(&mut self) {
        while self.free_slots() > 0 {
            let limit = self.claim_limit();
            let claimed = self.store.claim(&self.claim_request(limit));
            if !self.take_claimed(limit, claimed) {
                break;
            }
        }
        self.after_claims();
    }

    /// Sends out the jobs of one claim that asked for `limit`, and says
    /// whether it is worth claiming again: the claim found all it asked for.
    fn take_claimed(&mut self, limit: usize, claimed: queue_store::Result<Vec<Job>>) -> bool {
        let claimed = match claimed {
            Ok(claimed) => claimed,
            Err(err) => {
                let worker = &self.worker;
                tracing::error!(worker = %worker, error = %err, "claim failed; will retry");
                self.starved = true;
                self.claim_failed = true;
                return false;
            }
        };
        self.claim_failed = false;
        tracing::trace!(worker = %self.worker, asked = limit, got = claimed.len(), "claimed");
        self.starved = claimed.len() < limit;
        for job in claimed {
            self.dispatch(job);
        }
        !self.starved
    }

    /// After the last claim of a turn: a short or failed one waits for the
    /// next poll, and a short one ends a pool that runs until idle once
    /// nothing runs.
    fn after_claims(&mut self) {
        if self.starved {
            self.next_poll = Instant::now() + self.settings.poll_interval;
            if self.phase == Phase::UntilIdle && self.running.is_empty() && !self.claim_failed {
                self.begin_drain();
            }
        }
    }

    fn dispatch(&mut self, job: Job) {
        // The store has just handed this job out again, so any earlier run of
        // it here lost its claim, whether or not a renewal has noticed yet.
        for earlier in self.running.values_mut() {
            if earlier.attempt.job_id == job.id && !earlier.lost {
                tracing::warn!(job_id = %job.id, "lease lost; cancelling the job");
                earlier.lost = true;
                earlier.cancel.cancel();
                self.events.emit(|| JobEvent::Lost(earlier.attempt.clone()));
            }
        }
        let cancel = CancelToken::new();
        let output = LiveOutput::new();
        // `Started` is the executor's to tell, when it takes the job.
        let attempt = AttemptRef {
            job_id: job.id.clone(),
            kind: job.kind.clone(),
            number: job.attempts,
        };
        let dispatch = self.next_dispatch;
        self.next_dispatch += 1;
        self.running.insert(
            dispatch,
            Running {
                attempt,
                cancel: cancel.clone(),
                released: false,
                lost: false,
                output: output.clone(),
                started_at: job.started_at,
            },
        );
        // The channel holds as many jobs as executors and prefetch together,
        // and at most that many are held, so this send never blocks.
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Assignment {
                dispatch,
                job,
                cancel,
                output,
            });
        }
    }

    /// Heartbeat, lease renewal and rescue, each on its own period.
    fn upkeep(&mut self) {
        let now = Instant::now();
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.heartbeat_period();
            // Prefetched jobs are not running yet; the registry says so.
            let running = u32::try_from(self.started()).unwrap_or(u32::MAX);
            match self.store.heartbeat(&self.worker, running) {
                Ok(signal) if signal.stop_requested && self.accepts_stop() => {
                    tracing::info!(worker = %self.worker, "stop requested; finishing running jobs");
                    self.begin_drain();
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(worker = %self.worker, error = %err, "heartbeat failed"),
            }
        }
        if now >= self.next_renewal && !self.running.is_empty() {
            self.next_renewal = now + self.settings.lease / 3;
            self.renew_leases();
        }
        if now >= self.next_output_flush && !self.running.is_empty() {
            self.next_output_flush = now + OUTPUT_FLUSH_PERIOD;
            self.flush_output();
        }
        if now >= self.next_rescue {
            self.next_rescue = now + self.settings.lease / 2;
            match self.store.rescue_expired() {
                Ok(rescued) if !rescued.is_empty() => {
                    self.starved = false;
                    tracing::info!(count = rescued.len(), "rescued jobs from lost workers");
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "rescue of lost jobs failed"),
            }
        }
        if let Phase::Draining { deadline } = self.phase {
            if now >= deadline {
                tracing::warn!(
                    worker = %self.worker,
                    running = self.running.len(),
                    "shutdown grace is over; cancelling running jobs"
                );
                self.stop_running();
            }
        }
    }

    /// Stores, in one call, the output of every running job that printed
    /// something since the last flush. The store refuses an update for a
    /// job this worker no longer holds, so a run whose lease was lost is
    /// skipped here only to spare the work.
    fn flush_output(&self) {
        let mut changed = Vec::new();
        let mut updates = Vec::new();
        for running in self.running.values().filter(|running| !running.lost) {
            let Some(started_at) = running.started_at else {
                continue;
            };
            let Some((stdout, stderr)) = running.output.take_changed() else {
                continue;
            };
            changed.push(&running.output);
            updates.push(OutputUpdate {
                job_id: running.attempt.job_id.clone(),
                attempt: running.attempt.number,
                started_at,
                stdout,
                stderr,
            });
        }
        if updates.is_empty() {
            return;
        }
        match self.store.record_output(&self.worker, &updates) {
            Ok(stored) => tracing::trace!(worker = %self.worker, stored, "stored running output"),
            Err(err) => {
                let worker = &self.worker;
                tracing::warn!(worker = %worker, error = %err, "could not store running output");
                // Try again at the next flush, with whatever has come since.
                changed.iter().for_each(|output| output.mark_changed());
            }
        }
    }

    fn accepts_stop(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::UntilIdle)
    }

    /// Often enough that `worker stop` is answered within a second.
    fn heartbeat_period(&self) -> Duration {
        (self.settings.lease / 3).min(Duration::from_secs(1))
    }

    fn renew_leases(&mut self) {
        let held = match self.store.renew_leases(&self.worker, self.settings.lease) {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!(worker = %self.worker, error = %err, "lease renewal failed");
                return;
            }
        };
        for running in self.running.values_mut() {
            if !running.lost && !held.contains(&running.attempt.job_id) {
                tracing::warn!(job_id = %running.attempt.job_id, "lease lost; cancelling the job");
                running.lost = true;
                running.cancel.cancel();
                self.events.emit(|| JobEvent::Lost(running.attempt.clone()));
            }
        }
    }

    fn begin_drain(&mut self) {
        self.release_backlog();
        let deadline = Instant::now() + self.settings.shutdown_grace;
        self.phase = Phase::Draining { deadline };
    }

    fn stop_running(&mut self) {
        self.release_backlog();
        self.phase = Phase::Stopping;
        for running in self.running.values_mut() {
            if !running.lost {
                running.released = true;
            }
            running.cancel.cancel();
        }
    }

    /// Takes back every job no executor has started and releases them in one
    /// call: a stopping pool does not start more work. They have no events,
    /// as they never started. An executor that wins the race for one runs it
    /// as a job that started before the shutdown.
    fn release_backlog(&mut self) {
        let mut ids = Vec::new();
        while let Ok(assignment) = self.backlog.try_recv() {
            if let Some(held) = self.running.remove(&assignment.dispatch) {
                if !held.lost {
                    ids.push(assignment.job.id);
                }
            }
        }
        if ids.is_empty() {
            return;
        }
        // Known limitation: when this release fails, lease renewal goes on
        // renewing every job the worker holds in the store, these included,
        // so they come back only one lease after the pool has stopped.
        match self.store.release(&self.worker, &ids) {
            Ok(n) => {
                self.summary.released += n as u64;
                tracing::debug!(worker = %self.worker, count = n, "released prefetched jobs");
            }
            Err(err) => tracing::error!(
                worker = %self.worker,
                count = ids.len(),
                error = %err,
                "could not release prefetched jobs; their leases will bring them back"
            ),
        }
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Wake => self.starved = false,
            Control::Shutdown if self.accepts_stop() => {
                tracing::info!(worker = %self.worker, "shutting down; finishing running jobs");
                self.begin_drain();
            }
            Control::ShutdownWhenIdle if self.phase == Phase::Running => {
                self.phase = Phase::UntilIdle;
                self.starved = false;
            }
            Control::StopNow => {
                tracing::info!(worker = %self.worker, "stopping now; releasing running jobs");
                self.stop_running();
            }
            _ => {}
        }
    }

    /// Blocks until something needs the loop: a report, a control message,
    /// or the earliest deadline.
    fn wait(&mut self) {
        if self.settle_retry {
            // A failed settle is retried after a pause, not in a hot loop;
            // a shutdown or stop still gets through while the store is down.
            let pause = self.settings.poll_interval.min(Duration::from_millis(200));
            select! {
                recv(self.control) -> control => self.on_control_message(control),
                default(pause) => {}
            }
            self.take_control_messages();
            return;
        }
        if self.settle_due() {
            // The turn let its reports wait, and then stopped claiming or
            // found the queue empty: they are settled now, not at their
            // deadline.
            return;
        }
        let now = Instant::now();
        let mut until = self.next_heartbeat.min(self.next_rescue);
        if !self.running.is_empty() {
            until = until.min(self.next_renewal).min(self.next_output_flush);
        }
        if let Some(at) = self.settle_by {
            until = until.min(at);
        }
        if self.claiming() && self.wants_claim() {
            if !self.starved {
                return;
            }
            until = until.min(self.next_poll);
        }
        if let Phase::Draining { deadline } = self.phase {
            until = until.min(deadline);
        }
        let timeout = until.saturating_duration_since(now);
        if let Some(count) = self.reports_to_wait_for() {
            if self.doorbell.arm(count, &self.reports) {
                select! {
                    recv(self.doorbell.rings()) -> _ => {}
                    recv(self.control) -> control => self.on_control_message(control),
                    default(timeout) => {}
                }
            }
            self.doorbell.disarm();
            self.take_control_messages();
            return;
        }
        select! {
            recv(self.reports) -> report => {
                if let Ok(report) = report {
                    self.accept(report);
                }
            }
            recv(self.control) -> control => self.on_control_message(control),
            default(timeout) => {}
        }
        self.take_control_messages();
    }

    fn on_control_message(&mut self, control: Result<Control, crossbeam_channel::RecvError>) {
        match control {
            Ok(control) => self.on_control(control),
            // Every handle is gone: nobody can send again, so stop listening
            // instead of waking on the closed channel forever.
            Err(_) => self.control = crossbeam_channel::never(),
        }
    }

    fn take_control_messages(&mut self) {
        while let Ok(control) = self.control.try_recv() {
            self.on_control(control);
        }
    }
}

/// The event that says where a settled attempt left its job.
fn settled_event(report: AttemptReport, kind: String, result: Settled) -> Option<JobEvent> {
    let Settled::Moved(settlement) = result else {
        return None;
    };
    let duration = (report.finished_at - report.started_at)
        .to_std()
        .unwrap_or_default();
    let attempt = AttemptRef {
        job_id: report.job_id,
        kind,
        number: report.attempt,
    };
    let error = report.outcome.error().unwrap_or_default().to_owned();
    let event = match (settlement.state, settlement.run_at) {
        (JobState::Completed, _) => JobEvent::Completed { attempt, duration },
        (JobState::Failed, Some(retry_at)) => JobEvent::Failed {
            attempt,
            error,
            retry_at,
            duration,
        },
        (JobState::Dead, _) => JobEvent::Dead {
            attempt,
            error,
            duration,
        },
        // A settlement moves a job to one of the three states above, and a
        // retry always has its time; anything else has no event to tell.
        _ => return None,
    };
    Some(event)
}

fn log_settled(report: &AttemptReport, result: Settled) {
    let millis = (report.finished_at - report.started_at).num_milliseconds();
    match (result, report.outcome.error()) {
        (Settled::Moved(moved), None) => tracing::debug!(
            job_id = %report.job_id,
            attempt = report.attempt,
            duration_ms = millis,
            state = %moved.state,
            "job finished"
        ),
        (Settled::Moved(moved), Some(error)) => tracing::warn!(
            job_id = %report.job_id,
            attempt = report.attempt,
            duration_ms = millis,
            state = %moved.state,
            error,
            "job failed"
        ),
        (Settled::Stale, _) => {}
    }
}
