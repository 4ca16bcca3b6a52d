//! The store conformance suite run against `PostgresStore`, and the checks
//! that only PostgreSQL has: schemas, the database's clock and wake-ups.
//!
//! The server is named by `QUEUECTL_TEST_POSTGRES_URL` (for example
//! `postgres://queuectl@127.0.0.1:5432/postgres`). Each harness works in a
//! schema of its own, dropped afterwards, so tests run in parallel. Without
//! a server the tests say so and pass, unless `QUEUECTL_REQUIRE_SERVICES=1`
//! (as in CI), which makes a missing server a failure.

mod conformance;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::TimeZone;
use queue_core::{JobSpec, JobState, WorkerId};
use queue_store::{
    ClaimRequest, JobRecord, ManualClock, POSTGRES_SCHEMA_VERSION, PostgresStore, SqliteStore,
    Store, StoreError,
};

/// The test server's URL, or `None` when the PostgreSQL tests are to skip.
fn server_url() -> Option<String> {
    static SAID: AtomicBool = AtomicBool::new(false);
    match std::env::var("QUEUECTL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let required = std::env::var("QUEUECTL_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "QUEUECTL_REQUIRE_SERVICES=1 but QUEUECTL_TEST_POSTGRES_URL is not set: \
                 point it at a PostgreSQL server, such as \
                 postgres://queuectl@127.0.0.1:5432/postgres"
            );
            if !SAID.swap(true, Ordering::Relaxed) {
                say_skipped();
            }
            None
        }
    }
}

#[expect(clippy::print_stderr, reason = "a skipped test says why")]
fn say_skipped() {
    eprintln!(
        "skipping the PostgreSQL tests: set QUEUECTL_TEST_POSTGRES_URL to a server's URL \
         to run them"
    );
}

/// A direct connection to the test server, for set-up and inspection.
fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).unwrap()
}

/// A schema name no other test uses.
fn fresh_schema() -> String {
    format!("q_{}", uuid::Uuid::new_v4().simple())
}

/// Drops a test's schema when the test ends, however it ends.
struct SchemaGuard {
    url: String,
    schema: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = client.batch_execute(&sql);
        }
    }
}

/// A fresh queue in its own schema, on a hand-moved clock.
struct PgHarness {
    // Declared first so that the store's connections close before the
    // schema is dropped.
    store: PostgresStore,
    clock: Arc<ManualClock>,
    guard: SchemaGuard,
}

impl PgHarness {
    fn new() -> Option<Self> {
        let url = server_url()?;
        let guard = SchemaGuard {
            url,
            schema: fresh_schema(),
        };
        let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let store = open(&guard, Some(clock.clone())).unwrap();
        Some(Self {
            store,
            clock,
            guard,
        })
    }
}

/// Opens the guarded schema's queue, on `clock` or the database's.
fn open(
    guard: &SchemaGuard,
    clock: Option<Arc<ManualClock>>,
) -> queue_store::Result<PostgresStore> {
    let mut builder = PostgresStore::builder(&guard.url)
        .schema(&guard.schema)
        .pool_size(8);
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    builder.open()
}

impl conformance::Harness for PgHarness {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    fn reopen(&self) -> Box<dyn Store> {
        Box::new(open(&self.guard, Some(self.clock.clone())).unwrap())
    }
}

conformance::conformance_tests!(PgHarness::new);

/// A guard for a schema of its own, for the tests below that open stores
/// their own way.
fn schema() -> Option<SchemaGuard> {
    Some(SchemaGuard {
        url: server_url()?,
        schema: fresh_schema(),
    })
}

/// A queue written by a newer queuectl is refused with both versions and
/// left as it was.
#[test]
fn newer_schema_is_refused_and_left_unchanged() {
    let Some(guard) = schema() else { return };
    let store = open(&guard, None).unwrap();
    store.enqueue(vec![JobSpec::shell("true")]).unwrap();
    drop(store);
    let mut client = admin(&guard.url);
    let bump = format!(
        "UPDATE {}.schema_version SET version = version + 1",
        guard.schema
    );
    client.batch_execute(&bump).unwrap();

    let err = open(&guard, None).unwrap_err();

    assert!(
        matches!(err, StoreError::TooNew { found, supported, .. }
            if found == POSTGRES_SCHEMA_VERSION + 1 && supported == POSTGRES_SCHEMA_VERSION),
        "{err:?}"
    );
    let jobs: i64 = client
        .query_one(&format!("SELECT count(*) FROM {}.jobs", guard.schema), &[])
        .unwrap()
        .get(0);
    assert_eq!(jobs, 1);
}

/// A schema holding another application's tables is refused and not touched.
#[test]
fn schema_of_another_application_is_refused() {
    let Some(guard) = schema() else { return };
    let mut client = admin(&guard.url);
    let create = format!(
        "CREATE SCHEMA {0}; CREATE TABLE {0}.contacts (name text)",
        guard.schema
    );
    client.batch_execute(&create).unwrap();

    let err = open(&guard, None).unwrap_err();

    assert!(matches!(err, StoreError::NotAQueue { .. }), "{err:?}");
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&guard.schema],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1);
}

/// Hosts opening a new queue at the same moment create it once, and all
/// of them can use it.
#[test]
fn concurrent_first_opens_create_the_schema_once() {
    let Some(guard) = schema() else { return };
    let barrier = Barrier::new(4);

    let stores: Vec<PostgresStore> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    open(&guard, None).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for store in &stores {
        store.enqueue(vec![JobSpec::shell("true")]).unwrap();
    }
    assert_eq!(stores[0].counts().unwrap().pending, 4);
}

/// A server that does not answer is an open error naming the database,
/// and the password never appears in it.
#[test]
fn unreachable_server_is_an_open_error_without_the_password() {
    let err = PostgresStore::builder("postgres://ann:secret@127.0.0.1:1/jobs")
        .open()
        .unwrap_err();

    let message = err.to_string();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        message.contains("postgres://ann@127.0.0.1:1/jobs"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
}

/// Without a clock of its own, the store runs on the database's clock:
/// stamps and `now` agree with the server's time, not the host's.
#[test]
fn the_database_clock_decides_by_default() {
    let Some(guard) = schema() else { return };
    let store = open(&guard, None).unwrap();
    let mut client = admin(&guard.url);
    let server_now = |client: &mut postgres::Client| -> i64 {
        client
            .query_one(
                "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
                &[],
            )
            .unwrap()
            .get(0)
    };

    let before = server_now(&mut client);
    let id = store
        .enqueue(vec![JobSpec::shell("true")])
        .unwrap()
        .remove(0);
    let worker = WorkerId::from_stored("w");
    let request = ClaimRequest {
        worker: &worker,
        limit: 1,
        lease: Duration::from_secs(30),
        kinds: &[],
    };
    let claimed = store.claim(&request).unwrap().remove(0);
    let estimate = store.now().timestamp_millis();
    let after = server_now(&mut client);

    let created = store
        .job(&id)
        .unwrap()
        .unwrap()
        .created_at
        .timestamp_millis();
    let started = claimed.started_at.unwrap().timestamp_millis();
    for (what, at) in [
        ("created", created),
        ("started", started),
        ("now", estimate),
    ] {
        assert!(
            (before..=after).contains(&at),
            "{what} {at} not in {before}..={after}"
        );
    }
    let lease = claimed.lease_expires_at.unwrap().timestamp_millis();
    assert_eq!(lease - started, 30_000);
}

/// A wake source fires soon after an enqueue by another handle, and stays
/// quiet when nothing is enqueued.
#[test]
fn enqueue_wakes_a_listening_source() {
    let Some(guard) = schema() else { return };
    let store = open(&guard, None).unwrap();
    let mut source = store
        .wake_source(&WorkerId::generate("host", 1))
        .unwrap()
        .expect("postgres has wake-ups");
    assert!(
        !source.wait(Duration::from_millis(200)).unwrap(),
        "woke with nothing enqueued"
    );
    let other = open(&guard, None).unwrap();

    other
        .enqueue(vec![JobSpec::shell("true"), JobSpec::shell("true")])
        .unwrap();
    let woke = source.wait(Duration::from_secs(5)).unwrap();

    assert!(woke, "no wake-up within 5 s");
    assert!(
        !source.wait(Duration::from_millis(200)).unwrap(),
        "one enqueue of many jobs is one wake-up"
    );
}

/// Jobs exported from an SQLite queue arrive in PostgreSQL whole: ids,
/// states, attempts, times, output and timelines.
#[test]
fn export_from_sqlite_imports_into_postgres_unchanged() {
    let Some(guard) = schema() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("queue.db")).unwrap();
    let specs = (0..20)
        .map(|n| JobSpec::shell(format!("echo {n}")).with_priority(n % 3))
        .collect();
    sqlite.enqueue(specs).unwrap();
    let worker = WorkerId::from_stored("old-host:1:a");
    let request = ClaimRequest {
        worker: &worker,
        limit: 5,
        lease: Duration::from_secs(30),
        kinds: &[],
    };
    let claimed = sqlite.claim(&request).unwrap();
    let reports: Vec<_> = claimed[..4]
        .iter()
        .enumerate()
        .map(|(n, job)| queue_core::AttemptReport {
            job_id: job.id.clone(),
            attempt: job.attempts,
            outcome: if n % 2 == 0 {
                queue_core::AttemptOutcome::Succeeded
            } else {
                queue_core::AttemptOutcome::failed("boom")
            },
            exit_code: Some(n as i32 % 2),
            stdout: Some(format!("out {n}\n")),
            stderr: None,
            started_at: job.started_at.unwrap(),
            finished_at: sqlite.now(),
        })
        .collect();
    sqlite.settle(&worker, &reports).unwrap();
    let mut exported = Vec::new();
    sqlite
        .export(None, &mut |record: JobRecord| {
            exported.push(record);
            Ok(())
        })
        .unwrap();

    let postgres = open(&guard, None).unwrap();
    assert_eq!(postgres.import(exported.clone()).unwrap(), 20);

    let mut copied = Vec::new();
    postgres
        .export(None, &mut |record: JobRecord| {
            copied.push(record);
            Ok(())
        })
        .unwrap();
    assert_eq!(copied.len(), exported.len());
    for (copy, original) in copied.iter().zip(&exported) {
        if original.job.state == JobState::Processing {
            assert_eq!(copy.job.state, JobState::Pending);
            assert_eq!(copy.job.attempts, original.job.attempts - 1);
            assert_eq!(copy.job.worker_id, None);
        } else {
            assert_eq!(copy, original);
        }
    }
    let mut counts = sqlite.counts().unwrap();
    counts.pending += counts.processing;
    counts.processing = 0;
    assert_eq!(postgres.counts().unwrap(), counts);
}
