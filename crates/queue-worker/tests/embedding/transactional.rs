//! Enqueueing inside the application's own SQLite transaction.

use std::time::Duration;

use queue_core::{JobSpec, JobState};
use queue_store::rusqlite::{Connection, TransactionBehavior, params};
use queue_store::{Store, sqlite};
use queue_worker::{JobContext, WorkerPool};

use crate::support::{Queue, queue};

/// The application's own connection on the queue's file, with its table.
fn application(queue: &Queue) -> Connection {
    let conn = Connection::open(&queue.path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
        .unwrap();
    conn
}

fn orders(conn: &Connection) -> i64 {
    conn.query_row("SELECT count(*) FROM orders", [], |row| row.get(0))
        .unwrap()
}

/// A job enqueued in a transaction that commits is stored with the
/// application's row, and a pool runs it.
#[test]
fn a_committed_transaction_stores_the_job_with_the_data() {
    let queue = queue();
    let mut conn = application(&queue);

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("INSERT INTO orders (item) VALUES (?1)", params!["tea"])
        .unwrap();
    let order = tx.last_insert_rowid();
    let spec = JobSpec::typed("ship", &order).unwrap().with_priority(3);
    let ids = sqlite::enqueue_in(&tx, vec![spec]).unwrap();
    // Nothing is visible to the queue before the commit.
    assert_eq!(queue.store.job(&ids[0]).unwrap(), None);
    tx.commit().unwrap();

    assert_eq!(orders(&conn), 1);
    let job = queue.job(&ids[0]);
    assert_eq!((job.state, job.priority), (JobState::Pending, 3));

    let (shipped, received) = crossbeam_channel::unbounded();
    let pool = WorkerPool::builder(queue.shared())
        .typed("ship", move |_ctx: &JobContext, order: i64| {
            let _ = shipped.send(order);
            Ok(())
        })
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();
    pool.join().unwrap();
    assert_eq!(received.try_recv(), Ok(order));
    assert_eq!(queue.job(&ids[0]).state, JobState::Completed);
}

/// A job enqueued in a transaction that rolls back vanishes with the
/// application's row, whether the rollback is explicit or a drop.
#[test]
fn a_rolled_back_transaction_stores_neither_the_job_nor_the_data() {
    let queue = queue();
    let mut conn = application(&queue);

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    tx.execute("INSERT INTO orders (item) VALUES ('coffee')", [])
        .unwrap();
    let rolled_back = sqlite::enqueue_in(&tx, vec![JobSpec::typed("ship", &1).unwrap()]).unwrap();
    tx.rollback().unwrap();

    {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        tx.execute("INSERT INTO orders (item) VALUES ('cocoa')", [])
            .unwrap();
        sqlite::enqueue_in(&tx, vec![JobSpec::typed("ship", &2).unwrap()]).unwrap();
        // Dropped without a commit, as when the application's code fails
        // halfway and returns early.
    }

    assert_eq!(orders(&conn), 0);
    assert_eq!(queue.store.job(&rolled_back[0]).unwrap(), None);
    assert_eq!(queue.store.counts().unwrap().total(), 0);
}

/// Jobs enqueued in a transaction take the queue's configured defaults,
/// read in that transaction.
#[test]
fn a_transactional_enqueue_takes_the_configured_defaults() {
    let queue = queue();
    queue
        .store
        .set_config(queue_core::ConfigKey::MaxRetries, "8")
        .unwrap();
    let mut conn = application(&queue);

    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    let ids = sqlite::enqueue_in(&tx, vec![JobSpec::typed("ship", &3).unwrap()]).unwrap();
    tx.commit().unwrap();
    assert_eq!(queue.job(&ids[0]).max_retries, 8);
}
