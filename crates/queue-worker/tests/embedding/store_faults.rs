//! A pool on a store that fails on demand and counts its calls: a failed
//! claim is not an empty queue, a pool can still be stopped while its
//! reports cannot be stored, and a prefetching pool settles in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use queue_core::{
    AttemptRecord, AttemptReport, ConfigKey, Job, JobId, JobSpec, JobState, QueueConfig,
    StateCounts, Timestamp, WorkerId,
};
use queue_store::{
    ClaimRequest, ExportSink, FinishedMinute, JobQuery, JobRecord, OutputUpdate, Result, Settled,
    SqliteStore, Store, StoreError, WorkerRecord, WorkerSignal,
};
use queue_worker::{Execution, JobContext, WorkerPool};

use crate::support::{DEADLINE, queue, wait_until};

/// Delegates to a real store, except that the next `claims` claims and the
/// next `settles` settles fail (a combined settle-and-claim counts as both).
struct FlakyStore {
    inner: Arc<SqliteStore>,
    claims: AtomicUsize,
    settles: AtomicUsize,
    /// How many calls failed so far.
    failed: AtomicUsize,
    /// How many calls that settle (alone or with a claim) succeeded, and
    /// how many of those carried a single report.
    settle_commits: AtomicUsize,
    single_report_commits: AtomicUsize,
}

impl FlakyStore {
    fn new(inner: Arc<SqliteStore>) -> Self {
        FlakyStore {
            inner,
            claims: AtomicUsize::new(0),
            settles: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            settle_commits: AtomicUsize::new(0),
            single_report_commits: AtomicUsize::new(0),
        }
    }

    /// Whether a call counted by `failures` should fail now, using one up.
    fn fails(failures: &AtomicUsize) -> bool {
        failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn count_settle(&self, reports: &[AttemptReport]) {
        self.settle_commits.fetch_add(1, Ordering::SeqCst);
        if reports.len() == 1 {
            self.single_report_commits.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn injected(&self) -> StoreError {
        self.failed.fetch_add(1, Ordering::SeqCst);
        StoreError::Sink(Box::new(std::io::Error::other("injected failure")))
    }
}

impl Store for FlakyStore {
    fn enqueue(&self, specs: Vec<JobSpec>) -> Result<Vec<JobId>> {
        self.inner.enqueue(specs)
    }
    fn claim(&self, request: &ClaimRequest<'_>) -> Result<Vec<Job>> {
        if Self::fails(&self.claims) {
            return Err(self.injected());
        }
        self.inner.claim(request)
    }
    fn settle(&self, worker: &WorkerId, reports: &[AttemptReport]) -> Result<Vec<Settled>> {
        if Self::fails(&self.settles) {
            return Err(self.injected());
        }
        self.count_settle(reports);
        self.inner.settle(worker, reports)
    }
    fn settle_and_claim(
        &self,
        worker: &WorkerId,
        reports: &[AttemptReport],
        claim: &ClaimRequest<'_>,
    ) -> Result<(Vec<Settled>, Vec<Job>)> {
        if Self::fails(&self.settles) || Self::fails(&self.claims) {
            return Err(self.injected());
        }
        self.count_settle(reports);
        self.inner.settle_and_claim(worker, reports, claim)
    }
    fn record_output(&self, worker: &WorkerId, updates: &[OutputUpdate]) -> Result<usize> {
        self.inner.record_output(worker, updates)
    }
    fn renew_leases(&self, worker: &WorkerId, lease: Duration) -> Result<Vec<JobId>> {
        self.inner.renew_leases(worker, lease)
    }
    fn release(&self, worker: &WorkerId, ids: &[JobId]) -> Result<usize> {
        self.inner.release(worker, ids)
    }
    fn rescue_expired(&self) -> Result<Vec<JobId>> {
        self.inner.rescue_expired()
    }
    fn revive(&self, id: &JobId) -> Result<Job> {
        self.inner.revive(id)
    }
    fn cancel(&self, id: &JobId) -> Result<Job> {
        self.inner.cancel(id)
    }
    fn job(&self, id: &JobId) -> Result<Option<Job>> {
        self.inner.job(id)
    }
    fn attempts(&self, id: &JobId) -> Result<Vec<AttemptRecord>> {
        self.inner.attempts(id)
    }
    fn list(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.inner.list(query)
    }
    fn counts(&self) -> Result<StateCounts> {
        self.inner.counts()
    }
    fn finished_per_minute(&self, since: Timestamp) -> Result<Vec<FinishedMinute>> {
        self.inner.finished_per_minute(since)
    }
    fn oldest_pending(&self) -> Result<Option<Job>> {
        self.inner.oldest_pending()
    }
    fn config(&self) -> Result<QueueConfig> {
        self.inner.config()
    }
    fn set_config(&self, key: ConfigKey, value: &str) -> Result<QueueConfig> {
        self.inner.set_config(key, value)
    }
    fn register_worker(&self, worker: &WorkerRecord) -> Result<()> {
        self.inner.register_worker(worker)
    }
    fn heartbeat(&self, worker: &WorkerId, running: u32) -> Result<WorkerSignal> {
        self.inner.heartbeat(worker, running)
    }
    fn unregister_worker(&self, worker: &WorkerId) -> Result<()> {
        self.inner.unregister_worker(worker)
    }
    fn workers(&self) -> Result<Vec<WorkerRecord>> {
        self.inner.workers()
    }
    fn request_stop(&self) -> Result<usize> {
        self.inner.request_stop()
    }
    fn now(&self) -> Timestamp {
        self.inner.now()
    }
    fn export(&self, state: Option<JobState>, sink: &mut ExportSink<'_>) -> Result<u64> {
        self.inner.export(state, sink)
    }
    fn import(&self, records: Vec<JobRecord>) -> Result<usize> {
        self.inner.import(records)
    }
}

fn noop_jobs(store: &dyn Store, count: usize) {
    let specs = (0..count)
        .map(|_| JobSpec::new("noop", serde_json::Value::Null))
        .collect();
    store.enqueue(specs).unwrap();
}

#[test]
fn a_failed_claim_does_not_end_a_pool_that_runs_until_idle() {
    let queue = queue();
    noop_jobs(queue.store.as_ref(), 3);
    let store = Arc::new(FlakyStore::new(queue.store.clone()));
    let pool = WorkerPool::builder(store.clone())
        .handler("noop", {
            let store = Arc::clone(&store);
            move |ctx: &JobContext| {
                // The turn that follows the first job claims through a store
                // that refuses once.
                if ctx.attempt() == 1 && store.counts().unwrap().completed == 0 {
                    store.claims.store(1, Ordering::SeqCst);
                }
                Execution::succeeded()
            }
        })
        .concurrency(1)
        .poll_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();

    let summary = pool.join().unwrap();

    assert_eq!(store.failed.load(Ordering::SeqCst), 1, "one claim failed");
    assert_eq!(
        summary.completed, 3,
        "the pool ran on past the failed claim"
    );
    assert_eq!(queue.store.counts().unwrap().completed, 3);
}

#[test]
fn stop_now_reaches_running_jobs_while_settles_fail() {
    let queue = queue();
    let store = Arc::new(FlakyStore::new(queue.store.clone()));
    store
        .enqueue(vec![
            JobSpec::new("quick", serde_json::Value::Null),
            JobSpec::new("long", serde_json::Value::Null),
        ])
        .unwrap();
    let long_cancelled = Arc::new(AtomicBool::new(false));
    let pool = WorkerPool::builder(store.clone())
        .handler("quick", {
            let store = Arc::clone(&store);
            move |_: &JobContext| {
                // Every settle from here on fails until the test heals it.
                store.settles.store(usize::MAX, Ordering::SeqCst);
                Execution::succeeded()
            }
        })
        .handler("long", {
            let cancelled = Arc::clone(&long_cancelled);
            move |ctx: &JobContext| {
                if ctx.cancel().wait_timeout(DEADLINE) {
                    cancelled.store(true, Ordering::SeqCst);
                }
                Execution::failed("stopped")
            }
        })
        .concurrency(2)
        .poll_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    // The quick job's report has failed to land at least twice.
    wait_until(|| store.failed.load(Ordering::SeqCst) >= 2);

    pool.handle().stop_now();
    wait_until(|| long_cancelled.load(Ordering::SeqCst));
    store.settles.store(0, Ordering::SeqCst);
    let summary = pool.join().unwrap();

    assert_eq!(
        summary.completed, 1,
        "the quick job's report landed once the store healed"
    );
    assert_eq!(
        summary.released, 1,
        "the stopped job went back to the queue"
    );
    assert_eq!(queue.store.counts().unwrap().pending, 1);
}

/// Jobs that each take a millisecond finish one by one, a few to a claim of
/// a prefetching pool; their reports wait for the claim that follows and
/// share its commit, instead of one commit each. A settle that fails on the
/// way keeps its reports, and they land later.
///
/// Reports wait at most a few milliseconds, so a machine slow enough to
/// stretch each job far past that would see smaller batches; what stays
/// true while jobs take under a few milliseconds is that few commits carry
/// a single report, where settling each report as it came made most of
/// them single.
#[test]
fn a_prefetching_pool_settles_short_jobs_in_batches() {
    const JOBS: usize = 200;
    let queue = queue();
    noop_jobs(queue.store.as_ref(), JOBS);
    let store = Arc::new(FlakyStore::new(queue.store.clone()));
    store.settles.store(2, Ordering::SeqCst);
    let pool = WorkerPool::builder(store.clone())
        .handler("noop", |_: &JobContext| {
            std::thread::sleep(Duration::from_millis(1));
            Execution::succeeded()
        })
        .concurrency(2)
        .prefetch(8)
        .poll_interval(Duration::from_millis(20))
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();

    let summary = pool.join().unwrap();

    assert_eq!(summary.completed, JOBS as u64);
    assert_eq!(queue.store.counts().unwrap().completed, JOBS as u64);
    assert_eq!(store.failed.load(Ordering::SeqCst), 2, "two settles failed");
    let commits = store.settle_commits.load(Ordering::SeqCst);
    let singles = store.single_report_commits.load(Ordering::SeqCst);
    assert!(
        singles * 4 < commits,
        "{singles} of {commits} settling commits carried one report, for {JOBS} jobs"
    );
}
