//! Reads: single jobs, pages of jobs, attempt timelines, counts and exports.

use queue_core::{AttemptRecord, Job, JobId, JobState, StateCounts, Timestamp};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{JOB_COLUMNS, attempt_from_row, job_from_row};
use crate::millis::to_millis;
use crate::store::fold_minutes;
use crate::{ExportSink, FinishedMinute, JobQuery, JobRecord, Result, StoreError};

/// One job by id.
pub(super) fn job_sql() -> String {
    format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1")
}

pub(super) fn job(conn: &Connection, id: &JobId) -> Result<Option<Job>> {
    let mut statement = conn.prepare_cached(&job_sql())?;
    let row = statement
        .query_row([id.as_str()], |row| Ok(job_from_row(row, 0)))
        .optional()?;
    row.transpose()
}

/// One job's attempts, oldest first.
pub(super) const ATTEMPTS: &str = "SELECT a.attempt, a.worker_id, a.started_at, \
         a.finished_at, a.result, a.exit_code, a.error \
     FROM attempts a JOIN jobs j ON j.seq = a.job_seq \
     WHERE j.id = ?1 ORDER BY a.rowid";

pub(super) fn attempts(conn: &Connection, id: &JobId) -> Result<Vec<AttemptRecord>> {
    let mut statement = conn.prepare_cached(ATTEMPTS)?;
    let mut rows = statement.query([id.as_str()])?;
    let mut attempts = Vec::new();
    while let Some(row) = rows.next()? {
        attempts.push(attempt_from_row(row)?);
    }
    Ok(attempts)
}

/// A page of jobs in one state, or of all jobs.
///
/// Each state has a statement of its own that reads an index holding its
/// jobs in the order they are listed, so a page reads only its own rows
/// (and the ones it skips). A state bound as a parameter would hide from
/// the planner which partial index applies, and it would scan the table.
/// Pending and failed jobs repeat the condition of `jobs_waiting_order` so
/// that the partial index is seen to apply, and name it because without
/// statistics SQLite would rather search `jobs_state_updated` and sort.
///
/// Known limitation: a text filter is checked row by row in that order, so
/// a page of rare matches reads many rows, and a deep page reads the rows
/// it skips; both are for people browsing, not for workers.
pub(super) fn list_sql(state: Option<JobState>) -> String {
    let (index, filter, order) = match state {
        Some(state @ (JobState::Pending | JobState::Failed)) => (
            "INDEXED BY jobs_waiting_order",
            format!("state IN ('pending', 'failed') AND state = '{state}'"),
            "priority DESC, run_at, seq",
        ),
        Some(state) => (
            "",
            format!("state = '{state}'"),
            "updated_at DESC, seq DESC",
        ),
        None => ("", "1".to_owned(), "seq DESC"),
    };
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs {index} WHERE {filter} \
           AND (?1 IS NULL OR instr(id, ?1) > 0 OR instr(coalesce(command, ''), ?1) > 0) \
         ORDER BY {order} LIMIT ?2 OFFSET ?3"
    )
}

pub(super) fn list(conn: &Connection, query: &JobQuery) -> Result<Vec<Job>> {
    let mut statement = conn.prepare_cached(&list_sql(query.state))?;
    let text = query.text.as_deref().filter(|text| !text.is_empty());
    let mut rows = statement.query(params![
        text,
        i64::try_from(query.limit).unwrap_or(i64::MAX),
        i64::try_from(query.offset).unwrap_or(i64::MAX),
    ])?;
    let mut jobs = Vec::new();
    while let Some(row) = rows.next()? {
        jobs.push(job_from_row(row, 0)?);
    }
    Ok(jobs)
}

/// The count of every state, kept by triggers.
pub(super) const COUNTS: &str = "SELECT state, n FROM state_counts";

pub(super) fn counts(conn: &Connection) -> Result<StateCounts> {
    let mut statement = conn.prepare_cached(COUNTS)?;
    let mut rows = statement.query([])?;
    let mut counts = StateCounts::default();
    while let Some(row) = rows.next()? {
        let state: String = row.get(0)?;
        let state = crate::error::stored_state(&state)?;
        let n: i64 = row.get(1)?;
        *counts.of_mut(state) = u64::try_from(n).unwrap_or(0);
    }
    Ok(counts)
}

/// Finished jobs per state and minute since `?1`: a range of
/// `jobs_state_updated` for each of the two finished states.
pub(super) const FINISHED_PER_MINUTE: &str = "SELECT state, updated_at / 60000, count(*) \
     FROM jobs WHERE state IN ('completed', 'dead') AND updated_at >= ?1 \
     GROUP BY state, updated_at / 60000";

pub(super) fn finished_per_minute(
    conn: &Connection,
    since: Timestamp,
) -> Result<Vec<FinishedMinute>> {
    let mut statement = conn.prepare_cached(FINISHED_PER_MINUTE)?;
    let mut rows = statement.query([to_millis(since)])?;
    let mut counted = Vec::new();
    while let Some(row) = rows.next()? {
        let state: String = row.get(0)?;
        let state = crate::error::stored_state(&state)?;
        let n: i64 = row.get(2)?;
        counted.push((state, row.get(1)?, u64::try_from(n).unwrap_or(0)));
    }
    fold_minutes(counted)
}

/// The pending job that changed least recently: the first entry of
/// `jobs_state_updated` for the state, whose entries end with the row id.
pub(super) fn oldest_pending_sql() -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'pending' \
         ORDER BY updated_at, seq LIMIT 1"
    )
}

pub(super) fn oldest_pending(conn: &Connection) -> Result<Option<Job>> {
    let mut statement = conn.prepare_cached(&oldest_pending_sql())?;
    let row = statement
        .query_row([], |row| Ok(job_from_row(row, 0)))
        .optional()?;
    row.transpose()
}

/// Streams jobs and their timelines, merging two cursors ordered by job, so
/// that neither whole table is ever held in memory. The caller's transaction
/// makes both read one snapshot.
pub(super) fn export(
    conn: &Connection,
    state: Option<JobState>,
    sink: &mut ExportSink<'_>,
) -> Result<u64> {
    let state = state.map(JobState::as_str);
    let sql =
        format!("SELECT seq, {JOB_COLUMNS} FROM jobs WHERE ?1 IS NULL OR state = ?1 ORDER BY seq");
    let mut jobs_statement = conn.prepare(&sql)?;
    let mut attempts_statement = conn.prepare(
        "SELECT a.job_seq, a.attempt, a.worker_id, a.started_at, a.finished_at, a.result, \
                a.exit_code, a.error \
         FROM attempts a JOIN jobs j ON j.seq = a.job_seq \
         WHERE ?1 IS NULL OR j.state = ?1 \
         ORDER BY a.job_seq, a.rowid",
    )?;
    let mut jobs = jobs_statement.query([state])?;
    let mut attempts = attempts_statement.query([state])?;
    let mut next_attempt = next_attempt_row(&mut attempts)?;
    let mut exported = 0;
    while let Some(row) = jobs.next()? {
        let seq: i64 = row.get(0)?;
        let job = job_from_row(row, 1)?;
        let mut history = Vec::new();
        while let Some((job_seq, attempt)) = next_attempt.take() {
            if job_seq > seq {
                next_attempt = Some((job_seq, attempt));
                break;
            }
            if job_seq == seq {
                history.push(attempt);
            }
            next_attempt = next_attempt_row(&mut attempts)?;
        }
        sink(JobRecord { job, history }).map_err(StoreError::Sink)?;
        exported += 1;
    }
    Ok(exported)
}

fn next_attempt_row(rows: &mut rusqlite::Rows<'_>) -> Result<Option<(i64, AttemptRecord)>> {
    match rows.next()? {
        Some(row) => {
            let attempt = AttemptRecord {
                attempt: row.get(1)?,
                worker_id: queue_core::WorkerId::from_stored(row.get::<_, String>(2)?),
                started_at: super::rows::from_millis(row.get(3)?)?,
                finished_at: super::rows::from_millis(row.get(4)?)?,
                result: row.get(5)?,
                exit_code: row.get(6)?,
                error: row.get(7)?,
            };
            Ok(Some((row.get(0)?, attempt)))
        }
        None => Ok(None),
    }
}
