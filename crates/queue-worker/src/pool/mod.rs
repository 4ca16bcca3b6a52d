//! The worker pool: claims due jobs and runs them on a fixed set of threads.
//!
//! One coordinator thread owns every conversation with the store. It claims
//! jobs for idle executors plus a bounded prefetch (see
//! [`PoolBuilder::prefetch`]), hands them over a bounded crossbeam channel
//! to `concurrency` executor threads, which take the next waiting job as
//! soon as they are free, and collects their reports to settle in batches.
//! It also renews the leases of the jobs it holds, keeps the pool's entry in
//! the worker registry fresh, rescues jobs whose workers died, and runs the
//! shutdown sequence.
//!
//! ```text
//!   claim (<= idle slots + prefetch)         jobs channel (bounded)
//!   store <------------------- coordinator ------------------------> executors x N
//!         --settle (batched)->    ^  ^  <-------- reports ----------------'
//!                                 |  '-- control: wake, shutdown, stop now
//! ```
//!
//! Reports travel with a doorbell beside them (see `reports`), so that a
//! prefetching coordinator waiting for a batch of them wakes once per batch.
//!
//! When the store has a [`WakeSource`], a third kind of thread waits on it and
//! sends the coordinator a wake-up, so an idle pool starts new jobs as soon
//! as they are enqueued rather than at its next poll.

mod coordinator;
mod executor;
mod reports;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use queue_core::WorkerId;
use queue_store::{Store, StoreError, WakeSource};
use serde::de::DeserializeOwned;

use crate::events::{self, EventHook, EventSink};
use crate::typed::{Decoding, TypedFn};
use crate::{Client, Handler, JobContext, JobError, JobEvent, TypedHandler};

/// How many jobs one claim statement takes at most.
const MAX_CLAIM_BATCH: usize = 128;

/// The largest prefetch a pool takes.
const MAX_PREFETCH: usize = 1024;

/// How long the wake-up thread waits at a time; also how long it may take
/// to notice that its pool stopped.
const WAKE_WAIT: Duration = Duration::from_millis(250);

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

/// Settings for a [`WorkerPool`], from [`WorkerPool::builder`]; unset
/// durations come from the queue's shared settings.
///
/// A pool claims only jobs of the kinds it has handlers for, so pools with
/// different handlers can share one queue.
pub struct PoolBuilder {
    store: Arc<dyn Store>,
    handlers: HashMap<String, Arc<dyn Handler>>,
    hooks: Vec<EventHook>,
    concurrency: usize,
    prefetch: usize,
    lease: Option<Duration>,
    poll_interval: Option<Duration>,
    shutdown_grace: Duration,
    output_limit_bytes: Option<usize>,
    host: Option<String>,
}

impl PoolBuilder {
    /// Registers `handler` for jobs of `kind`, replacing any earlier one.
    ///
    /// This is the untyped form: the handler reads the job's JSON itself
    /// (see [`JobContext::payload`]) and reports an [`Execution`](crate::Execution).
    pub fn handler(mut self, kind: impl Into<String>, handler: impl Handler) -> Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    /// Registers a closure for jobs of `kind` whose payload is a `P`,
    /// replacing any earlier handler of that kind.
    ///
    /// The payload is decoded before `handler` is called; one that does not
    /// decode fails the attempt permanently with a message naming `P`. See
    /// [`JobError`] for what the closure can return.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use queue_store::SqliteStore;
    /// use queue_worker::{Client, JobContext, JobError, WorkerPool};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Invoice {
    ///     number: u64,
    ///     amount_cents: i64,
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);
    /// Client::new(store.clone()).enqueue("invoice", &Invoice { number: 7, amount_cents: 990 })?;
    ///
    /// let pool = WorkerPool::builder(store)
    ///     .typed("invoice", |_ctx: &JobContext, invoice: Invoice| {
    ///         if invoice.amount_cents < 0 {
    ///             return Err(JobError::permanent("negative amount"));
    ///         }
    ///         Ok(())
    ///     })
    ///     .start()?;
    /// pool.handle().shutdown_when_idle();
    /// assert_eq!(pool.join()?.completed, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn typed<P, F>(self, kind: impl Into<String>, handler: F) -> Self
    where
        P: DeserializeOwned + 'static,
        F: Fn(&JobContext, P) -> Result<(), JobError> + Send + Sync + 'static,
    {
        self.typed_handler(kind, TypedFn::new(handler))
    }

    /// Registers a [`TypedHandler`] for jobs of `kind`, replacing any earlier
    /// handler of that kind. Its payload is decoded as for [`typed`](Self::typed).
    pub fn typed_handler(self, kind: impl Into<String>, handler: impl TypedHandler) -> Self {
        self.handler(kind, Decoding(handler))
    }

    /// Calls `hook` with every [`JobEvent`] of the pool, in order, to log,
    /// count or alert. Hooks run one after another, in the order they were
    /// added, on a thread of the pool's own, never on an executor or the
    /// coordinator. Default: no hooks.
    ///
    /// A hook should be quick. Events wait in a buffer of
    /// [`EVENT_BUFFER`](crate::EVENT_BUFFER) while hooks run; when it is
    /// full, new events are dropped rather than slowing the pool, and
    /// counted in [`PoolSummary::dropped_events`]. A hook that panics is
    /// logged and called again for later events. [`WorkerPool::join`]
    /// returns after every kept event has been delivered.
    pub fn on_event(mut self, hook: impl Fn(&JobEvent) + Send + Sync + 'static) -> Self {
        self.hooks.push(Arc::new(hook));
        self
    }

    /// How many jobs run at once: one executor thread each. Default 1; at
    /// least 1.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How many claimed jobs may wait for a free executor, beyond the ones
    /// running: at most 1024. Default 0: the pool claims only for idle
    /// executors.
    ///
    /// A pool holds at most `concurrency + prefetch` jobs. The waiting ones
    /// let an executor start its next job at once, and let the pool claim
    /// and settle in bigger batches, which is most of the speed of jobs that
    /// take microseconds. Waiting jobs are leased and renewed like running
    /// ones, so no other worker takes them meanwhile; a shutdown or stop
    /// releases them at once, unstarted, but a killed pool's waiting jobs
    /// stay locked until their lease lapses, and that rescue charges an
    /// attempt. Their recorded start is the claim, so it includes the wait.
    /// While such a pool finds work, a finished job's report may wait up to
    /// 5 ms to be stored with the claim that follows.
    /// That is why the default is none: for jobs that take longer than a
    /// claim, a prefetch buys little and keeps work from other workers.
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = prefetch.min(MAX_PREFETCH);
        self
    }

    /// How long a claim lasts without renewal: from 100 ms to a year. The
    /// pool renews it every third of a lease while the job runs. Default: the
    /// `lease` setting (30 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease.clamp(Duration::from_millis(100), MAX_PERIOD));
        self
    }

    /// How often an idle pool looks for due jobs: from 1 ms to a year.
    /// Default: the `poll-interval` setting (1 s). A [`Client`] attached to
    /// the pool wakes it at once instead.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = Some(interval.clamp(Duration::from_millis(1), MAX_PERIOD));
        self
    }

    /// How long running jobs may take to finish after a graceful shutdown
    /// begins, before their [cancel signal](JobContext::cancel) fires and
    /// they are released: at most a year. Default 30 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace.min(MAX_PERIOD);
        self
    }

    /// The most bytes of each output stream a handler keeps, as
    /// [`JobContext::output_limit_bytes`]. Default: the `output-limit`
    /// setting (64 KiB).
    pub fn output_limit_bytes(mut self, limit: usize) -> Self {
        self.output_limit_bytes = Some(limit);
        self
    }

    /// The host name shown in the worker registry. Default: this machine's.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Registers the pool as a worker and starts its threads: one
    /// coordinator, one executor per unit of concurrency, and one for event
    /// hooks if there are any.
    pub fn start(self) -> Result<WorkerPool, PoolError> {
        if self.handlers.is_empty() {
            return Err(PoolError::NoHandlers);
        }
        let config = self.store.config()?;
        let prefetch = self.prefetch;
        let settings = coordinator::Settings {
            concurrency: self.concurrency,
            lease: self.lease.unwrap_or(config.lease).min(MAX_PERIOD),
            poll_interval: self
                .poll_interval
                .unwrap_or(config.poll_interval)
                .min(MAX_PERIOD),
            shutdown_grace: self.shutdown_grace,
            prefetch,
            claim_batch: (self.concurrency + prefetch).min(MAX_CLAIM_BATCH),
            kinds: self.handlers.keys().cloned().collect(),
        };
        let output_limit = self
            .output_limit_bytes
            .unwrap_or_else(|| usize::try_from(config.output_limit_bytes).unwrap_or(usize::MAX));
        let host = self.host.unwrap_or_else(this_host);
        let worker = WorkerId::generate(&host, std::process::id());

        let (events, listener) = if self.hooks.is_empty() {
            (EventSink::disabled(), None)
        } else {
            let (sink, thread) = events::spawn_listener(self.hooks).map_err(PoolError::Spawn)?;
            (sink, Some(thread))
        };

        // Room for every job the pool may hold, so a send never blocks.
        let (job_tx, job_rx) = crossbeam_channel::bounded(self.concurrency + prefetch);
        let (report_tx, report_rx, doorbell) = reports::channel();
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
                events: events.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("queue-executor-{index}"))
                .spawn(move || executor.run())
                .map_err(PoolError::Spawn)?;
            executors.push(thread);
        }
        drop(report_tx);

        // The source is opened before the worker registers, so that an
        // enqueue that sees the worker in the registry can reach it. Without
        // wake-ups the pool still works by polling, so a source that cannot
        // open is worth a warning, not a failure.
        let wake_source = match self.store.wake_source(&worker) {
            Ok(source) => source,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for new jobs; polling only");
                None
            }
        };
        let coordinator = coordinator::Coordinator::new(coordinator::Parts {
            store: Arc::clone(&self.store),
            worker: worker.clone(),
            host,
            settings,
            jobs: job_tx,
            backlog: job_rx.clone(),
            reports: report_rx,
            doorbell,
            control: control_rx,
            events,
        })?;
        let coordinator = std::thread::Builder::new()
            .name("queue-coordinator".into())
            .spawn(move || coordinator.run())
            .map_err(PoolError::Spawn)?;
        let handle = PoolHandle {
            control: control_tx,
        };

        let stopped = Arc::new(AtomicBool::new(false));
        let waker = match wake_source {
            Some(source) => {
                let handle = handle.clone();
                let stopped = Arc::clone(&stopped);
                let thread = std::thread::Builder::new()
                    .name("queue-wake".into())
                    .spawn(move || listen(source, &handle, &stopped))
                    .map_err(PoolError::Spawn)?;
                Some(thread)
            }
            None => None,
        };

        Ok(WorkerPool {
            handle,
            store: self.store,
            worker,
            coordinator,
            executors,
            listener,
            waker,
            stopped,
        })
    }
}

/// Passes the store's wake-ups to the coordinator until the pool stops.
fn listen(mut source: Box<dyn WakeSource>, handle: &PoolHandle, stopped: &AtomicBool) {
    let mut failing = false;
    while !stopped.load(Ordering::Relaxed) {
        match source.wait(WAKE_WAIT) {
            Ok(woke) => {
                failing = false;
                if woke {
                    handle.wake();
                }
            }
            Err(err) => {
                // Said once per outage; the source retries on every call.
                if !failing {
                    tracing::warn!(error = %err, "lost the wake-up connection; polling meanwhile");
                    failing = true;
                }
                // Reconnecting is the source's job; a pause keeps it from
                // hammering a server that is down.
                std::thread::sleep(WAKE_WAIT * 4);
            }
        }
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
    store: Arc<dyn Store>,
    worker: WorkerId,
    coordinator: JoinHandle<Result<PoolSummary, PoolError>>,
    executors: Vec<JoinHandle<()>>,
    /// Delivers events to the hooks.
    listener: Option<JoinHandle<()>>,
    /// Passes the store's wake-ups on.
    waker: Option<JoinHandle<()>>,
    /// Tells the wake-up thread to end.
    stopped: Arc<AtomicBool>,
}

impl WorkerPool {
    /// Settings for a pool that works on `store`.
    pub fn builder(store: Arc<dyn Store>) -> PoolBuilder {
        PoolBuilder {
            store,
            handlers: HashMap::new(),
            hooks: Vec::new(),
            concurrency: 1,
            prefetch: 0,
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

    /// A client that enqueues into the pool's store and wakes the pool, so
    /// that jobs enqueued in this process start without waiting for a poll.
    pub fn client(&self) -> Client {
        Client::new(Arc::clone(&self.store)).with_pool(self.handle())
    }

    /// The id the pool claims jobs under.
    pub fn worker_id(&self) -> &WorkerId {
        &self.worker
    }

    /// Waits until the pool has stopped and its events are delivered, and
    /// says what it did.
    pub fn join(self) -> Result<PoolSummary, PoolError> {
        let summary = self.coordinator.join().map_err(|_| PoolError::Panicked);
        self.stopped.store(true, Ordering::Relaxed);
        if let Some(waker) = self.waker {
            waker.join().map_err(|_| PoolError::Panicked)?;
        }
        for executor in self.executors {
            executor.join().map_err(|_| PoolError::Panicked)?;
        }
        if let Some(listener) = self.listener {
            listener.join().map_err(|_| PoolError::Panicked)?;
        }
        summary?
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
    /// Events dropped because the hooks fell behind.
    pub dropped_events: u64,
}
