//! The writes that move jobs through their lives, each a guarded statement.
//!
//! The claim is one statement: it locks the first due jobs in claim order,
//! skipping rows another claimer holds, and stamps them in the same breath.
//! Every later statement about a running attempt matches on `state =
//! 'processing'` and the claiming `worker_id`, and locks the row it reads, so
//! a stale write matches nothing and changes nothing under any interleaving.

use std::time::Duration;

use queue_core::{
    AttemptOutcome, AttemptReport, BackoffPolicy, Job, JobId, JobState, NewJob, Settlement,
    Timestamp, Transition, WorkerId, settle as settle_attempt,
};

use super::connection::{Session, Tx};
use super::rows::{
    JOB_COLUMNS, JOBS_DOT_COLUMNS, from_millis, job_from_row, to_bigint, to_int, to_millis,
    unsigned,
};
use super::{DB_NOW_MS, queries, registry};
use crate::store::LOST_WORKER_ERROR;
use crate::{ClaimRequest, JobRecord, OutputUpdate, Result, Settled, StoreError};

pub(super) fn insert(tx: &mut Tx<'_>, jobs: &[NewJob]) -> Result<Vec<JobId>> {
    if let Some(repeated) = first_repeated(jobs.iter().map(|job| &job.id)) {
        return Err(StoreError::Duplicate(repeated.clone()));
    }
    // One statement for the whole batch: columns travel as arrays.
    let mut ids = Vec::with_capacity(jobs.len());
    let mut kinds = Vec::with_capacity(jobs.len());
    let mut commands = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    let mut max_retries = Vec::with_capacity(jobs.len());
    let mut priorities = Vec::with_capacity(jobs.len());
    let mut run_ats = Vec::with_capacity(jobs.len());
    let mut timeouts = Vec::with_capacity(jobs.len());
    let mut created = Vec::with_capacity(jobs.len());
    for job in jobs {
        ids.push(job.id.as_str());
        kinds.push(job.kind.as_str());
        commands.push(job.command.as_deref());
        payloads.push(job.payload.as_ref().map(|value| value.to_string()));
        max_retries.push(to_int(job.max_retries));
        priorities.push(job.priority);
        run_ats.push(to_millis(job.run_at));
        timeouts.push(to_bigint(job.timeout_secs));
        created.push(to_millis(job.created_at));
    }
    let inserted = tx.query(
        "INSERT INTO jobs (id, kind, command, payload, state, max_retries, priority, run_at, \
             timeout_secs, created_at, updated_at) \
         SELECT id, kind, command, payload::jsonb, 'pending', max_retries, priority, run_at, \
             timeout_secs, created_at, created_at \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], \
             $7::bigint[], $8::bigint[], $9::bigint[]) WITH ORDINALITY \
             AS batch (id, kind, command, payload, max_retries, priority, run_at, \
                 timeout_secs, created_at, position) \
         ORDER BY position \
         ON CONFLICT (id) DO NOTHING \
         RETURNING id",
        &[
            &ids,
            &kinds,
            &commands,
            &payloads,
            &max_retries,
            &priorities,
            &run_ats,
            &timeouts,
            &created,
        ],
    )?;
    if inserted.len() < jobs.len() {
        let stored: std::collections::HashSet<String> =
            inserted.iter().map(|row| row.get(0)).collect();
        let taken = jobs
            .iter()
            .find(|job| !stored.contains(job.id.as_str()))
            .map(|job| job.id.clone());
        if let Some(taken) = taken {
            return Err(StoreError::Duplicate(taken));
        }
    }
    Ok(jobs.iter().map(|job| job.id.clone()).collect())
}

/// The first id that appears a second time.
fn first_repeated<'a>(ids: impl Iterator<Item = &'a JobId>) -> Option<&'a JobId> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().find(|id| !seen.insert(*id))
}

/// Claims in one statement, outside any explicit transaction. `now` is the
/// store's clock when it has one; otherwise the database reads its own.
pub(super) fn claim(
    session: &mut dyn Session,
    request: &ClaimRequest<'_>,
    now: Option<Timestamp>,
) -> Result<Vec<Job>> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    // Known limitation: every claim, settle and release leaves a dead row
    // version whose claim-order index entry the next claim's scan steps over
    // until vacuum removes it. A small table churned faster than autovacuum
    // visits it (by default at most once a minute) makes claims several
    // times slower: about 15 ms instead of 0.5 ms on a 10,000-job table
    // carrying 190,000 dead versions. Tuning autovacuum is the operator's,
    // as it is server-wide.
    // A claim's `started_at` identifies it: reports must present it (see
    // `settle`). It grows with every claim of a job, even when the clock
    // stands still or steps back, so that it never names two claims. The
    // previous attempt's output goes, so that the output a running job shows,
    // which `record_output` fills in, is always its own.
    let sql = format!(
        "WITH clock AS MATERIALIZED (SELECT coalesce($1::bigint, {DB_NOW_MS}) AS now_ms), \
         due AS ( \
             SELECT j.seq FROM jobs j \
             WHERE j.state IN ('pending', 'failed') \
               AND j.run_at <= (SELECT now_ms FROM clock) \
               AND (cardinality($4::text[]) = 0 OR j.kind = ANY ($4::text[])) \
             ORDER BY j.priority DESC, j.run_at, j.seq \
             LIMIT $3 \
             FOR UPDATE SKIP LOCKED) \
         UPDATE jobs SET state = 'processing', attempts = jobs.attempts + 1, worker_id = $2, \
             lease_expires_at = clock.now_ms + $5, finished_at = NULL, \
             stdout = NULL, stderr = NULL, updated_at = clock.now_ms, \
             started_at = CASE WHEN jobs.started_at >= clock.now_ms \
                 THEN jobs.started_at + 1 ELSE clock.now_ms END \
         FROM due, clock \
         WHERE jobs.seq = due.seq \
         RETURNING jobs.seq, {JOBS_DOT_COLUMNS}"
    );
    let now_ms = now.map(to_millis);
    let limit = to_bigint(request.limit);
    let lease_ms = to_bigint(request.lease.as_millis());
    let rows = session.query(
        &sql,
        &[
            &now_ms,
            &request.worker.as_str(),
            &limit,
            &request.kinds,
            &lease_ms,
        ],
    )?;
    let mut claimed = rows
        .iter()
        .map(|row| Ok((row.try_get::<_, i64>(0)?, job_from_row(row, 1)?)))
        .collect::<Result<Vec<_>>>()?;
    // RETURNING gives no order; hand the jobs out in claim order.
    claimed.sort_by(|(seq_a, a), (seq_b, b)| {
        b.priority
            .cmp(&a.priority)
            .then(a.run_at.cmp(&b.run_at))
            .then(seq_a.cmp(seq_b))
    });
    Ok(claimed.into_iter().map(|(_, job)| job).collect())
}

pub(super) fn settle(
    tx: &mut Tx<'_>,
    worker: &WorkerId,
    reports: &[AttemptReport],
    now: Timestamp,
) -> Result<Vec<Settled>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    // The attempt number alone does not identify a claim: revive starts it
    // again from 0, so the worker that claims a revived job may see the same
    // number twice. The claim's start time never repeats for a job (see
    // `claim`), and every report carries it.
    let mut ids = Vec::with_capacity(reports.len());
    let mut attempts = Vec::with_capacity(reports.len());
    let mut started = Vec::with_capacity(reports.len());
    for report in reports {
        ids.push(report.job_id.as_str());
        attempts.push(to_int(report.attempt));
        started.push(to_millis(report.started_at));
    }
    // One guard for the whole batch, locking in `seq` order so that two
    // settling sessions cannot lock the same jobs in opposite orders.
    let held = tx.query(
        "SELECT j.seq, j.max_retries, r.position FROM unnest($1::text[], $2::int[], \
             $3::bigint[]) WITH ORDINALITY AS r (id, attempt, started_at, position) \
         JOIN jobs j ON j.id = r.id AND j.state = 'processing' AND j.worker_id = $4 \
             AND j.attempts = r.attempt AND j.started_at = r.started_at \
         ORDER BY j.seq \
         FOR UPDATE OF j",
        &[&ids, &attempts, &started, &worker.as_str()],
    )?;
    // A job reported twice in one batch is settled by its first matching
    // report; the job has left `processing` by the time the later one
    // counts, so that one is stale, as if the reports came one by one.
    let mut matched: Vec<Option<(i64, u32)>> = vec![None; reports.len()];
    let mut taken = std::collections::HashSet::with_capacity(held.len());
    let mut guarded = held
        .iter()
        .map(|row| {
            let seq: i64 = row.try_get(0)?;
            let max_retries = unsigned(row.try_get(1)?, "max_retries")?;
            let position: i64 = row.try_get(2)?;
            Ok((position, seq, max_retries))
        })
        .collect::<Result<Vec<_>>>()?;
    guarded.sort_unstable();
    for (position, seq, max_retries) in guarded {
        let index = usize::try_from(position - 1)
            .ok()
            .filter(|index| *index < reports.len())
            .ok_or_else(|| StoreError::Corrupt(format!("report position {position}")))?;
        if taken.insert(seq) {
            matched[index] = Some((seq, max_retries));
        }
    }
    // Only a failure can consult the backoff policy, so a batch of
    // successes needs no read of the settings.
    let any_failure = reports
        .iter()
        .zip(&matched)
        .any(|(report, held)| held.is_some() && report.outcome.error().is_some());
    let policy = if any_failure {
        registry::config(tx)?.backoff()
    } else {
        BackoffPolicy::default()
    };

    let mut results = Vec::with_capacity(reports.len());
    let mut ended = Vec::with_capacity(taken.len());
    for (report, held) in reports.iter().zip(matched) {
        let Some((seq, max_retries)) = held else {
            tracing::warn!(
                job_id = %report.job_id,
                attempt = report.attempt,
                worker = %worker,
                "late report refused: the worker no longer holds the job"
            );
            results.push(Settled::Stale);
            continue;
        };
        let settlement = settle_attempt(&report.outcome, report.attempt, max_retries, &policy, now);
        ended.push(Ended {
            seq,
            settlement,
            exit_code: report.exit_code,
            error: report.outcome.error(),
            stdout: report.stdout.as_deref(),
            stderr: report.stderr.as_deref(),
            finished_at: report.finished_at,
            attempt: report.attempt,
            worker,
            started_at: report.started_at,
            result: match report.outcome {
                AttemptOutcome::Succeeded => "succeeded",
                AttemptOutcome::Failed { .. } => "failed",
            },
        });
        results.push(Settled::Moved(settlement));
    }
    write_ended(tx, &ended, now)?;
    Ok(results)
}

/// An attempt that has ended: what its job's row becomes and the line it
/// adds to the job's attempt timeline.
struct Ended<'a> {
    seq: i64,
    settlement: Settlement,
    exit_code: Option<i32>,
    error: Option<&'a str>,
    stdout: Option<&'a str>,
    stderr: Option<&'a str>,
    finished_at: Timestamp,
    attempt: u32,
    worker: &'a WorkerId,
    started_at: Timestamp,
    result: &'a str,
}

/// Moves every ended attempt's job and records the attempts, in one
/// statement whatever the number: the rows travel as arrays. The jobs must
/// be locked and still `processing`. A stream a report leaves out keeps what
/// `record_output` stored while the attempt ran.
fn write_ended(tx: &mut Tx<'_>, ended: &[Ended<'_>], now: Timestamp) -> Result<()> {
    if ended.is_empty() {
        return Ok(());
    }
    let mut seqs = Vec::with_capacity(ended.len());
    let mut states = Vec::with_capacity(ended.len());
    let mut run_ats = Vec::with_capacity(ended.len());
    let mut finished = Vec::with_capacity(ended.len());
    let mut exit_codes = Vec::with_capacity(ended.len());
    let mut errors = Vec::with_capacity(ended.len());
    let mut stdouts = Vec::with_capacity(ended.len());
    let mut stderrs = Vec::with_capacity(ended.len());
    let mut attempts = Vec::with_capacity(ended.len());
    let mut workers = Vec::with_capacity(ended.len());
    let mut started = Vec::with_capacity(ended.len());
    let mut results = Vec::with_capacity(ended.len());
    for row in ended {
        seqs.push(row.seq);
        states.push(row.settlement.state.as_str());
        run_ats.push(row.settlement.run_at.map(to_millis));
        finished.push(to_millis(row.finished_at));
        exit_codes.push(row.exit_code);
        errors.push(row.error);
        stdouts.push(row.stdout);
        stderrs.push(row.stderr);
        attempts.push(to_int(row.attempt));
        workers.push(row.worker.as_str());
        started.push(to_millis(row.started_at));
        results.push(row.result);
    }
    // One statement, so the counting trigger on `jobs` fires once too.
    tx.execute(
        "WITH batch AS ( \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], \
                 $5::int[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[], \
                 $11::bigint[], $12::text[]) WITH ORDINALITY \
                 AS b (seq, state, run_at, finished_at, exit_code, error, stdout, stderr, \
                     attempt, worker_id, started_at, result, position)), \
         moved AS ( \
             UPDATE jobs SET state = batch.state, run_at = coalesce(batch.run_at, jobs.run_at), \
                 finished_at = batch.finished_at, exit_code = batch.exit_code, \
                 last_error = coalesce(batch.error, jobs.last_error), \
                 stdout = coalesce(batch.stdout, jobs.stdout), \
                 stderr = coalesce(batch.stderr, jobs.stderr), worker_id = NULL, \
                 lease_expires_at = NULL, updated_at = $13 \
             FROM batch \
             WHERE jobs.seq = batch.seq AND jobs.state = 'processing' \
             RETURNING jobs.seq) \
         INSERT INTO attempts \
             (job_seq, attempt, worker_id, started_at, finished_at, result, exit_code, error) \
         SELECT batch.seq, batch.attempt, batch.worker_id, batch.started_at, \
             batch.finished_at, batch.result, batch.exit_code, batch.error \
         FROM batch JOIN moved ON moved.seq = batch.seq \
         ORDER BY batch.position",
        &[
            &seqs,
            &states,
            &run_ats,
            &finished,
            &exit_codes,
            &errors,
            &stdouts,
            &stderrs,
            &attempts,
            &workers,
            &started,
            &results,
            &to_millis(now),
        ],
    )?;
    Ok(())
}

/// One line of a job's attempt timeline.
struct AttemptRow<'a> {
    seq: i64,
    attempt: u32,
    worker: &'a WorkerId,
    started_at: Timestamp,
    finished_at: Timestamp,
    result: &'a str,
    exit_code: Option<i32>,
    error: Option<&'a str>,
}

fn record_attempt(tx: &mut Tx<'_>, row: &AttemptRow<'_>) -> Result<()> {
    tx.execute(
        "INSERT INTO attempts \
             (job_seq, attempt, worker_id, started_at, finished_at, result, exit_code, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &row.seq,
            &to_int(row.attempt),
            &row.worker.as_str(),
            &to_millis(row.started_at),
            &to_millis(row.finished_at),
            &row.result,
            &row.exit_code,
            &row.error,
        ],
    )?;
    Ok(())
}

/// Stores running attempts' output so far, in one statement outside any
/// explicit transaction, under the same guard as `settle`. `updated_at`
/// stays: output is not a change of state.
pub(super) fn record_output(
    session: &mut dyn Session,
    worker: &WorkerId,
    updates: &[OutputUpdate],
) -> Result<usize> {
    let ids: Vec<&str> = updates.iter().map(|u| u.job_id.as_str()).collect();
    let attempts: Vec<i32> = updates.iter().map(|u| to_int(u.attempt)).collect();
    let started: Vec<i64> = updates.iter().map(|u| to_millis(u.started_at)).collect();
    let stdout: Vec<Option<&str>> = updates.iter().map(|u| u.stdout.as_deref()).collect();
    let stderr: Vec<Option<&str>> = updates.iter().map(|u| u.stderr.as_deref()).collect();
    let changed = session.execute(
        "UPDATE jobs SET stdout = u.stdout, stderr = u.stderr \
         FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[]) \
             AS u (id, attempt, started_at, stdout, stderr) \
         WHERE jobs.id = u.id AND jobs.state = 'processing' AND jobs.worker_id = $1 \
           AND jobs.attempts = u.attempt AND jobs.started_at = u.started_at",
        &[
            &worker.as_str(),
            &ids,
            &attempts,
            &started,
            &stdout,
            &stderr,
        ],
    )?;
    Ok(usize::try_from(changed).unwrap_or(usize::MAX))
}

/// Extends every lease `worker` holds, in one statement outside any
/// explicit transaction.
pub(super) fn renew_leases(
    session: &mut dyn Session,
    worker: &WorkerId,
    lease: Duration,
    now: Option<Timestamp>,
) -> Result<Vec<JobId>> {
    let sql = format!(
        "UPDATE jobs SET lease_expires_at = coalesce($2::bigint, {DB_NOW_MS}) + $3 \
         WHERE state = 'processing' AND worker_id = $1 RETURNING id"
    );
    let rows = session.query(
        &sql,
        &[
            &worker.as_str(),
            &now.map(to_millis),
            &to_bigint(lease.as_millis()),
        ],
    )?;
    rows.iter()
        .map(|row| {
            let id: String = row.try_get(0)?;
            JobId::new(id).map_err(|err| StoreError::Corrupt(err.to_string()))
        })
        .collect()
}

pub(super) fn release(
    tx: &mut Tx<'_>,
    worker: &WorkerId,
    ids: &[JobId],
    now: Timestamp,
) -> Result<usize> {
    let ids: Vec<&str> = ids.iter().map(JobId::as_str).collect();
    // One statement for the whole batch; a job named twice is released once.
    let released = tx.execute(
        "WITH released AS ( \
             UPDATE jobs SET state = 'pending', attempts = attempts - 1, run_at = $3, \
                 worker_id = NULL, lease_expires_at = NULL, updated_at = $3 \
             WHERE id = ANY ($1::text[]) AND state = 'processing' AND worker_id = $2 \
             RETURNING seq, attempts + 1 AS attempt, started_at) \
         INSERT INTO attempts \
             (job_seq, attempt, worker_id, started_at, finished_at, result, exit_code, error) \
         SELECT seq, attempt, $2, coalesce(started_at, $3), $3, 'released', NULL, \
             'released unfinished at worker shutdown' \
         FROM released ORDER BY seq",
        &[&ids, &worker.as_str(), &to_millis(now)],
    )?;
    Ok(usize::try_from(released).unwrap_or(usize::MAX))
}

pub(super) fn rescue_expired(tx: &mut Tx<'_>, now: Timestamp) -> Result<Vec<JobId>> {
    // Rows another rescuer (or the owner renewing) holds are skipped: they are
    // being dealt with, and waiting for them would only queue rescuers up.
    let lapsed = tx.query(
        "SELECT seq, id, attempts, max_retries, worker_id, started_at FROM jobs \
         WHERE state = 'processing' AND lease_expires_at < $1 \
         ORDER BY seq FOR UPDATE SKIP LOCKED",
        &[&to_millis(now)],
    )?;
    if lapsed.is_empty() {
        return Ok(Vec::new());
    }
    let policy = registry::config(tx)?.backoff();
    let outcome = AttemptOutcome::failed(LOST_WORKER_ERROR);
    let mut found = Vec::with_capacity(lapsed.len());
    for row in &lapsed {
        let seq: i64 = row.try_get(0)?;
        let id: String = row.try_get(1)?;
        let id = JobId::new(id).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let attempts = unsigned(row.try_get(2)?, "attempts")?;
        let max_retries = unsigned(row.try_get(3)?, "max_retries")?;
        let worker =
            WorkerId::from_stored(row.try_get::<_, Option<String>>(4)?.unwrap_or_default());
        let started: Option<i64> = row.try_get(5)?;
        let started_at = started.map(from_millis).transpose()?.unwrap_or(now);
        let settlement = settle_attempt(&outcome, attempts, max_retries, &policy, now);
        found.push((seq, id, attempts, worker, started_at, settlement));
    }
    let ended: Vec<Ended<'_>> = found
        .iter()
        .map(|(seq, _, attempts, worker, started_at, settlement)| Ended {
            seq: *seq,
            settlement: *settlement,
            exit_code: None,
            error: outcome.error(),
            stdout: None,
            stderr: None,
            finished_at: now,
            attempt: *attempts,
            worker,
            started_at: *started_at,
            result: "lost",
        })
        .collect();
    write_ended(tx, &ended, now)?;
    let mut rescued = Vec::with_capacity(found.len());
    for (_, id, attempts, worker, _, settlement) in found {
        tracing::warn!(
            job_id = %id,
            attempt = attempts,
            worker = %worker,
            state = %settlement.state,
            "rescued a job from a lost worker"
        );
        rescued.push(id);
    }
    Ok(rescued)
}

pub(super) fn revive(tx: &mut Tx<'_>, id: &JobId, now: Timestamp) -> Result<Job> {
    let job = locked(tx, id)?;
    check_transition(id, job.state, Transition::Revive)?;
    tx.execute(
        "UPDATE jobs SET state = 'pending', attempts = 0, run_at = $2, updated_at = $2 \
         WHERE id = $1 AND state = 'dead'",
        &[&id.as_str(), &to_millis(now)],
    )?;
    existing(tx, id)
}

pub(super) fn cancel(tx: &mut Tx<'_>, id: &JobId, now: Timestamp) -> Result<Job> {
    let job = locked(tx, id)?;
    check_transition(id, job.state, Transition::Cancel)?;
    tx.execute(
        "UPDATE jobs SET state = 'dead', last_error = 'cancelled by an operator', \
             updated_at = $2 \
         WHERE id = $1 AND state IN ('pending', 'failed')",
        &[&id.as_str(), &to_millis(now)],
    )?;
    existing(tx, id)
}

/// Stores copied records whole, refusing the batch if any id is taken.
pub(super) fn import(tx: &mut Tx<'_>, records: &[JobRecord]) -> Result<usize> {
    if let Some(repeated) = first_repeated(records.iter().map(|record| &record.job.id)) {
        return Err(StoreError::Duplicate(repeated.clone()));
    }
    for record in records {
        let job = &record.job;
        let row = tx.query_opt(
            "INSERT INTO jobs (id, kind, command, payload, state, attempts, max_retries, \
                 priority, run_at, timeout_secs, created_at, updated_at, started_at, \
                 finished_at, exit_code, last_error, stdout, stderr, worker_id, \
                 lease_expires_at) \
             VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (id) DO NOTHING \
             RETURNING seq",
            &[
                &job.id.as_str(),
                &job.kind,
                &job.command,
                &job.payload.as_ref().map(|value| value.to_string()),
                &job.state.as_str(),
                &to_int(job.attempts),
                &to_int(job.max_retries),
                &job.priority,
                &to_millis(job.run_at),
                &to_bigint(job.timeout_secs),
                &to_millis(job.created_at),
                &to_millis(job.updated_at),
                &job.started_at.map(to_millis),
                &job.finished_at.map(to_millis),
                &job.exit_code,
                &job.last_error,
                &job.stdout,
                &job.stderr,
                &job.worker_id.as_ref().map(WorkerId::as_str),
                &job.lease_expires_at.map(to_millis),
            ],
        )?;
        let Some(row) = row else {
            return Err(StoreError::Duplicate(job.id.clone()));
        };
        let seq: i64 = row.try_get(0)?;
        for attempt in &record.history {
            let row = AttemptRow {
                seq,
                attempt: attempt.attempt,
                worker: &attempt.worker_id,
                started_at: attempt.started_at,
                finished_at: attempt.finished_at,
                result: &attempt.result,
                exit_code: attempt.exit_code,
                error: attempt.error.as_deref(),
            };
            record_attempt(tx, &row)?;
        }
    }
    Ok(records.len())
}

/// The job, locked until the transaction ends, or `NotFound`.
fn locked(tx: &mut Tx<'_>, id: &JobId) -> Result<Job> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 FOR UPDATE");
    let row = tx
        .query_opt(&sql, &[&id.as_str()])?
        .ok_or_else(|| StoreError::NotFound(id.clone()))?;
    job_from_row(&row, 0)
}

fn existing(tx: &mut Tx<'_>, id: &JobId) -> Result<Job> {
    queries::job(tx, id)?.ok_or_else(|| StoreError::NotFound(id.clone()))
}

fn check_transition(id: &JobId, from: JobState, transition: Transition) -> Result<JobState> {
    from.apply(transition)
        .map_err(|source| StoreError::WrongState {
            id: id.clone(),
            source,
        })
}
