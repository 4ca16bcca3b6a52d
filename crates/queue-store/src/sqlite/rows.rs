//! Conversions between stored rows and the vocabulary's types.
//!
//! Times are stored as integer milliseconds since the Unix epoch, UTC, so
//! that they sort and index as numbers.

use queue_core::{AttemptRecord, Job, JobId, JobState, Timestamp, WorkerId};
use rusqlite::Row;

use crate::StoreError;

/// The job columns every job query selects, in the order [`job_from_row`] reads.
pub(crate) const JOB_COLUMNS: &str = "id, kind, command, payload, state, attempts, max_retries, \
     priority, run_at, timeout_secs, created_at, updated_at, started_at, finished_at, \
     exit_code, last_error, stdout, stderr, worker_id, lease_expires_at";

pub(crate) use crate::millis::{from_millis, to_millis};

fn opt_time(millis: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    millis.map(from_millis).transpose()
}

/// Reads a row selected with [`JOB_COLUMNS`], starting at column `first`.
pub(crate) fn job_from_row(row: &Row<'_>, first: usize) -> Result<Job, StoreError> {
    let col = |n: usize| first + n;
    let id: String = row.get(col(0))?;
    let id = JobId::new(id).map_err(|err| StoreError::Corrupt(err.to_string()))?;
    let payload: Option<String> = row.get(col(3))?;
    let payload = payload
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|err| StoreError::Corrupt(format!("job {id}: payload: {err}")))?;
    let state: String = row.get(col(4))?;
    let state: JobState = state
        .parse()
        .map_err(|err| StoreError::Corrupt(format!("{err}")))?;
    Ok(Job {
        kind: row.get(col(1))?,
        command: row.get(col(2))?,
        payload,
        state,
        attempts: row.get(col(5))?,
        max_retries: row.get(col(6))?,
        priority: row.get(col(7))?,
        run_at: from_millis(row.get(col(8))?)?,
        timeout_secs: row.get(col(9))?,
        created_at: from_millis(row.get(col(10))?)?,
        updated_at: from_millis(row.get(col(11))?)?,
        started_at: opt_time(row.get(col(12))?)?,
        finished_at: opt_time(row.get(col(13))?)?,
        exit_code: row.get(col(14))?,
        last_error: row.get(col(15))?,
        stdout: row.get(col(16))?,
        stderr: row.get(col(17))?,
        worker_id: row
            .get::<_, Option<String>>(col(18))?
            .map(WorkerId::from_stored),
        lease_expires_at: opt_time(row.get(col(19))?)?,
        id,
    })
}

/// Reads `attempt, worker_id, started_at, finished_at, result, exit_code, error`.
pub(crate) fn attempt_from_row(row: &Row<'_>) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        attempt: row.get(0)?,
        worker_id: WorkerId::from_stored(row.get::<_, String>(1)?),
        started_at: from_millis(row.get(2)?)?,
        finished_at: from_millis(row.get(3)?)?,
        result: row.get(4)?,
        exit_code: row.get(5)?,
        error: row.get(6)?,
    })
}

/// Reads `id, host, pid, slots, running, started_at, heartbeat_at, stop_requested`.
pub(crate) fn worker_from_row(row: &Row<'_>) -> Result<crate::WorkerRecord, StoreError> {
    Ok(crate::WorkerRecord {
        id: WorkerId::from_stored(row.get::<_, String>(0)?),
        host: row.get(1)?,
        pid: row.get(2)?,
        slots: row.get(3)?,
        running: row.get(4)?,
        started_at: from_millis(row.get(5)?)?,
        heartbeat_at: from_millis(row.get(6)?)?,
        stop_requested: row.get(7)?,
    })
}
