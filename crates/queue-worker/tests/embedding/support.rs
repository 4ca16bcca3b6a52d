//! Shared set-up: a fresh queue per test, pinned clocks, and waiting for a
//! condition with a deadline.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use queue_core::{Job, JobId, JobState, Timestamp};
use queue_store::{ManualClock, SqliteStore, Store};
use tempfile::TempDir;

/// How long any condition in these tests may take before the test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A queue in a temporary directory, removed when dropped.
pub(crate) struct Queue {
    pub(crate) store: Arc<SqliteStore>,
    pub(crate) path: PathBuf,
    _dir: TempDir,
}

/// A queue on the system clock.
pub(crate) fn queue() -> Queue {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("queue.db");
    let store = Arc::new(SqliteStore::open(&path).expect("open the queue"));
    Queue {
        store,
        path,
        _dir: dir,
    }
}

/// The time a pinned queue's clock shows.
pub(crate) fn pinned_now() -> Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// A queue whose clock stands still at [`pinned_now`], so that retry times
/// can be checked exactly.
pub(crate) fn pinned_queue() -> Queue {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("queue.db");
    let store = SqliteStore::builder(&path)
        .clock(Arc::new(ManualClock::new(pinned_now())))
        .open()
        .expect("open the queue");
    Queue {
        store: Arc::new(store),
        path,
        _dir: dir,
    }
}

impl Queue {
    /// The store as the pool and client take it.
    pub(crate) fn shared(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The job, which must exist.
    pub(crate) fn job(&self, id: &JobId) -> Job {
        self.store
            .job(id)
            .expect("read the job")
            .expect("the job exists")
    }

    /// Waits until the job is in `state`; fails the test at the deadline.
    pub(crate) fn wait_for_state(&self, id: &JobId, state: JobState) -> Job {
        let mut job = self.job(id);
        wait_until(|| {
            job = self.job(id);
            job.state == state
        });
        job
    }
}

/// Polls `condition` until it holds; fails the test after [`DEADLINE`].
pub(crate) fn wait_until(mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + DEADLINE;
    while !condition() {
        assert!(
            Instant::now() < give_up,
            "condition not met within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
