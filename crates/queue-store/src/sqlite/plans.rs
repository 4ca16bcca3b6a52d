//! Proof that the statements workers and status commands run stay fast in a
//! queue of a million jobs, without building one.
//!
//! Two checks per statement, both exact where a timing would be noise on a
//! shared machine. Its query plan must search indexes: no scan of the jobs
//! and no sort of them, except an ordered scan that stops at a `LIMIT`.
//! And the work SQLite counts for it (virtual machine steps, which grow
//! with every row read) must stay the same when the queue grows tenfold.
//! Work that does not grow from 2,000 to 20,000 jobs reads a bounded
//! number of rows; at a million, only the index searches remain, each a
//! level or two deeper in its B-tree.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, StatementStatus, params_from_iter};

use super::{jobs, owners, queries, schema};
use crate::clock::MonotonicTime;

/// The time every job is stored around, in milliseconds.
const NOW: i64 = 1_800_000_000_000;
/// How many jobs the worker `w` holds in every queue the tests build.
const RUNNING: i64 = 8;
/// The lease owner of those jobs: `w` in the boot `boot`. Owner 2 is a
/// worker that holds nothing.
const OWNER: i64 = 1;

/// A statement as the store runs it, with arguments that find rows.
struct Hot {
    name: &'static str,
    sql: String,
    params: Vec<Value>,
    /// Plan lines that scan or sort and are allowed here, with the reason.
    allowed: &'static [&'static str],
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

fn int(value: i64) -> Value {
    Value::Integer(value)
}

/// Every statement on the paths that must stay fast: claiming, settling,
/// renewing, releasing and rescuing, and the reads of `status`, `list` and
/// `inspect`.
fn hot_statements() -> Vec<Hot> {
    let boot = MonotonicTime {
        boot_id: "boot".into(),
        millis: 1000,
    };
    let mut hot = vec![
        Hot {
            name: "claim",
            sql: jobs::claim_sql(),
            params: vec![
                int(OWNER),
                int(NOW),
                int(NOW + 30_000),
                int(8),
                text("[]"),
                int(boot.millis + 30_000),
            ],
            // In claim order, stopping at the limit.
            allowed: &["SCAN jobs USING INDEX jobs_claim_order"],
        },
        Hot {
            name: "settle: find the claim",
            sql: jobs::SETTLE_HELD.to_owned(),
            params: vec![text(r#"["running-1", "running-2", "job-5"]"#), text("w")],
            // The batch's reports, each one search of the id index.
            allowed: &["SCAN report VIRTUAL TABLE INDEX 1:"],
        },
        Hot {
            name: "settle: write the end",
            sql: jobs::WRITE_ENDED.to_owned(),
            params: vec![
                int(1),
                text("completed"),
                Value::Null,
                int(NOW),
                int(0),
                Value::Null,
                Value::Null,
                Value::Null,
                int(NOW),
            ],
            allowed: &[],
        },
        Hot {
            name: "record output",
            sql: jobs::RECORD_OUTPUT.to_owned(),
            params: vec![
                text("running-1"),
                text("w"),
                int(1),
                int(NOW),
                text("so far"),
                Value::Null,
            ],
            allowed: &[],
        },
        Hot {
            name: "renew",
            sql: jobs::RENEW.to_owned(),
            params: vec![text("w"), int(NOW), int(OWNER), int(31_000)],
            allowed: &[],
        },
        Hot {
            name: "release",
            sql: jobs::RELEASE.to_owned(),
            params: vec![text("running-1"), text("w"), int(NOW)],
            allowed: &[],
        },
        Hot {
            name: "rescue",
            sql: jobs::RESCUE.to_owned(),
            // Every held lease has lapsed, so every running job is read.
            params: vec![int(NOW), text("boot"), int(40_000)],
            allowed: &[],
        },
        Hot {
            name: "find a lease owner",
            sql: owners::FIND.to_owned(),
            params: vec![text("w"), text(&boot.boot_id)],
            allowed: &[],
        },
        Hot {
            name: "prune lease owners",
            sql: owners::PRUNE.to_owned(),
            params: vec![],
            // Owners are one per worker and boot, not per job.
            allowed: &["SCAN lease_owners"],
        },
        Hot {
            name: "revive",
            sql: jobs::REVIVE.to_owned(),
            params: vec![text("job-9"), int(NOW)],
            allowed: &[],
        },
        Hot {
            name: "cancel",
            sql: jobs::CANCEL.to_owned(),
            params: vec![text("job-10"), int(NOW)],
            allowed: &[],
        },
        Hot {
            name: "job",
            sql: queries::job_sql(),
            params: vec![text("job-5")],
            allowed: &[],
        },
        Hot {
            name: "attempts",
            sql: queries::ATTEMPTS.to_owned(),
            params: vec![text("running-1")],
            // The attempts of one job, put in order.
            allowed: &["USE TEMP B-TREE FOR ORDER BY"],
        },
        Hot {
            name: "counts",
            sql: queries::COUNTS.to_owned(),
            params: vec![],
            // Five rows, one per state.
            allowed: &["SCAN state_counts"],
        },
        Hot {
            name: "list",
            sql: queries::list_sql(None),
            params: vec![Value::Null, int(50), int(0)],
            // Newest first by row id, stopping at the limit.
            allowed: &["SCAN jobs"],
        },
        Hot {
            name: "finished per minute",
            sql: queries::FINISHED_PER_MINUTE.to_owned(),
            // The last few milliseconds: a window of fixed size.
            params: vec![int(NOW - 5)],
            // A handful of groups, put in order.
            allowed: &["USE TEMP B-TREE FOR GROUP BY"],
        },
        Hot {
            name: "oldest pending",
            sql: queries::oldest_pending_sql(),
            params: vec![],
            allowed: &[],
        },
    ];
    for state in queue_core::JobState::ALL {
        hot.push(Hot {
            name: state.as_str(),
            sql: queries::list_sql(Some(state)),
            params: vec![Value::Null, int(50), int(0)],
            allowed: &[],
        });
    }
    hot
}

/// A queue of `n` jobs in every state (a tenth pending and due, a tenth
/// failed and waiting to retry, most completed, some dead, in three
/// priorities), with [`RUNNING`] jobs held by worker `w` (owner [`OWNER`]),
/// each with one attempt recorded. The held jobs come first, so the first has row id 1.
fn queue(dir: &Path, n: i64) -> Connection {
    let path = dir.join(format!("queue-{n}.db"));
    let mut conn = Connection::open(&path).unwrap();
    schema::prepare(&mut conn, &path, false).unwrap();
    conn.execute(
        "INSERT INTO lease_owners (key, worker_id, boot_id) VALUES (?1, 'w', 'boot'), \
             (?1 + 1, 'gone', 'boot')",
        [OWNER],
    )
    .unwrap();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO jobs (id, kind, command, state, attempts, max_retries, priority, \
             run_at, timeout_secs, created_at, updated_at, started_at, lease_owner, \
             lease_expires_at, lease_deadline_ms) \
         SELECT 'running-' || i, 'shell', 'true', 'processing', 1, 3, 0, ?2, 0, ?2, ?2, ?2, \
             ?3, ?2 + 30000, 31000 \
         FROM n",
        [RUNNING, NOW, OWNER],
    )
    .unwrap();
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO jobs (id, kind, command, state, attempts, max_retries, priority, \
             run_at, timeout_secs, created_at, updated_at, started_at) \
         SELECT 'job-' || i, 'shell', 'true', \
             CASE i % 10 WHEN 0 THEN 'pending' WHEN 1 THEN 'pending' WHEN 2 THEN 'failed' \
                 WHEN 9 THEN 'dead' ELSE 'completed' END, \
             1, 3, i % 3, \
             CASE i % 10 WHEN 2 THEN ?2 + 60000 ELSE ?2 - i END, \
             0, ?2 - i, ?2 - i, ?2 - i \
         FROM n",
        [n, NOW],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO attempts (job_seq, attempt, worker_id, started_at, finished_at, result) \
         SELECT seq, 1, 'w', ?1, ?1, 'failed' FROM jobs \
         WHERE state = 'processing' OR id = 'job-5'",
        [NOW],
    )
    .unwrap();
    conn
}

fn plan(conn: &Connection, hot: &Hot) -> Vec<String> {
    let mut statement = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", hot.sql))
        .unwrap();
    statement
        .query_map(params_from_iter(&hot.params), |row| row.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Runs the statement in a transaction that is rolled back and returns
/// how many virtual machine steps it took.
fn steps(conn: &Connection, hot: &Hot) -> i32 {
    conn.execute_batch("BEGIN").unwrap();
    let mut statement = conn.prepare(&hot.sql).unwrap();
    let mut rows = statement.query(params_from_iter(&hot.params)).unwrap();
    let mut returned = 0;
    while rows.next().unwrap().is_some() {
        returned += 1;
    }
    drop(rows);
    let steps = statement.get_status(StatementStatus::VmStep);
    drop(statement);
    let changed = conn.changes();
    conn.execute_batch("ROLLBACK").unwrap();
    assert!(
        returned > 0 || changed > 0,
        "{}: the arguments found no rows, so the check proves nothing",
        hot.name
    );
    steps
}

#[test]
fn hot_statements_search_indexes_and_never_sort_the_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let conn = queue(dir.path(), 2000);

    for hot in hot_statements() {
        let plan = plan(&conn, &hot);
        for line in &plan {
            let scans_or_sorts = (line.starts_with("SCAN ") && !line.contains("json_each"))
                || line.contains("TEMP B-TREE");
            assert!(
                !scans_or_sorts || hot.allowed.contains(&line.as_str()),
                "{}: the plan {plan:?} has {line:?}",
                hot.name
            );
        }
    }
}

#[test]
fn hot_statements_do_the_same_work_in_a_queue_ten_times_larger() {
    let dir = tempfile::tempdir().unwrap();
    let small = queue(dir.path(), 2000);
    let large = queue(dir.path(), 20_000);

    for hot in hot_statements() {
        let (few, many) = (steps(&small, &hot), steps(&large, &hot));
        // A statement that read rows in proportion to the table would take
        // about ten times the steps; a little slack covers deeper B-trees.
        assert!(
            many <= few + few / 4 + 20,
            "{}: {few} steps on 2,000 jobs, {many} on 20,000",
            hot.name
        );
    }
}
