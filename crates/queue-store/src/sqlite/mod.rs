//! The SQLite backend: one file, no server, many processes.
//!
//! Connections come from an r2d2 pool. Every write runs in an `IMMEDIATE`
//! transaction: it takes SQLite's write lock when it begins rather than when
//! it first writes, so two writers never both read, then deadlock upgrading.
//! Waiting for the lock is left to SQLite's busy timeout; when even that runs
//! out under heavy load, the whole transaction is retried with backoff here,
//! so "database is locked" does not reach users.
//!
//! [`SqliteStore`] is the queue's own view of the file; [`enqueue_in`] lets an
//! application store jobs inside a transaction on a connection of its own.

mod jobs;
mod owners;
#[cfg(test)]
mod plans;
mod queries;
mod registry;
mod rows;
mod schema;
mod transactional;
#[cfg(target_os = "linux")]
mod wake;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use queue_core::{
    AttemptRecord, AttemptReport, ConfigKey, Job, JobDefaults, JobId, JobSpec, JobState, NewJob,
    QueueConfig, StateCounts, Synchronous, Timestamp, WorkerId,
};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::{
    ClaimRequest, Clock, ExportSink, FinishedMinute, JobQuery, JobRecord, OutputUpdate, Result,
    Settled, Store, StoreError, SystemClock, WakeSource, WorkerRecord, WorkerSignal, imported,
};

pub use schema::SCHEMA_VERSION;
pub use transactional::enqueue_in;

/// How long one statement waits for SQLite's write lock before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a write that still found the database busy is tried again.
const BUSY_RETRIES: u32 = 8;

/// Settings for opening a [`SqliteStore`], from [`SqliteStore::builder`].
///
/// ```
/// use queue_core::Synchronous;
/// use queue_store::SqliteStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::builder(dir.path().join("queue.db"))
///     .pool_size(4)
///     .synchronous(Synchronous::Full)
///     .open()?;
/// assert!(store.path().ends_with("queue.db"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteStoreBuilder {
    path: PathBuf,
    pool_size: u32,
    synchronous: Option<Synchronous>,
    clock: Arc<dyn Clock>,
    application_tables: bool,
}

impl std::fmt::Debug for SqliteStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStoreBuilder")
            .field("path", &self.path)
            .field("pool_size", &self.pool_size)
            .field("synchronous", &self.synchronous)
            .field("application_tables", &self.application_tables)
            .finish_non_exhaustive()
    }
}

impl SqliteStoreBuilder {
    /// The most connections open at once. Default 8; at least 1.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How hard a commit works to survive an OS crash or power loss, for
    /// this store's connections. Default: the queue's `synchronous` setting,
    /// itself [`Synchronous::Normal`] unless changed: an acknowledged write
    /// survives a crash of the process, not always one of the machine.
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = Some(synchronous);
        self
    }

    /// The clock that decides due times and leases. Default the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Whether the file may be an application's own database, holding its
    /// tables beside the queue's, so that the application can enqueue in its
    /// own transactions with [`enqueue_in`]. Default `false`: a file that
    /// already has tables and is not marked as a queue is refused, so that a
    /// mistyped path never gets queue tables added to it.
    ///
    /// When set, the queue's tables (`jobs`, `attempts`, `state_counts`,
    /// `config` and `workers`) are created beside the application's, which
    /// must not use those names, and the file is marked as a queue through
    /// `PRAGMA application_id`; a file marked by another application is
    /// still refused.
    pub fn allow_application_tables(mut self, allow: bool) -> Self {
        self.application_tables = allow;
        self
    }

    /// Opens the database, creating it if missing and migrating it if old.
    ///
    /// A path that is a directory or not a regular file, a file that is not a
    /// queuectl database and a database from a newer queuectl are refused
    /// without being changed.
    pub fn open(self) -> Result<SqliteStore> {
        let path = self.path;
        let open_error = |reason: String| StoreError::Open {
            path: path.clone(),
            reason,
        };
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(open_error(
                    "it is a directory; name a file inside it".into(),
                ));
            }
            // SQLite would write its journal beside a device or a pipe and
            // fail at the first sync, or block on the pipe.
            Ok(meta) if !meta.is_file() => {
                return Err(open_error("it is not a regular file".into()));
            }
            _ => {}
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if parent.exists() && !parent.is_dir() {
                return Err(open_error(format!(
                    "{} is not a directory",
                    parent.display()
                )));
            }
            if !parent.exists() {
                return Err(open_error(format!(
                    "directory {} does not exist",
                    parent.display()
                )));
            }
        }

        let mut conn = Connection::open(&path).map_err(|err| open_error(err.to_string()))?;
        // Setting `synchronous` is the first statement that reads the file, so
        // a file that is not SQLite at all is noticed here. Many processes may
        // open a new file at once, and all but one wait for its creation.
        let setup = self.synchronous.unwrap_or_default();
        let stored = retry_busy(|| {
            configure(&conn, setup).map_err(|err| schema::open_failure(err, &path))?;
            schema::prepare(&mut conn, &path, self.application_tables)?;
            registry::synchronous(&conn)
        })?;
        keep_log_on_close(&conn).map_err(|err| open_error(err.to_string()))?;
        drop(conn);

        // The level is a property of each connection, not of the file, so
        // every connection of the pool applies it as it opens.
        let synchronous = self.synchronous.or(stored).unwrap_or_default();
        let manager = SqliteConnectionManager::file(&path).with_init(move |c| {
            configure(c, synchronous)?;
            keep_log_on_close(c)
        });
        // Connections are opened as they are needed, so a one-shot command
        // opens one, while a busy worker grows to the full pool.
        let pool = r2d2::Pool::builder()
            .max_size(self.pool_size)
            .min_idle(Some(0))
            .build(manager)
            .map_err(|err| open_error(err.to_string()))?;
        Ok(SqliteStore {
            pool,
            path,
            clock: self.clock,
        })
    }
}

/// Per-connection settings; journal mode is per file and set in `schema`.
///
/// Temporary storage lives in memory. The counting triggers make SQLite keep
/// a statement journal for a write to `jobs` that could fail halfway, and
/// past 64 KiB that journal spills to a temporary file: a batch enqueue of
/// ten thousand jobs paid a file write for nearly every page it touched and
/// ran at about half the speed. What a statement journals is bounded by the
/// pages that statement changes, so memory stays small; a migration, which
/// may rewrite every row, turns this off for itself (see `schema`). Sorts
/// and temporary tables stay in memory too: the queue's reads follow its
/// indexes and sort nothing large.
fn configure(conn: &Connection, synchronous: Synchronous) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", synchronous.as_str())?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// By default the last connection to close checkpoints the log into the
/// database and deletes it, with syncs that cost a one-shot command such as
/// `queuectl enqueue` most of its time. The log is checkpointed as it grows
/// anyway, and kept between processes. The connection that first opens a
/// file takes this on only once the file proved to be a queue, so that a
/// refused file is left without a log beside it.
fn keep_log_on_close(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    Ok(())
}

/// A queue stored in one SQLite file.
///
/// ```
/// use queue_core::{JobSpec, JobState};
/// use queue_store::{SqliteStore, Store};
///
/// let dir = tempfile::tempdir()?;
/// let store = SqliteStore::open(dir.path().join("queue.db"))?;
/// let ids = store.enqueue(vec![JobSpec::shell("echo hello")])?;
/// assert_eq!(store.job(&ids[0])?.unwrap().state, JobState::Pending);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: r2d2::Pool<SqliteConnectionManager>,
    path: PathBuf,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Settings for opening the database at `path`.
    pub fn builder(path: impl Into<PathBuf>) -> SqliteStoreBuilder {
        SqliteStoreBuilder {
            path: path.into(),
            pool_size: 8,
            synchronous: None,
            clock: Arc::new(SystemClock),
            application_tables: false,
        }
    }

    /// Opens the database at `path` with default settings.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Both clocks, read before the transaction: a lease runs from when it
    /// was asked for, not from when the write lock was granted.
    fn clocks(&self) -> jobs::Now {
        jobs::Now {
            wall: self.clock.now(),
            monotonic: self.clock.monotonic(),
        }
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>> {
        Ok(self.pool.get()?)
    }

    /// Runs `work` in an immediate transaction and commits it, trying again
    /// when the database stays busy past the busy timeout.
    fn write<T>(&self, mut work: impl FnMut(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        retry_busy(|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = work(&tx)?;
            tx.commit()?;
            Ok(value)
        })
    }

    /// Tells the workers on this machine that jobs may be due, so they claim
    /// now instead of at their next poll.
    fn wake_workers(&self) {
        #[cfg(target_os = "linux")]
        if let Ok(conn) = self.connection() {
            wake::poke(&conn);
        }
    }

    /// Runs `work` on a pooled connection, outside any explicit transaction,
    /// trying again when the database stays busy. In WAL mode a read waits
    /// for no writer, but it can still meet a busy file while another
    /// process recovers or checkpoints the log.
    fn read<T>(&self, mut work: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.connection()?;
        retry_busy(|| work(&conn))
    }
}

/// Runs `work` until it succeeds, fails for another reason than a busy
/// database, or has been tried [`BUSY_RETRIES`] more times, with a pause
/// that doubles between tries (20 ms up to 640 ms, 2.5 s in all, on top of
/// the busy timeout each statement already waited).
fn retry_busy<T>(mut work: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 0;
    loop {
        match work() {
            Err(err) if is_busy(&err) && attempt < BUSY_RETRIES => {
                attempt += 1;
                tracing::debug!(attempt, "database busy, trying again");
                std::thread::sleep(Duration::from_millis(10 << attempt.min(6)));
            }
            other => return other,
        }
    }
}

/// Checks and completes a batch; the first bad spec refuses it whole.
fn resolve_all(specs: Vec<JobSpec>, defaults: &JobDefaults, now: Timestamp) -> Result<Vec<NewJob>> {
    specs
        .into_iter()
        .enumerate()
        .map(|(index, spec)| {
            spec.resolve(defaults, now)
                .map_err(|source| StoreError::InvalidSpec { index, source })
        })
        .collect()
}

fn is_busy(err: &StoreError) -> bool {
    let StoreError::Backend(source) = err else {
        return false;
    };
    source.downcast_ref::<rusqlite::Error>().is_some_and(|err| {
        matches!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    })
}

impl Store for SqliteStore {
    fn enqueue(&self, specs: Vec<JobSpec>) -> Result<Vec<JobId>> {
        // Specs are checked and completed before the write lock is taken, so a
        // bad batch never holds up other writers.
        let defaults = self.config()?.job_defaults();
        let jobs = resolve_all(specs, &defaults, self.clock.now())?;
        let ids = self.write(|tx| jobs::insert(tx, &jobs))?;
        self.wake_workers();
        Ok(ids)
    }

    fn claim(&self, request: &ClaimRequest<'_>) -> Result<Vec<Job>> {
        let now = self.clocks();
        self.write(|tx| jobs::claim(tx, request, &now))
    }

    fn settle(&self, worker: &WorkerId, reports: &[AttemptReport]) -> Result<Vec<Settled>> {
        let now = self.clock.now();
        self.write(|tx| jobs::settle(tx, worker, reports, now))
    }

    fn settle_and_claim(
        &self,
        worker: &WorkerId,
        reports: &[AttemptReport],
        claim: &ClaimRequest<'_>,
    ) -> Result<(Vec<Settled>, Vec<Job>)> {
        // One clock reading for both parts, so that a retry the reports make
        // due at once is due for the claim that follows.
        let now = self.clocks();
        self.write(|tx| {
            let settled = jobs::settle(tx, worker, reports, now.wall)?;
            let claimed = jobs::claim(tx, claim, &now)?;
            Ok((settled, claimed))
        })
    }

    fn record_output(&self, worker: &WorkerId, updates: &[OutputUpdate]) -> Result<usize> {
        if updates.is_empty() {
            return Ok(0);
        }
        self.write(|tx| jobs::record_output(tx, worker, updates))
    }

    fn renew_leases(&self, worker: &WorkerId, lease: Duration) -> Result<Vec<JobId>> {
        let now = self.clocks();
        self.write(|tx| jobs::renew_leases(tx, worker, lease, &now))
    }

    fn release(&self, worker: &WorkerId, ids: &[JobId]) -> Result<usize> {
        let now = self.clock.now();
        let released = self.write(|tx| jobs::release(tx, worker, ids, now))?;
        if released > 0 {
            self.wake_workers();
        }
        Ok(released)
    }

    fn rescue_expired(&self) -> Result<Vec<JobId>> {
        let now = self.clocks();
        self.write(|tx| jobs::rescue_expired(tx, &now))
    }

    fn revive(&self, id: &JobId) -> Result<Job> {
        let now = self.clock.now();
        let job = self.write(|tx| jobs::revive(tx, id, now))?;
        self.wake_workers();
        Ok(job)
    }

    fn cancel(&self, id: &JobId) -> Result<Job> {
        let now = self.clock.now();
        self.write(|tx| jobs::cancel(tx, id, now))
    }

    fn job(&self, id: &JobId) -> Result<Option<Job>> {
        self.read(|conn| queries::job(conn, id))
    }

    fn attempts(&self, id: &JobId) -> Result<Vec<AttemptRecord>> {
        self.read(|conn| queries::attempts(conn, id))
    }

    fn list(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.read(|conn| queries::list(conn, query))
    }

    fn counts(&self) -> Result<StateCounts> {
        self.read(queries::counts)
    }

    fn finished_per_minute(&self, since: Timestamp) -> Result<Vec<FinishedMinute>> {
        self.read(|conn| queries::finished_per_minute(conn, since))
    }

    fn oldest_pending(&self) -> Result<Option<Job>> {
        self.read(queries::oldest_pending)
    }

    fn config(&self) -> Result<QueueConfig> {
        self.read(registry::config)
    }

    fn set_config(&self, key: ConfigKey, value: &str) -> Result<QueueConfig> {
        self.write(|tx| registry::set_config(tx, key, value))
    }

    fn register_worker(&self, worker: &WorkerRecord) -> Result<()> {
        self.write(|tx| registry::register(tx, worker))
    }

    fn heartbeat(&self, worker: &WorkerId, running: u32) -> Result<WorkerSignal> {
        let now = self.clock.now();
        self.write(|tx| registry::heartbeat(tx, worker, running, now))
    }

    fn unregister_worker(&self, worker: &WorkerId) -> Result<()> {
        self.write(|tx| registry::unregister(tx, worker))
    }

    fn workers(&self) -> Result<Vec<WorkerRecord>> {
        self.read(registry::workers)
    }

    fn request_stop(&self) -> Result<usize> {
        self.write(registry::request_stop)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn export(&self, state: Option<JobState>, sink: &mut ExportSink<'_>) -> Result<u64> {
        // A read transaction in WAL mode sees one snapshot from its first read.
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let exported = queries::export(&tx, state, sink)?;
            tx.commit()?;
            Ok(exported)
        })
    }

    fn import(&self, records: Vec<JobRecord>) -> Result<usize> {
        let now = self.clock.now();
        let records: Vec<JobRecord> = records
            .into_iter()
            .map(|record| imported(record, now))
            .collect();
        let imported = self.write(|tx| jobs::import(tx, &records))?;
        self.wake_workers();
        Ok(imported)
    }

    #[cfg(target_os = "linux")]
    fn wake_source(&self, worker: &WorkerId) -> Result<Option<Box<dyn WakeSource>>> {
        Ok(Some(Box::new(wake::SocketWake::bind(worker)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `synchronous` level the store's connections run with, as SQLite
    /// reports it (0 off, 1 normal, 2 full, 3 extra).
    fn level(store: &SqliteStore) -> i64 {
        store
            .read(|conn| Ok(conn.query_row("PRAGMA synchronous", [], |row| row.get(0))?))
            .unwrap()
    }

    #[test]
    fn connections_take_the_stored_synchronous_level_unless_the_builder_chooses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(level(&store), 1);

        store.set_config(ConfigKey::Synchronous, "full").unwrap();

        assert_eq!(level(&SqliteStore::open(&path).unwrap()), 2);
        let chosen = SqliteStore::builder(&path)
            .synchronous(Synchronous::Off)
            .open()
            .unwrap();
        assert_eq!(level(&chosen), 0);
    }
}
