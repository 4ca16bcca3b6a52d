//! The store conformance suite run against `SqliteStore`, and the checks that
//! only SQLite has: what opening a file does to files that are not ours.

mod conformance;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use conformance::Harness as _;
use queue_core::{JobSpec, JobState, WorkerId};
use queue_store::{
    ClaimRequest, Clock, ManualClock, SCHEMA_VERSION, SqliteStore, Store, StoreError,
};
use rusqlite::Connection;
use tempfile::TempDir;

/// A fresh queue file in its own temporary directory, on a hand-moved clock.
struct SqliteHarness {
    // Declared first so that the store closes before its directory goes.
    store: SqliteStore,
    clock: Arc<ManualClock>,
    path: PathBuf,
    _dir: TempDir,
}

impl SqliteHarness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        let start = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let store = SqliteStore::builder(&path)
            .clock(clock.clone())
            .open()
            .unwrap();
        Self {
            store,
            clock,
            path,
            _dir: dir,
        }
    }
}

impl conformance::Harness for SqliteHarness {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    fn reopen(&self) -> Box<dyn Store> {
        Box::new(
            SqliteStore::builder(&self.path)
                .clock(self.clock.clone())
                .open()
                .unwrap(),
        )
    }
}

conformance::conformance_tests!(|| Some(SqliteHarness::new()));

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// A directory is not a database file, and the error says to name a file in it.
#[test]
fn opening_a_directory_fails_with_open() {
    let dir = tempfile::tempdir().unwrap();

    let err = SqliteStore::open(dir.path()).unwrap_err();

    assert!(
        matches!(&err, StoreError::Open { path, .. } if path == dir.path()),
        "{err:?}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "created a file"
    );
}

/// A path in a directory that does not exist is refused, not created.
#[test]
fn opening_in_a_missing_directory_fails_with_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("queue.db");

    let err = SqliteStore::open(&path).unwrap_err();

    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(!dir.path().join("missing").exists());
}

/// A path under a regular file, as if it were a directory, is refused naming
/// the file, which is left as it was.
#[test]
fn opening_under_a_regular_file_fails_with_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "not a directory\n").unwrap();

    let err = SqliteStore::open(file.join("queue.db")).unwrap_err();

    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("is not a directory"), "{err}");
    assert_eq!(read(&file), b"not a directory\n");
}

/// A device is not a database file: it is refused before SQLite writes a
/// journal beside it.
#[test]
fn opening_a_device_fails_with_open() {
    let err = SqliteStore::open("/dev/null").unwrap_err();

    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// A file that is not SQLite is refused as not a queue and left byte for byte.
#[test]
fn text_file_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "shopping list: milk, eggs, bread\n".repeat(40)).unwrap();
    let before = read(&path);

    let err = SqliteStore::open(&path).unwrap_err();

    assert!(
        matches!(&err, StoreError::NotAQueue { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert_eq!(read(&path), before);
}

/// A queue written by a newer queuectl is refused with both versions and not touched.
#[test]
fn newer_schema_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    let before = read(&path);

    let err = SqliteStore::open(&path).unwrap_err();

    assert!(
        matches!(err, StoreError::TooNew { found, supported, .. }
            if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
    assert_eq!(read(&path), before);
}

/// Another application's SQLite database is refused and not touched.
#[test]
fn database_of_another_application_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contacts.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ann');")
        .unwrap();
    drop(conn);
    let before = read(&path);

    let err = SqliteStore::open(&path).unwrap_err();

    assert!(matches!(err, StoreError::NotAQueue { .. }), "{err:?}");
    assert_eq!(read(&path), before);
}

/// Opening an existing queue, even while it is open, keeps its jobs and schema.
#[test]
fn opening_twice_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let first = SqliteStore::open(&path).unwrap();
    let ids = first.enqueue(vec![JobSpec::shell("true")]).unwrap();

    let second = SqliteStore::open(&path).unwrap();
    drop(first);
    let third = SqliteStore::open(&path).unwrap();

    for store in [&second, &third] {
        assert_eq!(
            store.job(&ids[0]).unwrap().unwrap().state,
            JobState::Pending
        );
        assert_eq!(store.counts().unwrap().pending, 1);
    }
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

/// The file is left in write-ahead-log mode, so readers never block the writer.
#[test]
fn journal_mode_is_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    drop(SqliteStore::open(&path).unwrap());

    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();

    assert_eq!(mode, "wal");
}

/// A setting written by a newer queuectl, under a key this one does not know,
/// is skipped rather than failing every read of the settings.
#[test]
fn settings_of_unknown_keys_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.db");
    let store = SqliteStore::open(&path).unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO config (key, value) VALUES ('future-knob', 'on')",
        [],
    )
    .unwrap();

    assert_eq!(store.config().unwrap(), queue_core::QueueConfig::default());
}

/// Puts `worker` in the registry, as a starting worker does.
fn register(store: &SqliteStore, worker: &WorkerId) {
    let now = store.now();
    store
        .register_worker(&queue_store::WorkerRecord {
            id: worker.clone(),
            host: "host".into(),
            pid: std::process::id(),
            slots: 1,
            running: 0,
            started_at: now,
            heartbeat_at: now,
            stop_requested: false,
        })
        .unwrap();
}

/// How many lease owners the file holds.
fn lease_owner_count(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM lease_owners", [], |row| row.get(0))
        .unwrap()
}

/// A registered worker's wake source fires soon after another process's
/// handle enqueues, and stays quiet when nothing is enqueued.
#[cfg(target_os = "linux")]
#[test]
fn enqueue_wakes_a_registered_worker() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("queue.db");
    let store = SqliteStore::open(&path).unwrap();
    let worker = queue_core::WorkerId::generate("host", std::process::id());
    let mut source = store
        .wake_source(&worker)
        .unwrap()
        .expect("sqlite has wake-ups");
    register(&store, &worker);
    assert!(
        !source.wait(Duration::from_millis(100)).unwrap(),
        "woke with nothing enqueued"
    );

    let other = SqliteStore::open(&path).unwrap();
    other.enqueue(vec![JobSpec::shell("true")]).unwrap();
    other.enqueue(vec![JobSpec::shell("true")]).unwrap();

    assert!(
        source.wait(Duration::from_secs(5)).unwrap(),
        "no wake-up within 5 s"
    );
    assert!(
        !source.wait(Duration::from_millis(100)).unwrap(),
        "one wake-up answers every enqueue before it"
    );
}

/// A store on a fresh file whose clock the test moves, and the job `j`
/// claimed by worker `w` for 30 s.
fn claimed_job() -> (SqliteHarness, queue_core::JobId, WorkerId) {
    let harness = SqliteHarness::new();
    let id = queue_core::JobId::new("j").unwrap();
    let worker = WorkerId::from_stored("w");
    harness
        .store
        .enqueue(vec![JobSpec::shell("true").with_id(id.clone())])
        .unwrap();
    let request = ClaimRequest {
        worker: &worker,
        limit: 1,
        lease: Duration::from_secs(30),
        kinds: &[],
    };
    assert_eq!(harness.store.claim(&request).unwrap().len(), 1);
    (harness, id, worker)
}

/// The wall clock stepping forward a day does not expire a lease that is
/// still running on the monotonic clock; the lease lapses when 30 s have
/// passed on that clock.
#[test]
fn wall_clock_jump_forward_does_not_expire_a_live_lease() {
    let (h, id, worker) = claimed_job();

    h.clock.set(h.clock.now() + chrono::Duration::days(1));

    assert!(h.store.rescue_expired().unwrap().is_empty());
    assert_eq!(
        h.store
            .renew_leases(&worker, Duration::from_secs(30))
            .unwrap(),
        std::slice::from_ref(&id)
    );
    h.clock.advance(Duration::from_secs(30));
    assert!(h.store.rescue_expired().unwrap().is_empty());
    h.clock.advance(Duration::from_millis(1));
    assert_eq!(h.store.rescue_expired().unwrap(), [id]);
}

/// The wall clock stepping back a day does not keep the lease of a worker
/// that stopped renewing: it lapses after 30 s on the monotonic clock.
#[test]
fn wall_clock_jump_back_does_not_keep_a_dead_lease() {
    let (h, id, _) = claimed_job();

    h.clock.set(h.clock.now() - chrono::Duration::days(1));
    h.clock.advance(Duration::from_secs(31));

    assert_eq!(h.store.rescue_expired().unwrap(), std::slice::from_ref(&id));
    let job = h.store.job(&id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.last_error.unwrap_or_default().contains("worker lost"));
}

/// A lease taken before the machine restarted has lapsed, however far its
/// deadline is from the new boot's clock.
#[test]
fn lease_from_a_previous_boot_has_lapsed() {
    let (h, id, worker) = claimed_job();

    h.clock.reboot();

    assert_eq!(h.store.rescue_expired().unwrap(), [id]);
    assert!(
        h.store
            .renew_leases(&worker, Duration::from_secs(30))
            .unwrap()
            .is_empty()
    );
}

/// A lease written without a boot, as by a worker built before leases moved
/// to the monotonic clock, lapses by the wall clock.
#[test]
fn lease_without_a_boot_lapses_by_the_wall_clock() {
    let (h, id, _) = claimed_job();
    let conn = Connection::open(&h.path).unwrap();
    conn.execute_batch(
        "UPDATE lease_owners SET boot_id = NULL; UPDATE jobs SET lease_deadline_ms = NULL;",
    )
    .unwrap();

    h.clock.advance(Duration::from_secs(30));
    assert!(h.store.rescue_expired().unwrap().is_empty());
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.store.rescue_expired().unwrap(), [id]);
}

/// A registered worker keeps its lease owner while it idles, so its empty
/// claims find the owner instead of making it again after every rescue;
/// once it is gone from the registry, the next rescue deletes the owner.
#[test]
fn an_idle_registered_worker_keeps_its_lease_owner() {
    let h = SqliteHarness::new();
    let worker = WorkerId::from_stored("idle");
    register(&h.store, &worker);
    let request = ClaimRequest {
        worker: &worker,
        limit: 1,
        lease: Duration::from_secs(30),
        kinds: &[],
    };
    let conn = Connection::open(&h.path).unwrap();
    let owners = || lease_owner_count(&conn);
    assert!(h.store.claim(&request).unwrap().is_empty());
    assert!(h.store.rescue_expired().unwrap().is_empty());
    assert_eq!(owners(), 1, "a registered worker keeps its owner");
    assert!(h.store.claim(&request).unwrap().is_empty());
    assert_eq!(owners(), 1, "an empty claim makes no second owner");

    h.store.unregister_worker(&worker).unwrap();
    h.store.rescue_expired().unwrap();
    assert_eq!(owners(), 0);
}

/// A worker's lease owner outlives its jobs only until the next rescue, so
/// the owners stay as few as the workers holding jobs.
#[test]
fn rescue_deletes_lease_owners_that_hold_no_job() {
    let (h, id, worker) = claimed_job();
    let conn = Connection::open(&h.path).unwrap();
    let owners = || lease_owner_count(&conn);
    assert_eq!(owners(), 1);
    assert!(h.store.rescue_expired().unwrap().is_empty());
    assert_eq!(owners(), 1, "a worker holding a job keeps its owner");

    let job = h.store.job(&id).unwrap().unwrap();
    let report = queue_core::AttemptReport {
        job_id: id.clone(),
        attempt: job.attempts,
        outcome: queue_core::AttemptOutcome::Succeeded,
        exit_code: Some(0),
        stdout: None,
        stderr: None,
        started_at: job.started_at.unwrap(),
        finished_at: h.clock.now(),
    };
    h.store.settle(&worker, &[report]).unwrap();
    h.store.rescue_expired().unwrap();
    assert_eq!(owners(), 0);
}

/// Undoes, by hand, the migration that made lease owners rows of their own:
/// a running job names its worker and boot in its own row again.
fn undo_lease_owners(conn: &Connection) {
    conn.execute_batch(
        "ALTER TABLE jobs ADD COLUMN worker_id TEXT; \
         ALTER TABLE jobs ADD COLUMN lease_boot TEXT; \
         UPDATE jobs SET \
             worker_id = (SELECT worker_id FROM lease_owners WHERE key = lease_owner), \
             lease_boot = (SELECT boot_id FROM lease_owners WHERE key = lease_owner); \
         DROP INDEX jobs_running_owner; \
         ALTER TABLE jobs DROP COLUMN lease_owner; \
         DROP TABLE lease_owners; \
         CREATE INDEX jobs_running_owner ON jobs (worker_id) WHERE state = 'processing'; \
         PRAGMA user_version = 2;",
    )
    .unwrap();
}

/// A database at schema version 2 is brought up to date on open: its
/// running job is still held by its worker, in its boot, and its lease
/// lapses on the monotonic clock as before.
#[test]
fn schema_version_2_is_migrated_and_its_leases_stay_held() {
    let (h, id, worker) = claimed_job();
    let conn = Connection::open(&h.path).unwrap();
    undo_lease_owners(&conn);
    let stored: (String, Option<String>) = conn
        .query_row("SELECT worker_id, lease_boot FROM jobs", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap();
    assert_eq!(stored.0, worker.as_str());
    assert!(stored.1.is_some());
    // A finished job that still names a worker, as a file edited by hand
    // might, gets no owner: owners are only for running jobs.
    conn.execute(
        "INSERT INTO jobs (id, kind, payload, state, max_retries, priority, run_at, \
             timeout_secs, created_at, updated_at, worker_id, lease_boot) \
         VALUES ('done', 'shell', 'null', 'completed', 3, 0, 0, 0, 0, 0, 'old', 'boot')",
        [],
    )
    .unwrap();
    drop(conn);

    let store = h.reopen();
    let clock = &h.clock;
    let conn = Connection::open(&h.path).unwrap();
    let owners: Vec<String> = conn
        .prepare("SELECT worker_id FROM lease_owners")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(owners, [worker.as_str()]);
    let done = store
        .job(&queue_core::JobId::new("done").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(done.worker_id, None);
    let job = store.job(&id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Processing);
    assert_eq!(job.worker_id.as_ref(), Some(&worker));
    clock.advance(Duration::from_secs(20));
    assert!(store.rescue_expired().unwrap().is_empty());
    assert_eq!(
        store
            .renew_leases(&worker, Duration::from_secs(30))
            .unwrap(),
        std::slice::from_ref(&id)
    );
    clock.advance(Duration::from_secs(31));
    assert_eq!(store.rescue_expired().unwrap(), [id]);
}

/// A database at schema version 1 is brought up to date on open, keeping
/// its jobs, and its running job's wall-clock lease still lapses.
#[test]
fn schema_version_1_is_migrated_and_keeps_its_jobs() {
    let (h, id, _) = claimed_job();
    let conn = Connection::open(&h.path).unwrap();
    // Undo the later migrations by hand.
    undo_lease_owners(&conn);
    conn.execute_batch(
        "CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) \
             WHERE state = 'processing'; \
         DROP INDEX jobs_waiting_order; \
         ALTER TABLE jobs DROP COLUMN lease_boot; \
         ALTER TABLE jobs DROP COLUMN lease_deadline_ms; \
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);

    let store = h.reopen();
    let conn = Connection::open(&h.path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(store.job(&id).unwrap().unwrap().state, JobState::Processing);
    h.clock.advance(Duration::from_secs(31));
    assert_eq!(store.rescue_expired().unwrap(), [id]);
}

/// Many processes opening a new file at once all get the queue: none sees
/// another's half-made schema, and none finds the file busy.
#[test]
fn concurrent_first_opens_all_succeed() {
    const OPENERS: usize = 8;
    for _ in 0..150 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        let start = std::sync::Barrier::new(OPENERS);
        let results: Vec<_> = std::thread::scope(|scope| {
            let openers: Vec<_> = (0..OPENERS)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        SqliteStore::open(&path).map(drop)
                    })
                })
                .collect();
            openers.into_iter().map(|t| t.join().unwrap()).collect()
        });
        for result in results {
            result.unwrap();
        }
    }
}
