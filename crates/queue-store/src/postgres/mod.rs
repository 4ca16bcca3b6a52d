//! The PostgreSQL backend: one queue shared by workers on many hosts.
//!
//! Connections come from an r2d2 pool of synchronous `postgres` clients,
//! which fits the thread-based workers. The claim and lease renewal are
//! single statements that commit by themselves; every other write is one
//! read-committed transaction whose guarded statements lock the rows they
//! read. Deadlocks and serialization failures are retried here.
//!
//! **Time.** By default the database's clock decides due times and lease
//! expiry: statements read `statement_timestamp()`, so hosts whose clocks
//! disagree still agree on when a lease lapsed. [`Store::now`] answers from
//! the database's time as last read, carried forward by this host's
//! monotonic clock, so that it costs no round trip. A clock given to the
//! builder replaces the database's, for tests and simulations.
//!
//! **Wake-ups.** Enqueueing sends `NOTIFY` on the queue's channel when it
//! commits; [`Store::wake_source`] opens a connection that `LISTEN`s on it.

mod connection;
mod jobs;
mod queries;
mod registry;
mod rows;
mod schema;

use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use queue_core::{
    AttemptRecord, AttemptReport, ConfigKey, Job, JobId, JobSpec, JobState, QueueConfig,
    StateCounts, Timestamp, WorkerId,
};

use self::connection::{Conn, Manager, Session, Tx, quote_ident};
use crate::millis::{from_millis, to_millis};
use crate::{
    ClaimRequest, Clock, ExportSink, FinishedMinute, JobQuery, JobRecord, OutputUpdate, Result,
    Settled, Store, StoreError, WakeSource, WorkerRecord, WorkerSignal, imported,
};

pub use schema::SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION;

/// The database's clock, as integer milliseconds; one value per statement.
const DB_NOW_MS: &str = "floor(extract(epoch FROM statement_timestamp()) * 1000)::bigint";

/// The schema a queue lives in unless the URL or the builder names another.
pub const DEFAULT_SCHEMA: &str = "queuectl";

/// How many times a transaction that hit a deadlock or a serialization
/// failure is tried again.
const CONFLICT_RETRIES: u32 = 5;

/// Above this many rows of count changes, reading the counts folds them.
const COMPACT_ABOVE: i64 = 256;

/// Settings for opening a [`PostgresStore`].
#[derive(Clone)]
pub struct PostgresStoreBuilder {
    url: String,
    schema: Option<String>,
    pool_size: u32,
    clock: Option<Arc<dyn Clock>>,
}

impl PostgresStoreBuilder {
    /// The schema that holds the queue. Default: the URL's `schema`
    /// parameter, else `queuectl`. Letters, digits and `_`, at most 48.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The most connections open at once. Default 4: a worker process talks
    /// to the database from one thread at a time.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// A clock that replaces the database's, for tests and simulations.
    /// Default: none; the database's clock decides.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Connects, creating the queue's schema if missing and migrating it if
    /// old. A schema holding other tables and one from a newer queuectl are
    /// refused without being changed.
    pub fn open(self) -> Result<PostgresStore> {
        let (url, url_schema) = split_schema(&self.url);
        let mut config = postgres::Config::from_str(&url).map_err(|err| StoreError::Open {
            path: redact(&self.url).into(),
            reason: err.to_string(),
        })?;
        let schema = self
            .schema
            .or(url_schema)
            .unwrap_or_else(|| DEFAULT_SCHEMA.to_owned());
        let name = describe(&config, &schema);
        let open_error = |reason: String| StoreError::Open {
            path: name.clone().into(),
            reason,
        };
        check_schema_name(&schema).map_err(open_error)?;
        if config.get_application_name().is_none() {
            config.application_name("queuectl");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }

        let manager = Manager {
            config,
            schema: schema.clone(),
        };
        let mut conn =
            r2d2::ManageConnection::connect(&manager).map_err(|err| open_error(err.to_string()))?;
        let mut tx = conn.transaction()?;
        schema::prepare(&mut tx, &schema, &name)?;
        tx.commit()?;
        let time = match self.clock {
            Some(clock) => Time::Fixed(clock),
            None => Time::Database(DbClock::new(db_now(&mut conn)?)),
        };
        drop(conn);

        let listen = Manager {
            config: manager.config.clone(),
            schema: schema.clone(),
        };
        // Connections open as they are needed, so a one-shot command opens
        // one, while a busy worker grows to the full pool.
        let pool = r2d2::Pool::builder()
            .max_size(self.pool_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)
            .map_err(|err| open_error(err.to_string()))?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                listen,
                channel: format!("queuectl.{schema}"),
                name,
                time,
            }),
        })
    }
}

/// Takes the `schema` parameter out of a URL, which the driver would refuse.
fn split_schema(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut schema = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(value) => {
                schema = Some(value.to_owned());
                false
            }
            None => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_owned(), schema)
    } else {
        (format!("{base}?{}", kept.join("&")), schema)
    }
}

/// Schema names become identifiers and channel names, so only plain ones
/// are taken.
fn check_schema_name(schema: &str) -> std::result::Result<(), String> {
    let plain = schema
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_');
    let starts_well = schema
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if plain && starts_well && schema.len() <= 48 {
        Ok(())
    } else {
        Err(format!(
            "schema {schema:?} must be 1 to 48 letters, digits or '_', not starting with a digit"
        ))
    }
}

/// The URL without any password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_owned(),
    }
}

/// Names the database without its password: `postgres://user@host:port/db`.
fn describe(config: &postgres::Config, schema: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    let mut name = format!("postgres://{user}{at}{host}:{port}/{db}");
    if schema != DEFAULT_SCHEMA {
        name.push_str("?schema=");
        name.push_str(schema);
    }
    name
}

/// Who decides the time.
enum Time {
    /// A clock given to the builder.
    Fixed(Arc<dyn Clock>),
    /// The database's.
    Database(DbClock),
}

/// The database's time as last read, carried forward by the monotonic clock.
struct DbClock {
    anchor: Mutex<(Timestamp, Instant)>,
}

impl DbClock {
    fn new(now: Timestamp) -> Self {
        Self {
            anchor: Mutex::new((now, Instant::now())),
        }
    }

    fn observe(&self, now: Timestamp) {
        *self.anchor.lock().unwrap_or_else(PoisonError::into_inner) = (now, Instant::now());
    }

    fn now(&self) -> Timestamp {
        let (then, at) = *self.anchor.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = chrono::Duration::from_std(at.elapsed()).unwrap_or(chrono::Duration::zero());
        let now = then + elapsed;
        // Stored times have millisecond resolution; so does this one.
        from_millis(to_millis(now)).unwrap_or(now)
    }
}

fn db_now(session: &mut dyn Session) -> Result<Timestamp> {
    let row = session
        .query_opt(&format!("SELECT {DB_NOW_MS}"), &[])?
        .ok_or_else(|| StoreError::Corrupt("the database did not tell the time".into()))?;
    from_millis(row.try_get(0)?)
}

/// A queue stored in a PostgreSQL database, shared by any number of hosts.
///
/// ```no_run
/// use queue_core::JobSpec;
/// use queue_store::{PostgresStore, Store};
///
/// let store = PostgresStore::open("postgres://queuectl@db.internal/jobs")?;
/// store.enqueue(vec![JobSpec::shell("echo hello")])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: r2d2::Pool<Manager>,
    /// Opens the connections that listen for wake-ups, outside the pool.
    listen: Manager,
    channel: String,
    name: String,
    time: Time,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("database", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Settings for opening the queue at `url`, such as
    /// `postgres://user:password@host:5432/dbname`. The driver's connection
    /// parameters are accepted, and `schema=NAME` chooses the schema.
    pub fn builder(url: impl Into<String>) -> PostgresStoreBuilder {
        PostgresStoreBuilder {
            url: url.into(),
            schema: None,
            pool_size: 4,
            clock: None,
        }
    }

    /// Opens the queue at `url` with default settings.
    pub fn open(url: impl Into<String>) -> Result<Self> {
        Self::builder(url).open()
    }

    /// The database and schema, without the password, as
    /// `postgres://user@host:port/dbname` (with `?schema=` if not the default).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<Manager>> {
        Ok(self.inner.pool.get()?)
    }

    /// The time a single statement should use: the given clock's, or `None`
    /// for the database's own.
    fn fixed_now(&self) -> Option<Timestamp> {
        match &self.inner.time {
            Time::Fixed(clock) => Some(clock.now()),
            Time::Database(_) => None,
        }
    }

    /// The time for a transaction's writes.
    fn tx_now(&self, tx: &mut Tx<'_>) -> Result<Timestamp> {
        match &self.inner.time {
            Time::Fixed(clock) => Ok(clock.now()),
            Time::Database(clock) => {
                let now = db_now(tx)?;
                clock.observe(now);
                Ok(now)
            }
        }
    }

    /// Runs `work` in a transaction at one instant and commits it, trying
    /// again after a deadlock or a serialization failure.
    fn write<T>(&self, mut work: impl FnMut(&mut Tx<'_>, Timestamp) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        let mut attempt = 0;
        loop {
            let result = conn.transaction().and_then(|mut tx| {
                let now = self.tx_now(&mut tx)?;
                let value = work(&mut tx, now)?;
                tx.commit()?;
                Ok(value)
            });
            match result {
                Err(err) if is_conflict(&err) && attempt < CONFLICT_RETRIES => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %err, "transaction conflict, retrying");
                    std::thread::sleep(Duration::from_millis(5 << attempt));
                }
                other => return other,
            }
        }
    }

    /// Runs one statement's worth of `work` on a pooled connection.
    fn single<T>(&self, work: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut conn = self.connection()?;
        work(&mut conn)
    }

    /// Tells listening workers that jobs may be due, when `tx` commits.
    fn notify(&self, tx: &mut Tx<'_>) -> Result<()> {
        tx.query("SELECT pg_notify($1, '')", &[&self.inner.channel])?;
        Ok(())
    }

    /// Folds the rows of count changes into one per state, unless another
    /// session is doing so right now.
    fn compact_counts(&self) -> Result<()> {
        self.write(|tx, _| {
            let locked = tx
                .query_opt(
                    "SELECT pg_try_advisory_xact_lock(\
                         hashtext('queuectl.counts.' || current_schema()))",
                    &[],
                )?
                .is_some_and(|row| row.get::<_, bool>(0));
            if locked {
                tx.execute(
                    "WITH gone AS (DELETE FROM state_counts RETURNING state, n) \
                     INSERT INTO state_counts (state, n) \
                     SELECT state, sum(n) FROM gone GROUP BY state HAVING sum(n) <> 0",
                    &[],
                )?;
            }
            Ok(())
        })
    }
}

fn is_conflict(err: &StoreError) -> bool {
    let StoreError::Backend(source) = err else {
        return false;
    };
    source
        .downcast_ref::<postgres::Error>()
        .and_then(postgres::Error::code)
        .is_some_and(|code| {
            [
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::T_R_SERIALIZATION_FAILURE,
            ]
            .contains(code)
        })
}

impl Store for PostgresStore {
    fn enqueue(&self, specs: Vec<JobSpec>) -> Result<Vec<JobId>> {
        self.write(|tx, now| {
            let defaults = registry::config(tx)?.job_defaults();
            let jobs = specs
                .iter()
                .cloned()
                .enumerate()
                .map(|(index, spec)| {
                    spec.resolve(&defaults, now)
                        .map_err(|source| StoreError::InvalidSpec { index, source })
                })
                .collect::<Result<Vec<_>>>()?;
            let ids = jobs::insert(tx, &jobs)?;
            self.notify(tx)?;
            Ok(ids)
        })
    }

    fn claim(&self, request: &ClaimRequest<'_>) -> Result<Vec<Job>> {
        let now = self.fixed_now();
        self.single(|conn| jobs::claim(conn, request, now))
    }

    fn settle(&self, worker: &WorkerId, reports: &[AttemptReport]) -> Result<Vec<Settled>> {
        self.write(|tx, now| jobs::settle(tx, worker, reports, now))
    }

    fn record_output(&self, worker: &WorkerId, updates: &[OutputUpdate]) -> Result<usize> {
        if updates.is_empty() {
            return Ok(0);
        }
        self.single(|conn| jobs::record_output(conn, worker, updates))
    }

    fn renew_leases(&self, worker: &WorkerId, lease: Duration) -> Result<Vec<JobId>> {
        let now = self.fixed_now();
        self.single(|conn| jobs::renew_leases(conn, worker, lease, now))
    }

    fn release(&self, worker: &WorkerId, ids: &[JobId]) -> Result<usize> {
        self.write(|tx, now| {
            let released = jobs::release(tx, worker, ids, now)?;
            if released > 0 {
                self.notify(tx)?;
            }
            Ok(released)
        })
    }

    fn rescue_expired(&self) -> Result<Vec<JobId>> {
        let rescued = self.write(jobs::rescue_expired)?;
        // Every worker rescues now and then, so this keeps the count changes
        // few even when nobody reads the counts.
        if let Err(err) = self.compact_counts() {
            tracing::debug!(error = %err, "could not fold the job counts");
        }
        Ok(rescued)
    }

    fn revive(&self, id: &JobId) -> Result<Job> {
        self.write(|tx, now| {
            let job = jobs::revive(tx, id, now)?;
            self.notify(tx)?;
            Ok(job)
        })
    }

    fn cancel(&self, id: &JobId) -> Result<Job> {
        self.write(|tx, now| jobs::cancel(tx, id, now))
    }

    fn job(&self, id: &JobId) -> Result<Option<Job>> {
        self.single(|conn| queries::job(conn, id))
    }

    fn attempts(&self, id: &JobId) -> Result<Vec<AttemptRecord>> {
        self.single(|conn| queries::attempts(conn, id))
    }

    fn list(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.single(|conn| queries::list(conn, query))
    }

    fn counts(&self) -> Result<StateCounts> {
        let (counts, entries) = self.single(|conn| queries::counts(conn))?;
        if entries > COMPACT_ABOVE {
            if let Err(err) = self.compact_counts() {
                tracing::debug!(error = %err, "could not fold the job counts");
            }
        }
        Ok(counts)
    }

    fn finished_per_minute(&self, since: Timestamp) -> Result<Vec<FinishedMinute>> {
        self.single(|conn| queries::finished_per_minute(conn, since))
    }

    fn oldest_pending(&self) -> Result<Option<Job>> {
        self.single(|conn| queries::oldest_pending(conn))
    }

    fn config(&self) -> Result<QueueConfig> {
        self.single(|conn| registry::config(conn))
    }

    fn set_config(&self, key: ConfigKey, value: &str) -> Result<QueueConfig> {
        self.write(|tx, _| registry::set_config(tx, key, value))
    }

    fn register_worker(&self, worker: &WorkerRecord) -> Result<()> {
        self.single(|conn| registry::register(conn, worker))
    }

    fn heartbeat(&self, worker: &WorkerId, running: u32) -> Result<WorkerSignal> {
        let now = self.fixed_now();
        self.single(|conn| registry::heartbeat(conn, worker, running, now))
    }

    fn unregister_worker(&self, worker: &WorkerId) -> Result<()> {
        self.single(|conn| registry::unregister(conn, worker))
    }

    fn workers(&self) -> Result<Vec<WorkerRecord>> {
        self.single(|conn| registry::workers(conn))
    }

    fn request_stop(&self) -> Result<usize> {
        self.single(|conn| registry::request_stop(conn))
    }

    fn now(&self) -> Timestamp {
        match &self.inner.time {
            Time::Fixed(clock) => clock.now(),
            Time::Database(clock) => clock.now(),
        }
    }

    fn export(&self, state: Option<JobState>, sink: &mut ExportSink<'_>) -> Result<u64> {
        let mut conn = self.connection()?;
        let mut tx = conn.snapshot()?;
        let exported = queries::export(&mut tx, state, sink)?;
        tx.commit()?;
        Ok(exported)
    }

    fn import(&self, records: Vec<JobRecord>) -> Result<usize> {
        self.write(|tx, now| {
            let records: Vec<JobRecord> = records
                .iter()
                .cloned()
                .map(|record| imported(record, now))
                .collect();
            let stored = jobs::import(tx, &records)?;
            if stored > 0 {
                self.notify(tx)?;
            }
            Ok(stored)
        })
    }

    fn wake_source(&self, _worker: &WorkerId) -> Result<Option<Box<dyn WakeSource>>> {
        let mut source = Listener {
            manager: Manager {
                config: self.inner.listen.config.clone(),
                schema: self.inner.listen.schema.clone(),
            },
            channel: self.inner.channel.clone(),
            client: None,
        };
        source.connect()?;
        Ok(Some(Box::new(source)))
    }
}

/// A connection of its own that `LISTEN`s on the queue's channel.
struct Listener {
    manager: Manager,
    channel: String,
    client: Option<postgres::Client>,
}

impl Listener {
    fn connect(&mut self) -> Result<()> {
        let mut client = self.manager.open()?;
        client.batch_execute(&format!("LISTEN {}", quote_ident(&self.channel)))?;
        self.client = Some(client);
        Ok(())
    }
}

impl WakeSource for Listener {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let Some(client) = self.client.as_mut().filter(|client| !client.is_closed()) else {
            // Jobs may have come while nobody listened, so a new connection
            // counts as a wake-up.
            self.client = None;
            self.connect()?;
            return Ok(true);
        };
        let woke = {
            let mut notifications = client.notifications();
            let first = notifications.timeout_iter(timeout).next();
            if let Ok(Some(_)) = first {
                // One claim answers every enqueue so far: drain what arrived.
                let mut ready = notifications.iter();
                while let Ok(Some(_)) = ready.next() {}
            }
            first.map(|notification| notification.is_some())
        };
        match woke {
            Ok(woke) => Ok(woke),
            Err(err) => {
                self.client = None;
                Err(err.into())
            }
        }
    }
}
