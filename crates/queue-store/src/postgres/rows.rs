//! Conversions between PostgreSQL rows and the vocabulary's types.
//!
//! Times are `bigint` milliseconds since the Unix epoch, UTC; counters are
//! `integer`. PostgreSQL has no unsigned types, so every unsigned value is
//! checked on the way in and out instead of wrapping.

use postgres::Row;
use queue_core::{AttemptRecord, Job, JobId, Timestamp, WorkerId};

use crate::{StoreError, WorkerRecord};

/// The job columns every job query selects, in the order [`job_from_row`] reads.
pub(super) const JOB_COLUMNS: &str = "id, kind, command, payload::text, state, attempts, \
     max_retries, priority, run_at, timeout_secs, created_at, updated_at, started_at, \
     finished_at, exit_code, last_error, stdout, stderr, worker_id, lease_expires_at";

/// [`JOB_COLUMNS`] qualified by the table name, for statements that join.
pub(super) const JOBS_DOT_COLUMNS: &str = "jobs.id, jobs.kind, jobs.command, \
     jobs.payload::text, jobs.state, jobs.attempts, jobs.max_retries, jobs.priority, \
     jobs.run_at, jobs.timeout_secs, jobs.created_at, jobs.updated_at, jobs.started_at, \
     jobs.finished_at, jobs.exit_code, jobs.last_error, jobs.stdout, jobs.stderr, \
     jobs.worker_id, jobs.lease_expires_at";

pub(super) use crate::millis::{from_millis, to_millis};

fn opt_time(millis: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    millis.map(from_millis).transpose()
}

/// A stored count that must not be negative.
pub(super) fn unsigned(value: i32, what: &str) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} is {value}")))
}

/// A count bound for an `integer` column.
pub(super) fn to_int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// A count bound for a `bigint` column.
pub(super) fn to_bigint(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Reads a row selected with [`JOB_COLUMNS`], starting at column `first`.
pub(super) fn job_from_row(row: &Row, first: usize) -> Result<Job, StoreError> {
    let col = |n: usize| first + n;
    let id: String = row.try_get(col(0))?;
    let id = JobId::new(id).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let payload: Option<String> = row.try_get(col(3))?;
    let payload = payload
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|err| StoreError::Corrupt(format!("job {id}: payload: {err}")))?;
    let state: String = row.try_get(col(4))?;
    let state = crate::error::stored_state(&state)?;
    let timeout: i64 = row.try_get(col(9))?;
    Ok(Job {
        kind: row.try_get(col(1))?,
        command: row.try_get(col(2))?,
        payload,
        state,
        attempts: unsigned(row.try_get(col(5))?, "attempts")?,
        max_retries: unsigned(row.try_get(col(6))?, "max_retries")?,
        priority: row.try_get(col(7))?,
        run_at: from_millis(row.try_get(col(8))?)?,
        timeout_secs: u64::try_from(timeout)
            .map_err(|_| StoreError::Corrupt(format!("job {id}: timeout is {timeout}")))?,
        created_at: from_millis(row.try_get(col(10))?)?,
        updated_at: from_millis(row.try_get(col(11))?)?,
        started_at: opt_time(row.try_get(col(12))?)?,
        finished_at: opt_time(row.try_get(col(13))?)?,
        exit_code: row.try_get(col(14))?,
        last_error: row.try_get(col(15))?,
        stdout: row.try_get(col(16))?,
        stderr: row.try_get(col(17))?,
        worker_id: row
            .try_get::<_, Option<String>>(col(18))?
            .map(WorkerId::from_stored),
        lease_expires_at: opt_time(row.try_get(col(19))?)?,
        id,
    })
}

/// Reads `attempt, worker_id, started_at, finished_at, result, exit_code,
/// error`, starting at column `first`.
pub(super) fn attempt_from_row(row: &Row, first: usize) -> Result<AttemptRecord, StoreError> {
    let col = |n: usize| first + n;
    Ok(AttemptRecord {
        attempt: unsigned(row.try_get(col(0))?, "attempt")?,
        worker_id: WorkerId::from_stored(row.try_get::<_, String>(col(1))?),
        started_at: from_millis(row.try_get(col(2))?)?,
        finished_at: from_millis(row.try_get(col(3))?)?,
        result: row.try_get(col(4))?,
        exit_code: row.try_get(col(5))?,
        error: row.try_get(col(6))?,
    })
}

/// Reads `id, host, pid, slots, running, started_at, heartbeat_at, stop_requested`.
pub(super) fn worker_from_row(row: &Row) -> Result<WorkerRecord, StoreError> {
    let pid: i64 = row.try_get(2)?;
    Ok(WorkerRecord {
        id: WorkerId::from_stored(row.try_get::<_, String>(0)?),
        host: row.try_get(1)?,
        pid: u32::try_from(pid).map_err(|_| StoreError::Corrupt(format!("worker pid is {pid}")))?,
        slots: unsigned(row.try_get(3)?, "worker slots")?,
        running: unsigned(row.try_get(4)?, "running jobs")?,
        started_at: from_millis(row.try_get(5)?)?,
        heartbeat_at: from_millis(row.try_get(6)?)?,
        stop_requested: row.try_get(7)?,
    })
}
