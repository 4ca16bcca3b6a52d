//! The machine's limits: the store's claim and complete statements run
//! straight on rusqlite, and bare `sh -c true` spawns.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};

/// The claim statement of the SQLite store, writing the same columns, less
/// its kind filter, its `INDEXED BY` (SQLite picks the same index unasked),
/// the search for the worker's lease owner number (here always 1) and the
/// columns it returns beside `seq`.
const CLAIM: &str = "UPDATE OR FAIL jobs SET state = 'processing', attempts = attempts + 1, \
         lease_owner = ?1, lease_expires_at = ?2 + 300000, lease_deadline_ms = ?2 + 300000, \
         finished_at = NULL, stdout = NULL, stderr = NULL, updated_at = ?2, \
         started_at = CASE WHEN started_at >= ?2 THEN started_at + 1 ELSE ?2 END \
     WHERE seq IN (SELECT seq FROM jobs WHERE state IN ('pending', 'failed') AND run_at <= ?2 \
         ORDER BY priority DESC, run_at, seq LIMIT +?3) \
     RETURNING seq";

/// The store's completion write, without the attempt record.
const COMPLETE: &str = "UPDATE OR FAIL jobs SET state = 'completed', finished_at = ?2, \
         exit_code = 0, lease_owner = NULL, lease_expires_at = NULL, lease_deadline_ms = NULL, \
         updated_at = ?2 \
     WHERE seq = ?1 AND state = 'processing'";

/// Gives every claimed job back as the store's release does: due now, so
/// behind every job that was already waiting.
const RELEASE: &str = "UPDATE jobs SET state = 'pending', attempts = attempts - 1, \
         run_at = ?1, lease_owner = NULL, lease_expires_at = NULL, lease_deadline_ms = NULL, \
         updated_at = ?1 \
     WHERE state = 'processing'";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A connection to the queue at `path` set up as the store sets up its own:
/// write-ahead log (the file's mode already), synchronous `NORMAL`,
/// temporary storage in memory.
pub fn open(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open the raw connection");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("set the busy timeout");
    conn.pragma_update(None, "synchronous", "normal")
        .expect("set synchronous");
    conn.pragma_update(None, "temp_store", "MEMORY")
        .expect("set temp_store");
    conn
}

/// Claims up to `batch` due jobs in one immediate transaction with the
/// store's claim statement, and returns their sequence numbers.
pub fn claim_once(conn: &mut Connection, batch: usize) -> Vec<i64> {
    let batch = i64::try_from(batch).expect("a small batch");
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .expect("begin");
    let claimed: Vec<i64> = {
        let mut claim = tx.prepare_cached(CLAIM).expect("prepare the claim");
        let rows = claim
            .query_map(params![1, now_ms(), batch], |row| row.get(0))
            .expect("claim");
        rows.collect::<Result<_, _>>().expect("read the claim")
    };
    tx.commit().expect("commit the claim");
    claimed
}

/// Puts every claimed job back to pending.
pub fn release_all(conn: &Connection) {
    conn.execute(RELEASE, [now_ms()]).expect("release");
}

/// Claims and completes every due job of the queue at `path`, `batch` at a
/// time, each claim and each batch of completions in its own immediate
/// transaction, as a worker would. Returns the jobs done and the time taken.
pub fn claim_complete_loop(path: &Path, batch: usize) -> (usize, Duration) {
    let mut conn = open(path);
    let started = Instant::now();
    let mut done = 0;
    loop {
        let claimed = claim_once(&mut conn, batch);
        if claimed.is_empty() {
            break;
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .expect("begin");
        {
            let mut complete = tx.prepare_cached(COMPLETE).expect("prepare the completion");
            let now = now_ms();
            for seq in &claimed {
                complete.execute(params![seq, now]).expect("complete");
            }
        }
        tx.commit().expect("commit the completions");
        done += claimed.len();
    }
    (done, started.elapsed())
}

/// Spawns `sh -c true` `count` times spread over `threads` threads and waits
/// for each. Returns the time taken.
pub fn spawn_loop(count: usize, threads: usize) -> Duration {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let share = count / threads + usize::from(thread < count % threads);
            scope.spawn(move || {
                for _ in 0..share {
                    let status = std::process::Command::new("sh")
                        .args(["-c", "true"])
                        .status()
                        .expect("spawn sh");
                    assert!(status.success());
                }
            });
        }
    });
    started.elapsed()
}
