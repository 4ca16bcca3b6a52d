//! Conversions between stored rows and the vocabulary's types.
//!
//! Times are stored as integer milliseconds since the Unix epoch, UTC, so
//! that they sort and index as numbers.

use queue_core::{AttemptRecord, Job, JobId, JobState, Timestamp, WorkerId};
use rusqlite::Row;

use crate::StoreError;

/// The job columns every job query selects, in the order [`job_from_row`] reads.
/// The worker is its lease owner's.
pub(crate) const JOB_COLUMNS: &str = "id, kind, command, payload, state, attempts, max_retries, \
     priority, run_at, timeout_secs, created_at, updated_at, started_at, finished_at, \
     exit_code, last_error, stdout, stderr, \
     (SELECT worker_id FROM lease_owners WHERE key = jobs.lease_owner), lease_expires_at";

pub(crate) use crate::millis::{from_millis, to_millis};

fn opt_time(millis: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    millis.map(from_millis).transpose()
}

fn job_id(row: &Row<'_>, index: usize) -> Result<JobId, StoreError> {
    let id: String = row.get(index)?;
    JobId::new(id).map_err(|err| StoreError::Corrupt(err.to_string()))
}

fn payload(
    row: &Row<'_>,
    index: usize,
    id: &JobId,
) -> Result<Option<serde_json::Value>, StoreError> {
    let payload: Option<String> = row.get(index)?;
    payload
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|err| StoreError::Corrupt(format!("job {id}: payload: {err}")))
}

/// Reads a row selected with [`JOB_COLUMNS`], starting at column `first`.
pub(crate) fn job_from_row(row: &Row<'_>, first: usize) -> Result<Job, StoreError> {
    let col = |n: usize| first + n;
    let id = job_id(row, col(0))?;
    let payload = payload(row, col(3), &id)?;
    let state: String = row.get(col(4))?;
    let state = crate::error::stored_state(&state)?;
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

/// The job columns a claim returns, in the order [`claimed_job_from_row`]
/// reads. The others the claim has just written, to values its caller
/// already knows (see [`ClaimWrites`]), so they are not read back.
pub(crate) const CLAIMED_COLUMNS: &str = "id, kind, command, payload, attempts, max_retries, \
     priority, run_at, timeout_secs, created_at, started_at, exit_code, last_error";

/// What a claim writes to every job it takes, besides the columns it
/// returns: the job is processing under `worker`, changed at `now_ms`, with
/// its lease ending at `lease_ms` on the wall clock, and no end or output.
pub(crate) struct ClaimWrites<'a> {
    pub(crate) worker: &'a WorkerId,
    pub(crate) now_ms: i64,
    pub(crate) lease_ms: i64,
}

/// Reads a row a claim returned with [`CLAIMED_COLUMNS`], starting at
/// column `first`, and completes the job with what the claim wrote.
pub(crate) fn claimed_job_from_row(
    row: &Row<'_>,
    first: usize,
    writes: &ClaimWrites<'_>,
) -> Result<Job, StoreError> {
    let col = |n: usize| first + n;
    let id = job_id(row, col(0))?;
    let payload = payload(row, col(3), &id)?;
    Ok(Job {
        kind: row.get(col(1))?,
        command: row.get(col(2))?,
        payload,
        state: JobState::Processing,
        attempts: row.get(col(4))?,
        max_retries: row.get(col(5))?,
        priority: row.get(col(6))?,
        run_at: from_millis(row.get(col(7))?)?,
        timeout_secs: row.get(col(8))?,
        created_at: from_millis(row.get(col(9))?)?,
        updated_at: from_millis(writes.now_ms)?,
        started_at: Some(from_millis(row.get(col(10))?)?),
        finished_at: None,
        exit_code: row.get(col(11))?,
        last_error: row.get(col(12))?,
        stdout: None,
        stderr: None,
        worker_id: Some(writes.worker.clone()),
        lease_expires_at: Some(from_millis(writes.lease_ms)?),
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
