//! Reads: single jobs, pages of jobs, attempt timelines, counts and exports.

use queue_core::{AttemptRecord, Job, JobId, JobState, StateCounts, Timestamp};

use super::connection::{Session, Tx};
use super::rows::{JOB_COLUMNS, attempt_from_row, job_from_row, to_bigint};
use crate::millis::to_millis;
use crate::store::fold_minutes;
use crate::{ExportSink, FinishedMinute, JobQuery, JobRecord, Result, StoreError};

/// How many rows an export reads per round trip.
const EXPORT_BATCH: i32 = 500;

pub(super) fn job(session: &mut dyn Session, id: &JobId) -> Result<Option<Job>> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    session
        .query_opt(&sql, &[&id.as_str()])?
        .map(|row| job_from_row(&row, 0))
        .transpose()
}

pub(super) fn attempts(session: &mut dyn Session, id: &JobId) -> Result<Vec<AttemptRecord>> {
    let rows = session.query(
        "SELECT a.attempt, a.worker_id, a.started_at, a.finished_at, a.result, a.exit_code, \
                a.error \
         FROM attempts a JOIN jobs j ON j.seq = a.job_seq \
         WHERE j.id = $1 ORDER BY a.seq",
        &[&id.as_str()],
    )?;
    rows.iter().map(|row| attempt_from_row(row, 0)).collect()
}

pub(super) fn list(session: &mut dyn Session, query: &JobQuery) -> Result<Vec<Job>> {
    // Each order matches an index: claim order for the claimable states,
    // (state, updated_at) for the others, the sequence for "newest first".
    let order = match query.state {
        Some(JobState::Pending | JobState::Failed) => "priority DESC, run_at, seq",
        Some(_) => "updated_at DESC, seq DESC",
        None => "seq DESC",
    };
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs \
         WHERE ($1::text IS NULL OR state = $1) \
           AND ($2::text IS NULL OR strpos(id, $2) > 0 \
                OR strpos(coalesce(command, ''), $2) > 0) \
         ORDER BY {order} LIMIT $3 OFFSET $4"
    );
    let text = query.text.as_deref().filter(|text| !text.is_empty());
    let rows = session.query(
        &sql,
        &[
            &query.state.map(JobState::as_str),
            &text,
            &to_bigint(query.limit),
            &to_bigint(query.offset),
        ],
    )?;
    rows.iter().map(|row| job_from_row(row, 0)).collect()
}

/// The counts per state: the sum of the few rows of changes not yet folded.
pub(super) fn counts(session: &mut dyn Session) -> Result<(StateCounts, i64)> {
    let rows = session.query(
        "SELECT state, sum(n)::bigint, count(*) FROM state_counts GROUP BY state",
        &[],
    )?;
    let mut counts = StateCounts::default();
    let mut entries = 0;
    for row in rows {
        let state: String = row.try_get(0)?;
        let state = crate::error::stored_state(&state)?;
        let n: i64 = row.try_get(1)?;
        *counts.of_mut(state) = u64::try_from(n).unwrap_or(0);
        entries += row.try_get::<_, i64>(2)?;
    }
    Ok((counts, entries))
}

/// Finished jobs per state and minute since `since`: a range of
/// `jobs_state_updated` for each of the two finished states.
pub(super) fn finished_per_minute(
    session: &mut dyn Session,
    since: Timestamp,
) -> Result<Vec<FinishedMinute>> {
    let rows = session.query(
        "SELECT state, updated_at / 60000, count(*) \
         FROM jobs WHERE state IN ('completed', 'dead') AND updated_at >= $1 \
         GROUP BY state, updated_at / 60000",
        &[&to_millis(since)],
    )?;
    let mut counted = Vec::with_capacity(rows.len());
    for row in rows {
        let state: String = row.try_get(0)?;
        let state = crate::error::stored_state(&state)?;
        let n: i64 = row.try_get(2)?;
        counted.push((state, row.try_get(1)?, u64::try_from(n).unwrap_or(0)));
    }
    fold_minutes(counted)
}

/// The pending job that changed least recently, first in
/// `jobs_state_updated` for the state.
pub(super) fn oldest_pending(session: &mut dyn Session) -> Result<Option<Job>> {
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'pending' \
         ORDER BY updated_at, seq LIMIT 1"
    );
    session
        .query_opt(&sql, &[])?
        .map(|row| job_from_row(&row, 0))
        .transpose()
}

/// Streams jobs and their timelines from one snapshot, merging two ordered
/// portals so that neither whole table is ever held in memory.
pub(super) fn export(
    tx: &mut Tx<'_>,
    state: Option<JobState>,
    sink: &mut ExportSink<'_>,
) -> Result<u64> {
    let state = state.map(JobState::as_str);
    let jobs_sql = format!(
        "SELECT seq, {JOB_COLUMNS} FROM jobs WHERE $1::text IS NULL OR state = $1 ORDER BY seq"
    );
    let jobs = tx.portal(&jobs_sql, &[&state])?;
    let attempts = tx.portal(
        "SELECT a.job_seq, a.attempt, a.worker_id, a.started_at, a.finished_at, a.result, \
                a.exit_code, a.error \
         FROM attempts a JOIN jobs j ON j.seq = a.job_seq \
         WHERE $1::text IS NULL OR j.state = $1 \
         ORDER BY a.job_seq, a.seq",
        &[&state],
    )?;
    let mut pending_attempts: std::collections::VecDeque<(i64, AttemptRecord)> =
        std::collections::VecDeque::new();
    let mut attempts_done = false;
    let mut exported = 0;
    loop {
        let batch = tx.fetch(&jobs, EXPORT_BATCH)?;
        let last_batch = batch.len() < EXPORT_BATCH as usize;
        for row in &batch {
            let seq: i64 = row.try_get(0)?;
            let job = job_from_row(row, 1)?;
            let mut history = Vec::new();
            loop {
                if pending_attempts.is_empty() && !attempts_done {
                    let more = tx.fetch(&attempts, EXPORT_BATCH)?;
                    attempts_done = more.len() < EXPORT_BATCH as usize;
                    for row in &more {
                        pending_attempts.push_back((row.try_get(0)?, attempt_from_row(row, 1)?));
                    }
                }
                match pending_attempts.front() {
                    Some((job_seq, _)) if *job_seq <= seq => {
                        if let Some((job_seq, attempt)) = pending_attempts.pop_front() {
                            if job_seq == seq {
                                history.push(attempt);
                            }
                        }
                    }
                    _ => break,
                }
            }
            sink(JobRecord { job, history }).map_err(StoreError::Sink)?;
            exported += 1;
        }
        if last_batch {
            return Ok(exported);
        }
    }
}
