//! The worker pool: claims due jobs and runs them on a fixed set of threads.
//!
//! One coordinator thread owns every conversation with the store. It claims
//! only as many jobs as there are idle executors, hands them over a bounded
//! crossbeam channel to `concurrency` executor threads, and collects their
//! reports to settle in batches. It also renews the leases of running jobs,
//! keeps the pool's entry in the worker registry fresh, rescues jobs whose
//! workers died, and runs the shutdown sequence.
//!
//! ```text
//!          claim (<= idle slots)              jobs channel (bounded)
//!   store <------------------- coordinator ------------------------> executors x N
//!         --settle (batched)->    ^  ^  <-------- reports ----------------'
//!                                 |  '-- control: wake, shutdown, stop now
//! ```

mod coordinator;
mod executor;

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use queue_core::WorkerId;
use queue_store::{Store, StoreError};

use crate::Handler;

/// How many jobs one claim statement takes at most.
const MAX_CLAIM_BATCH: usize = 128;

/// The longest lease, poll interval or shutdown grace a pool takes; longer
/// ones are cut to this. The coordinator adds them to `Instant`s, which
/// cannot reach arbitrarily far into the future.
const MAX_PERIOD: Duration = Duration::from_secs(366 * 24 * 3600);

/// Why a pool could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Spawn(#[source] std::io::Error),
    /// The pool has no handlers, so it could never run a job.
    #[error("a worker pool needs at least one handler")]
    NoHandlers,
    /// A pool thread panicked; this is a bug.
    #[error("a worker pool thread panicked")]
    Panicked,
}

/// Settings for a [`WorkerPool`]; unset durations come from the queue's config.
pub struct PoolBuilder {
    store: Arc<dyn Store>,
    handlers: HashMap<String, Arc<dyn Handler>>,
    concurrency: usize,
    lease: Option<Duration>,
    poll_interval: Option<Duration>,
    shutdown_grace: Duration,
    output_limit_bytes: Option<usize>,
    host: Option<String>,
}

impl PoolBuilder {
    /// Registers `handler` for jobs of `kind`, replacing any earlier one.
    pub fn handler(mut self, kind: impl Into<String>, handler: impl Handler) -> Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    /// How many jobs run at once. Default 1; at least 1.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How long a claim lasts without renewal: from 100 ms to a year.
    /// Default: the `lease` setting (30 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease.clamp(Duration::from_millis(100), MAX_PERIOD));
        self
    }

    /// How often an idle pool looks for due jobs: from 1 ms to a year.
    /// Default: the `poll-interval` setting (1 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = Some(interval.clamp(Duration::from_millis(1), MAX_PERIOD));
        self
    }

    /// How long running jobs may take to finish after a graceful shutdown
    /// begins, before they are cancelled and released: at most a year.
    /// Default 30 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace.min(MAX_PERIOD);
        self
    }

    /// The most bytes of each output stream a handler keeps. Default: the
    /// `output-limit` setting (64 KiB).
    pub fn output_limit_bytes(mut self, limit: usize) -> Self {
        self.output_limit_bytes = Some(limit);
        self
    }

    /// The host name shown in the worker registry. Default: this machine's.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Registers the pool as a worker and starts its threads.
    pub fn start(self) -> Result<WorkerPool, PoolError> {
        if self.handlers.is_empty() {
            return Err(PoolError::NoHandlers);
        }
        let config = self.store.config()?;
        let settings = coordinator::Settings {
            concurrency: self.concurrency,
            lease: self.lease.unwrap_or(config.lease).min(MAX_PERIOD),
            poll_interval: self
                .poll_interval
                .unwrap_or(config.poll_interval)
                .min(MAX_PERIOD),
            shutdown_grace: self.shutdown_grace,
            claim_batch: self.concurrency.min(MAX_CLAIM_BATCH),
            kinds: self.handlers.keys().cloned().collect(),
        };
        let output_limit = self
            .output_limit_bytes
            .unwrap_or_else(|| usize::try_from(config.output_limit_bytes).unwrap_or(usize::MAX));
        let host = self.host.unwrap_or_else(this_host);
        let worker = WorkerId::generate(&host, std::process::id());

        let (job_tx, job_rx) = crossbeam_channel::bounded(self.concurrency);
        let (report_tx, report_rx) = crossbeam_channel::unbounded();
        let (control_tx, control_rx) = crossbeam_channel::unbounded();

        let handlers = Arc::new(self.handlers);
        let mut executors = Vec::with_capacity(self.concurrency);
        for index in 0..self.concurrency {
            let executor = executor::Executor {
                store: Arc::clone(&self.store),
                handlers: Arc::clone(&handlers),
                jobs: job_rx.clone(),
                reports: report_tx.clone(),
                output_limit,
            };
            let thread = std::thread::Builder::new()
                .name(format!("queue-executor-{index}"))
                .spawn(move || executor.run())
                .map_err(PoolError::Spawn)?;
            executors.push(thread);
        }
        drop(report_tx);

        let coordinator = coordinator::Coordinator::new(coordinator::Parts {
            store: Arc::clone(&self.store),
            worker: worker.clone(),
            host,
            settings,
            jobs: job_tx,
            reports: report_rx,
            control: control_rx,
        })?;
        let coordinator = std::thread::Builder::new()
            .name("queue-coordinator".into())
            .spawn(move || coordinator.run())
            .map_err(PoolError::Spawn)?;

        Ok(WorkerPool {
            handle: PoolHandle {
                control: control_tx,
            },
            worker,
            coordinator,
            executors,
        })
    }
}

fn this_host() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A running pool of workers on one queue.
///
/// ```
/// use std::sync::Arc;
/// use queue_core::JobSpec;
/// use queue_store::{SqliteStore, Store};
/// use queue_worker::{Execution, JobContext, WorkerPool};
///
/// let dir = tempfile::tempdir()?;
/// let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);
/// store.enqueue(vec![JobSpec::new("greet", serde_json::json!("world"))])?;
///
/// let pool = WorkerPool::builder(store.clone())
///     .handler("greet", |_ctx: &JobContext| Execution::succeeded())
///     .concurrency(2)
///     .start()?;
/// pool.handle().shutdown_when_idle();
/// let summary = pool.join()?;
/// assert_eq!(summary.completed, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WorkerPool {
    handle: PoolHandle,
    worker: WorkerId,
    coordinator: JoinHandle<Result<PoolSummary, PoolError>>,
    executors: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Settings for a pool that works on `store`.
    pub fn builder(store: Arc<dyn Store>) -> PoolBuilder {
        PoolBuilder {
            store,
            handlers: HashMap::new(),
            concurrency: 1,
            lease: None,
            poll_interval: None,
            shutdown_grace: Duration::from_secs(30),
            output_limit_bytes: None,
            host: None,
        }
    }

    /// A handle to control the pool from other threads (signal handlers).
    pub fn handle(&self) -> PoolHandle {
        self.handle.clone()
    }

    /// The id the pool claims jobs under.
    pub fn worker_id(&self) -> &WorkerId {
        &self.worker
    }

    /// Waits until the pool has stopped, and says what it did.
    pub fn join(self) -> Result<PoolSummary, PoolError> {
        let summary = self.coordinator.join().map_err(|_| PoolError::Panicked)?;
        for executor in self.executors {
            executor.join().map_err(|_| PoolError::Panicked)?;
        }
        summary
    }
}

/// Controls a running pool; cheap to clone and safe to use from any thread.
#[derive(Debug, Clone)]
pub struct PoolHandle {
    control: Sender<coordinator::Control>,
}

impl PoolHandle {
    /// Says new jobs may be due, so an idle pool claims now instead of at its
    /// next poll.
    pub fn wake(&self) {
        let _ = self.control.send(coordinator::Control::Wake);
    }

    /// Stops claiming; running jobs get the shutdown grace to finish, then
    /// are cancelled and released for another worker.
    pub fn shutdown(&self) {
        let _ = self.control.send(coordinator::Control::Shutdown);
    }

    /// Stops at once: running jobs are cancelled and released.
    pub fn stop_now(&self) {
        let _ = self.control.send(coordinator::Control::StopNow);
    }

    /// Keeps working until no job is due or running, then shuts down.
    /// Jobs scheduled for later stay queued.
    pub fn shutdown_when_idle(&self) {
        let _ = self.control.send(coordinator::Control::ShutdownWhenIdle);
    }
}

/// What a pool did before it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSummary {
    /// Attempts that succeeded.
    pub completed: u64,
    /// Attempts that failed and will be retried.
    pub failed: u64,
    /// Attempts that failed for good.
    pub dead: u64,
    /// Jobs given back unfinished at shutdown.
    pub released: u64,
    /// Reports refused because the pool had lost the job.
    pub stale: u64,
}
