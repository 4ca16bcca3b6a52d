//! The application's side of the queue: [`Client`] enqueues jobs, and wakes
//! an in-process pool so that it runs them without waiting for its next poll.

use std::fmt;
use std::sync::Arc;

use queue_core::{JobId, JobSpec};
use queue_store::{Result, Store, StoreError};
use serde::Serialize;

use crate::PoolHandle;

/// Enqueues jobs from an application.
///
/// Jobs are durable once a call returns: they are committed to the store and
/// will run on any pool working on it, in this process or another. A client
/// attached to an in-process pool ([`Client::with_pool`], or
/// [`WorkerPool::client`](crate::WorkerPool::client)) also wakes that pool,
/// so an idle pool starts a new job at once instead of at its next poll.
///
/// Every option of the command line's `enqueue` is a method of [`JobSpec`]:
/// `with_id`, `with_priority`, `with_delay` or `with_run_at`,
/// `with_timeout_secs` and `with_max_retries`. Options left unset take the
/// queue's configured defaults.
///
/// To enqueue inside the application's own database transaction, use
/// [`queue_store::sqlite::enqueue_in`], then [`Client::wake`] after the commit.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use queue_core::JobSpec;
/// use queue_store::{SqliteStore, Store};
/// use queue_worker::Client;
///
/// #[derive(serde::Serialize)]
/// struct Email<'a> {
///     to: &'a str,
/// }
///
/// let dir = tempfile::tempdir()?;
/// let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);
/// let client = Client::new(store.clone());
///
/// let now = client.enqueue("email", &Email { to: "ada@example.com" })?;
/// let later = client.enqueue_spec(
///     JobSpec::typed("email", &Email { to: "alan@example.com" })?
///         .with_priority(5)
///         .with_delay(Duration::from_secs(60))
///         .with_max_retries(10),
/// )?;
/// let batch = client.enqueue_batch(
///     (0..3).map(|n| JobSpec::typed("count", &n)).collect::<Result<Vec<_>, _>>()?,
/// )?;
///
/// assert_eq!(store.counts()?.pending, 5);
/// # let _ = (now, later, batch);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    store: Arc<dyn Store>,
    pool: Option<PoolHandle>,
}

impl Client {
    /// A client that enqueues into `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, pool: None }
    }

    /// Also wakes `pool` after each enqueue. The pool must work on the same
    /// queue; waking a pool that has stopped does nothing.
    pub fn with_pool(mut self, pool: PoolHandle) -> Self {
        self.pool = Some(pool);
        self
    }

    /// Enqueues a job of `kind` with `payload`, serialized to JSON, and every
    /// other option at its default; returns the new job's id.
    ///
    /// A payload that JSON cannot hold is refused as
    /// [`StoreError::InvalidSpec`].
    pub fn enqueue<P>(&self, kind: &str, payload: &P) -> Result<JobId>
    where
        P: Serialize + ?Sized,
    {
        let spec = JobSpec::typed(kind, payload)
            .map_err(|source| StoreError::InvalidSpec { index: 0, source })?;
        self.enqueue_spec(spec)
    }

    /// Enqueues one job with the options `spec` sets; returns its id.
    pub fn enqueue_spec(&self, spec: JobSpec) -> Result<JobId> {
        let mut ids = self.enqueue_batch(vec![spec])?;
        ids.pop()
            .ok_or_else(|| StoreError::Corrupt("the store stored no job".into()))
    }

    /// Enqueues every spec in one transaction, all or nothing, and returns
    /// their ids in order. If one is invalid or its id is taken, nothing is
    /// stored and the error names its position.
    pub fn enqueue_batch(&self, specs: impl IntoIterator<Item = JobSpec>) -> Result<Vec<JobId>> {
        let ids = self.store.enqueue(specs.into_iter().collect())?;
        if !ids.is_empty() {
            self.wake();
        }
        Ok(ids)
    }

    /// Tells the attached pool, if any, that jobs may be due; for jobs
    /// committed some other way, such as [`queue_store::sqlite::enqueue_in`].
    pub fn wake(&self) {
        if let Some(pool) = &self.pool {
            pool.wake();
        }
    }

    /// The store the client enqueues into, for reading jobs back.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("pool", &self.pool.is_some())
            .finish_non_exhaustive()
    }
}
