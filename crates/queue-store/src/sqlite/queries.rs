//! Reads: single jobs, pages of jobs, attempt timelines and counts.

use queue_core::{AttemptRecord, Job, JobId, JobState, StateCounts};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{JOB_COLUMNS, attempt_from_row, job_from_row};
use crate::{JobQuery, Result, StoreError};

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
        let state: JobState = state
            .parse()
            .map_err(|err| StoreError::Corrupt(format!("{err}")))?;
        let n: i64 = row.get(1)?;
        *counts.of_mut(state) = u64::try_from(n).unwrap_or(0);
    }
    Ok(counts)
}
