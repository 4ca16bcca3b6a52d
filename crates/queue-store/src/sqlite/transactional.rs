//! Enqueueing inside an application's own SQLite transaction.
//!
//! An application that keeps its data in the same file as the queue can
//! store a job in the transaction that changes its data: the job exists if
//! and only if that transaction commits. This is the outbox pattern without
//! an outbox, and it is the one place where a connection the queue did not
//! open writes the queue's tables.

use queue_core::{JobId, JobSpec};
use rusqlite::Transaction;

use super::{jobs, registry, schema};
use crate::Result;

/// Stores `specs` inside the application's transaction `tx` and returns
/// their ids in order. The jobs become visible to workers when `tx` commits,
/// and vanish with it if it rolls back.
///
/// `tx` must be open on a queue database at this build's schema version:
/// either the application opens its connection on the queue's file, or the
/// queue lives in the application's own database file (see
/// [`SqliteStoreBuilder::allow_application_tables`]). Either way, open the
/// file once with [`SqliteStore`] first, so that its tables exist; a database
/// without them is refused with [`StoreError::NotAQueue`].
///
/// As with [`Store::enqueue`], unset options take the queue's configured
/// defaults (read in `tx`), and if any spec is invalid or its id is taken,
/// nothing is stored and `tx` stays usable: the caller decides whether to
/// roll back. The due time of a job without `run_at` is counted from the
/// system clock.
///
/// Workers poll, so they find the jobs within their poll interval after the
/// commit; an application running a pool in-process can wake it at once
/// (`Client::wake` in the `queue-worker` crate).
///
/// Give the connection a busy timeout, as the queue's own connections have,
/// and begin transactions that write with [`TransactionBehavior::Immediate`]:
/// a deferred transaction that reads first and then writes cannot wait for a
/// worker's write to finish and fails with "database is locked" instead.
///
/// ```
/// use std::time::Duration;
/// use queue_core::{JobSpec, JobState};
/// use queue_store::rusqlite::{Connection, TransactionBehavior};
/// use queue_store::{SqliteStore, Store, sqlite};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("app.db");
/// let store = SqliteStore::open(&path)?;
///
/// let mut conn = Connection::open(&path)?;
/// conn.busy_timeout(Duration::from_secs(5))?;
/// conn.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT)")?;
///
/// let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
/// tx.execute("INSERT INTO orders (item) VALUES ('tea')", [])?;
/// let spec = JobSpec::typed("ship", &tx.last_insert_rowid())?;
/// let ids = sqlite::enqueue_in(&tx, vec![spec])?;
/// tx.commit()?;
///
/// assert_eq!(store.job(&ids[0])?.unwrap().state, JobState::Pending);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`SqliteStoreBuilder::allow_application_tables`]:
///     super::SqliteStoreBuilder::allow_application_tables
/// [`SqliteStore`]: super::SqliteStore
/// [`StoreError::NotAQueue`]: crate::StoreError::NotAQueue
/// [`Store::enqueue`]: crate::Store::enqueue
/// [`TransactionBehavior::Immediate`]: rusqlite::TransactionBehavior::Immediate
pub fn enqueue_in(tx: &Transaction<'_>, specs: Vec<JobSpec>) -> Result<Vec<JobId>> {
    schema::check_current(tx)?;
    let defaults = registry::config(tx)?.job_defaults();
    let jobs = super::resolve_all(specs, &defaults, chrono::Utc::now())?;
    // A savepoint keeps a batch all or nothing inside the caller's
    // transaction: a duplicate id halfway through must not leave the first
    // half behind in a transaction the caller may still commit.
    tx.execute_batch("SAVEPOINT queue_enqueue_in")?;
    match jobs::insert(tx, &jobs) {
        Ok(ids) => {
            tx.execute_batch("RELEASE queue_enqueue_in")?;
            Ok(ids)
        }
        Err(err) => {
            tx.execute_batch("ROLLBACK TO queue_enqueue_in; RELEASE queue_enqueue_in")?;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use queue_core::JobSpec;
    use rusqlite::Connection;

    use super::*;
    use crate::{SqliteStore, Store, StoreError};

    fn spec(id: &str) -> JobSpec {
        JobSpec::new("noop", serde_json::Value::Null).with_id(JobId::new(id).unwrap())
    }

    #[test]
    fn a_failed_batch_leaves_the_callers_transaction_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queue.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut conn = Connection::open(&path).unwrap();

        let tx = conn.transaction().unwrap();
        enqueue_in(&tx, vec![spec("first")]).unwrap();
        let err = enqueue_in(&tx, vec![spec("second"), spec("first")]).unwrap_err();
        assert!(
            matches!(err, StoreError::Duplicate(ref id) if id.as_str() == "first"),
            "{err}"
        );
        tx.commit().unwrap();

        assert!(store.job(&JobId::new("first").unwrap()).unwrap().is_some());
        assert!(store.job(&JobId::new("second").unwrap()).unwrap().is_none());
    }

    #[test]
    fn a_database_without_queue_tables_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("app.db")).unwrap();
        conn.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
            .unwrap();

        let tx = conn.transaction().unwrap();
        let err = enqueue_in(&tx, vec![spec("a")]).unwrap_err();
        assert!(matches!(err, StoreError::NotAQueue { .. }), "{err}");
        assert!(
            err.to_string().contains("open it once with SqliteStore"),
            "{err}"
        );
    }

    #[test]
    fn an_application_database_can_host_the_queue_when_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
            .unwrap();

        let refused = SqliteStore::open(&path).unwrap_err();
        assert!(
            refused.to_string().contains("open it as a shared file"),
            "{refused}"
        );

        let store = SqliteStore::builder(&path)
            .allow_application_tables(true)
            .open()
            .unwrap();
        let mut conn = Connection::open(&path).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute("INSERT INTO orders (id) VALUES (1)", [])
            .unwrap();
        let ids = enqueue_in(&tx, vec![spec("ship-1")]).unwrap();
        tx.commit().unwrap();
        assert!(store.job(&ids[0]).unwrap().is_some());

        // Once marked, the file opens as a queue without the option.
        SqliteStore::open(&path).unwrap();
    }

    #[test]
    fn an_application_table_with_a_queue_table_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE jobs (id INTEGER PRIMARY KEY)")
            .unwrap();

        let err = SqliteStore::builder(&path)
            .allow_application_tables(true)
            .open()
            .unwrap_err();
        assert!(
            err.to_string().contains("already has a table named jobs"),
            "{err}"
        );
    }
}
