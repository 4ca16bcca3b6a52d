//! The writes that move jobs through their lives, each a guarded statement.
//!
//! Every statement about a running attempt matches on `state = 'processing'`
//! and the claiming worker (by its lease owners, see `owners`); a write that
//! matches nothing was stale and changes nothing. The transitions themselves
//! come from `queue_core`.
//!
//! The writes to `jobs` that a worker makes for every job (the claim and
//! the end of an attempt) run `OR FAIL`: a statement that fails keeps what
//! it changed before the failure instead of undoing it. Nothing is lost by
//! that, since every error makes the caller roll back the whole
//! transaction, and SQLite is spared the statement journal that the
//! counting triggers would otherwise make it write for each of them.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Duration;

use queue_core::{
    AttemptOutcome, AttemptReport, Job, JobId, JobState, NewJob, Settlement, Timestamp, Transition,
    WorkerId, settle as settle_attempt,
};
use rusqlite::{OptionalExtension, Transaction, params};

use super::rows::{CLAIMED_COLUMNS, ClaimWrites, claimed_job_from_row, to_millis};
use super::{owners, queries, registry};
use crate::store::LOST_WORKER_ERROR;
use crate::{ClaimRequest, JobRecord, MonotonicTime, OutputUpdate, Result, Settled, StoreError};

/// The time on both of the store's clocks, read once per transaction.
pub(super) struct Now {
    pub(super) wall: Timestamp,
    pub(super) monotonic: MonotonicTime,
}

/// Where a lease taken now for `lease` ends: on the monotonic clock, which
/// decides, and on the wall clock, which is shown.
struct LeaseEnd<'a> {
    wall_ms: i64,
    boot_id: &'a str,
    deadline_ms: i64,
}

impl Now {
    fn lease_end(&self, lease: Duration) -> LeaseEnd<'_> {
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
        LeaseEnd {
            wall_ms: to_millis(self.wall).saturating_add(lease_ms),
            boot_id: &self.monotonic.boot_id,
            deadline_ms: self.monotonic.millis.saturating_add(lease_ms),
        }
    }
}

pub(super) fn insert(tx: &Transaction<'_>, jobs: &[NewJob]) -> Result<Vec<JobId>> {
    let mut statement = tx.prepare_cached(
        "INSERT INTO jobs (id, kind, command, payload, state, max_retries, priority, run_at, \
         timeout_secs, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?8, ?9, ?9)",
    )?;
    let mut ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        let payload = job.payload.as_ref().map(|value| value.to_string());
        let inserted = statement.execute(params![
            job.id.as_str(),
            job.kind,
            job.command,
            payload,
            job.max_retries,
            job.priority,
            to_millis(job.run_at),
            job.timeout_secs,
            to_millis(job.created_at),
        ]);
        match inserted {
            Ok(_) => ids.push(job.id.clone()),
            Err(err) if is_unique_violation(&err) => {
                return Err(StoreError::Duplicate(job.id.clone()));
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(ids)
}

fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// The claim statement. `INDEXED BY` because without statistics SQLite
/// prefers the equality on `state` in `jobs_state_updated` and then sorts
/// every claimable job; `jobs_claim_order` hands the first due jobs over in
/// claim order and the scan stops at the limit.
///
/// The limit is written `+?4`: SQLite reads a bare bound `LIMIT` while
/// planning and then marks the statement stale whenever that parameter is
/// bound again, so every claim would be parsed and planned anew. A limit that
/// is an expression is left to run time, and the cached plan is kept.
///
/// Known limitation: jobs not yet due that sort ahead of the due ones (a
/// higher priority, waiting for a delay or a backoff) are stepped over on
/// every claim. A queue holding very many of them pays for them each time.
pub(super) fn claim_sql() -> String {
    // A claim's `started_at` identifies it: reports must present it (see
    // `settle`). It is made to grow with every claim of a job, even when the
    // clock stands still or steps back, so that it never names two claims.
    // The previous attempt's output goes, so that the output a running job
    // shows, which `record_output` fills in, is always its own.
    format!(
        "UPDATE OR FAIL jobs SET state = 'processing', attempts = attempts + 1, lease_owner = ?1, \
             lease_expires_at = ?3, lease_deadline_ms = ?6, \
             finished_at = NULL, stdout = NULL, stderr = NULL, updated_at = ?2, \
             started_at = CASE WHEN started_at >= ?2 THEN started_at + 1 ELSE ?2 END \
         WHERE seq IN ( \
             SELECT seq FROM jobs INDEXED BY jobs_claim_order \
             WHERE state IN ('pending', 'failed') AND run_at <= ?2 \
               AND (?5 = '[]' OR kind IN (SELECT value FROM json_each(?5))) \
             ORDER BY priority DESC, run_at, seq LIMIT +?4) \
         RETURNING seq, {CLAIMED_COLUMNS}"
    )
}

pub(super) fn claim(
    tx: &Transaction<'_>,
    request: &ClaimRequest<'_>,
    now: &Now,
) -> Result<Vec<Job>> {
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let now_ms = to_millis(now.wall);
    let lease = now.lease_end(request.lease);
    // The kinds filter is a JSON array so that one cached statement serves
    // every list of kinds.
    let kinds = serde_json::to_string(request.kinds).unwrap_or_else(|_| "[]".into());
    let owner = owners::key(tx, request.worker.as_str(), lease.boot_id)?;
    let mut statement = tx.prepare_cached(&claim_sql())?;
    let mut rows = statement.query(params![
        owner,
        now_ms,
        lease.wall_ms,
        i64::try_from(request.limit).unwrap_or(i64::MAX),
        kinds,
        lease.deadline_ms,
    ])?;
    let writes = ClaimWrites {
        worker: request.worker,
        now_ms,
        lease_ms: lease.wall_ms,
    };
    let mut claimed = Vec::with_capacity(request.limit.min(1024));
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let job = claimed_job_from_row(row, 1, &writes)?;
        claimed.push((seq, job));
    }
    // RETURNING gives no order; hand the jobs out in claim order.
    claimed.sort_by(|(seq_a, a), (seq_b, b)| {
        b.priority
            .cmp(&a.priority)
            .then(a.run_at.cmp(&b.run_at))
            .then(seq_a.cmp(seq_b))
    });
    Ok(claimed.into_iter().map(|(_, job)| job).collect())
}

/// Finds, in one statement per batch, the jobs the reports name that the
/// worker still holds, each with the position of its report; each report's
/// claim is then checked against its row. The ids come as a JSON array so
/// that one cached statement serves every batch.
///
/// `CROSS JOIN` keeps the reports as the outer loop and the unary `+` keeps
/// `state` and `lease_owner` out of the index choice: each report is one
/// search of the unique id index. Without statistics SQLite would rather
/// walk every running job of every worker in `jobs_state_updated`.
///
/// The attempt number alone does not identify a claim: revive starts it
/// again from 0, so the worker that claims a revived job may see the same
/// number twice. The claim's start time never repeats for a job (see
/// `claim_sql`), and every report carries it.
pub(super) const SETTLE_HELD: &str = "SELECT report.key, seq, max_retries, attempts, started_at \
     FROM json_each(?1) AS report CROSS JOIN jobs ON jobs.id = report.value \
     WHERE +jobs.state = 'processing' \
       AND +jobs.lease_owner IN (SELECT key FROM lease_owners WHERE worker_id = ?2)";

/// A job the worker holds, as `SETTLE_HELD` finds it.
struct Held {
    seq: i64,
    max_retries: u32,
    attempts: u32,
    started_ms: Option<i64>,
}

/// The held job each report names, by the report's position.
fn held_jobs(
    tx: &Transaction<'_>,
    worker: &WorkerId,
    reports: &[AttemptReport],
) -> Result<Vec<Option<Held>>> {
    let ids: Vec<&str> = reports
        .iter()
        .map(|report| report.job_id.as_str())
        .collect();
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let mut statement = tx.prepare_cached(SETTLE_HELD)?;
    let mut rows = statement.query(params![ids, worker.as_str()])?;
    let mut held: Vec<Option<Held>> = std::iter::repeat_with(|| None)
        .take(reports.len())
        .collect();
    while let Some(row) = rows.next()? {
        let position: usize = row.get(0)?;
        let Some(slot) = held.get_mut(position) else {
            return Err(StoreError::Corrupt(format!(
                "settle: no report at position {position}"
            )));
        };
        *slot = Some(Held {
            seq: row.get(1)?,
            max_retries: row.get(2)?,
            attempts: row.get(3)?,
            started_ms: row.get(4)?,
        });
    }
    Ok(held)
}

pub(super) fn settle(
    tx: &Transaction<'_>,
    worker: &WorkerId,
    reports: &[AttemptReport],
    now: Timestamp,
) -> Result<Vec<Settled>> {
    if reports.is_empty() {
        return Ok(Vec::new());
    }
    // Only a failure can back off, so a batch of successes reads no
    // settings: where a success leaves its job does not depend on them.
    let failures = reports
        .iter()
        .any(|report| matches!(report.outcome, AttemptOutcome::Failed { .. }));
    let policy = if failures {
        registry::config(tx)?.backoff()
    } else {
        queue_core::QueueConfig::default().backoff()
    };
    let held = held_jobs(tx, worker, reports)?;
    let mut results = Vec::with_capacity(reports.len());
    let mut timeline = Vec::with_capacity(reports.len());
    // A job named twice is ended by the first report that holds it; the
    // next finds it no longer processing, as it would one by one.
    let mut ended_jobs = HashSet::with_capacity(reports.len());
    for (report, held) in reports.iter().zip(held) {
        let started_ms = to_millis(report.started_at);
        let found = held.filter(|job| {
            job.attempts == report.attempt
                && job.started_ms == Some(started_ms)
                && ended_jobs.insert(job.seq)
        });
        let Some(job) = found else {
            tracing::warn!(
                job_id = %report.job_id,
                attempt = report.attempt,
                worker = %worker,
                "late report refused: the worker no longer holds the job"
            );
            results.push(Settled::Stale);
            continue;
        };
        let seq = job.seq;
        let settlement = settle_attempt(
            &report.outcome,
            report.attempt,
            job.max_retries,
            &policy,
            now,
        );
        let ended = Ended {
            seq,
            settlement: &settlement,
            exit_code: report.exit_code,
            error: report.outcome.error(),
            stdout: report.stdout.as_deref(),
            stderr: report.stderr.as_deref(),
            finished_at: report.finished_at,
        };
        write_ended(tx, &ended, now)?;
        let result = match report.outcome {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Failed { .. } => "failed",
        };
        timeline.push(AttemptRow {
            seq,
            attempt: report.attempt,
            worker,
            started_at: report.started_at,
            finished_at: report.finished_at,
            result,
            exit_code: report.exit_code,
            error: report.outcome.error(),
        });
        results.push(Settled::Moved(settlement));
    }
    record_attempts(tx, &timeline)?;
    Ok(results)
}

/// An attempt that has ended, as written to its job's row.
struct Ended<'a> {
    seq: i64,
    settlement: &'a Settlement,
    exit_code: Option<i32>,
    error: Option<&'a str>,
    stdout: Option<&'a str>,
    stderr: Option<&'a str>,
    finished_at: Timestamp,
}

/// Writes where an attempt left its job. A stream the report leaves out
/// keeps what `record_output` stored while the attempt ran.
pub(super) const WRITE_ENDED: &str = "UPDATE OR FAIL jobs SET state = ?2, \
         run_at = coalesce(?3, run_at), finished_at = ?4, exit_code = ?5, \
         last_error = coalesce(?6, last_error), stdout = coalesce(?7, stdout), \
         stderr = coalesce(?8, stderr), \
         lease_owner = NULL, lease_expires_at = NULL, lease_deadline_ms = NULL, \
         updated_at = ?9 \
     WHERE seq = ?1 AND state = 'processing'";

fn write_ended(tx: &Transaction<'_>, ended: &Ended<'_>, now: Timestamp) -> Result<()> {
    let mut update = tx.prepare_cached(WRITE_ENDED)?;
    update.execute(params![
        ended.seq,
        ended.settlement.state.as_str(),
        ended.settlement.run_at.map(to_millis),
        to_millis(ended.finished_at),
        ended.exit_code,
        ended.error,
        ended.stdout,
        ended.stderr,
        to_millis(now),
    ])?;
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

/// How many timeline lines one insert carries. A settled batch costs a
/// statement per few lines rather than one per line; the lines left over
/// go one by one, so that only two insert statements are ever cached.
const LINES_PER_INSERT: usize = 8;

/// The insert of `lines` timeline lines, eight parameters each, in the order
/// of `AttemptRow`'s fields.
fn insert_attempts_sql(lines: usize) -> String {
    let values = (0..lines)
        .map(|line| {
            let params: Vec<String> = (1..=8).map(|n| format!("?{}", line * 8 + n)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO attempts \
             (job_seq, attempt, worker_id, started_at, finished_at, result, exit_code, error) \
         VALUES {values}"
    )
}

static INSERT_ATTEMPT: LazyLock<String> = LazyLock::new(|| insert_attempts_sql(1));
static INSERT_ATTEMPTS: LazyLock<String> = LazyLock::new(|| insert_attempts_sql(LINES_PER_INSERT));

fn record_attempt(tx: &Transaction<'_>, row: &AttemptRow<'_>) -> Result<()> {
    record_attempts(tx, std::slice::from_ref(row))
}

/// Appends lines to the attempt timelines, in their order.
fn record_attempts(tx: &Transaction<'_>, rows: &[AttemptRow<'_>]) -> Result<()> {
    let mut full = rows.chunks_exact(LINES_PER_INSERT);
    for chunk in full.by_ref() {
        insert_attempts(tx, &INSERT_ATTEMPTS, chunk)?;
    }
    for row in full.remainder() {
        insert_attempts(tx, &INSERT_ATTEMPT, std::slice::from_ref(row))?;
    }
    Ok(())
}

/// Runs `sql`, the insert of exactly `rows.len()` lines.
fn insert_attempts(tx: &Transaction<'_>, sql: &str, rows: &[AttemptRow<'_>]) -> Result<()> {
    let mut insert = tx.prepare_cached(sql)?;
    for (line, row) in rows.iter().enumerate() {
        let first = line * 8 + 1;
        insert.raw_bind_parameter(first, row.seq)?;
        insert.raw_bind_parameter(first + 1, row.attempt)?;
        insert.raw_bind_parameter(first + 2, row.worker.as_str())?;
        insert.raw_bind_parameter(first + 3, to_millis(row.started_at))?;
        insert.raw_bind_parameter(first + 4, to_millis(row.finished_at))?;
        insert.raw_bind_parameter(first + 5, row.result)?;
        insert.raw_bind_parameter(first + 6, row.exit_code)?;
        insert.raw_bind_parameter(first + 7, row.error)?;
    }
    insert.raw_execute()?;
    Ok(())
}

/// Stores one running attempt's output so far, under the same guard as
/// `SETTLE_HELD`. `updated_at` stays: output is not a change of state.
pub(super) const RECORD_OUTPUT: &str = "UPDATE jobs SET stdout = ?5, stderr = ?6 \
     WHERE id = ?1 AND state = 'processing' AND attempts = ?3 AND started_at = ?4 \
       AND lease_owner IN (SELECT key FROM lease_owners WHERE worker_id = ?2)";

pub(super) fn record_output(
    tx: &Transaction<'_>,
    worker: &WorkerId,
    updates: &[OutputUpdate],
) -> Result<usize> {
    let mut statement = tx.prepare_cached(RECORD_OUTPUT)?;
    let mut landed = 0;
    for update in updates {
        landed += statement.execute(params![
            update.job_id.as_str(),
            worker.as_str(),
            update.attempt,
            to_millis(update.started_at),
            update.stdout,
            update.stderr,
        ])?;
    }
    Ok(landed)
}

/// Extends every lease a worker holds, moving it to the owner of this boot.
pub(super) const RENEW: &str = "UPDATE jobs \
     SET lease_expires_at = ?2, lease_owner = ?3, lease_deadline_ms = ?4 \
     WHERE state = 'processing' \
       AND lease_owner IN (SELECT key FROM lease_owners WHERE worker_id = ?1) \
     RETURNING id";

pub(super) fn renew_leases(
    tx: &Transaction<'_>,
    worker: &WorkerId,
    lease: Duration,
    now: &Now,
) -> Result<Vec<JobId>> {
    let until = now.lease_end(lease);
    let owner = owners::key(tx, worker.as_str(), until.boot_id)?;
    let mut statement = tx.prepare_cached(RENEW)?;
    let ids = statement
        .query_map(
            params![worker.as_str(), until.wall_ms, owner, until.deadline_ms],
            |row| row.get::<_, String>(0),
        )?
        .map(|id| JobId::new(id?).map_err(|err| StoreError::Corrupt(err.to_string())))
        .collect::<Result<Vec<_>>>()?;
    Ok(ids)
}

/// Gives one job back unfinished, uncharged.
pub(super) const RELEASE: &str = "UPDATE jobs \
     SET state = 'pending', attempts = attempts - 1, run_at = ?3, \
         lease_owner = NULL, lease_expires_at = NULL, lease_deadline_ms = NULL, \
         updated_at = ?3 \
     WHERE id = ?1 AND state = 'processing' \
       AND lease_owner IN (SELECT key FROM lease_owners WHERE worker_id = ?2) \
     RETURNING seq, attempts + 1, started_at";

pub(super) fn release(
    tx: &Transaction<'_>,
    worker: &WorkerId,
    ids: &[JobId],
    now: Timestamp,
) -> Result<usize> {
    let mut released = tx.prepare_cached(RELEASE)?;
    let mut count = 0;
    for id in ids {
        let row: Option<(i64, u32, i64)> = released
            .query_row(params![id.as_str(), worker.as_str(), to_millis(now)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((seq, attempt, started_ms)) = row else {
            continue;
        };
        let attempt = AttemptRow {
            seq,
            attempt,
            worker,
            started_at: super::rows::from_millis(started_ms)?,
            finished_at: now,
            result: "released",
            exit_code: None,
            error: Some("released unfinished at worker shutdown"),
        };
        record_attempt(tx, &attempt)?;
        count += 1;
    }
    Ok(count)
}

/// Finds the running jobs whose lease has lapsed: the monotonic clock of the
/// lease's boot has passed its deadline, or the lease was taken in another
/// boot. A lease without a boot was written before leases moved to the
/// monotonic clock and falls back to the wall clock.
pub(super) const RESCUE: &str = "SELECT seq, id, attempts, max_retries, owner.worker_id, \
         started_at \
     FROM jobs LEFT JOIN lease_owners AS owner ON owner.key = jobs.lease_owner \
     WHERE state = 'processing' AND CASE \
         WHEN owner.boot_id IS NULL THEN lease_expires_at < ?1 \
         ELSE owner.boot_id <> ?2 OR lease_deadline_ms < ?3 END";

pub(super) fn rescue_expired(tx: &Transaction<'_>, clocks: &Now) -> Result<Vec<JobId>> {
    let now = clocks.wall;
    let policy = registry::config(tx)?.backoff();
    let mut expired = tx.prepare_cached(RESCUE)?;
    let reading = &clocks.monotonic;
    let lapsed = expired
        .query_map(
            params![to_millis(now), reading.boot_id, reading.millis],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, u32>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                ))
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let outcome = AttemptOutcome::failed(LOST_WORKER_ERROR);
    let mut rescued = Vec::with_capacity(lapsed.len());
    for (seq, id, attempts, max_retries, worker, started_ms) in lapsed {
        let id = JobId::new(id).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        let settlement = settle_attempt(&outcome, attempts, max_retries, &policy, now);
        let ended = Ended {
            seq,
            settlement: &settlement,
            exit_code: None,
            error: outcome.error(),
            stdout: None,
            stderr: None,
            finished_at: now,
        };
        write_ended(tx, &ended, now)?;
        let worker = WorkerId::from_stored(worker.unwrap_or_default());
        let started_at = started_ms
            .map(super::rows::from_millis)
            .transpose()?
            .unwrap_or(now);
        let attempt = AttemptRow {
            seq,
            attempt: attempts,
            worker: &worker,
            started_at,
            finished_at: now,
            result: "lost",
            exit_code: None,
            error: outcome.error(),
        };
        record_attempt(tx, &attempt)?;
        tracing::warn!(
            job_id = %id,
            attempt = attempts,
            worker = %worker,
            state = %settlement.state,
            "rescued a job from a lost worker"
        );
        rescued.push(id);
    }
    owners::prune(tx)?;
    Ok(rescued)
}

/// Brings one dead job back.
pub(super) const REVIVE: &str = "UPDATE jobs \
     SET state = 'pending', attempts = 0, run_at = ?2, updated_at = ?2 \
     WHERE id = ?1 AND state = 'dead'";

pub(super) fn revive(tx: &Transaction<'_>, id: &JobId, now: Timestamp) -> Result<Job> {
    let job = existing(tx, id)?;
    check_transition(id, job.state, Transition::Revive)?;
    tx.prepare_cached(REVIVE)?
        .execute(params![id.as_str(), to_millis(now)])?;
    existing(tx, id)
}

/// Sends one waiting job to the dead-letter queue.
pub(super) const CANCEL: &str = "UPDATE jobs \
     SET state = 'dead', last_error = 'cancelled by an operator', updated_at = ?2 \
     WHERE id = ?1 AND state IN ('pending', 'failed')";

pub(super) fn cancel(tx: &Transaction<'_>, id: &JobId, now: Timestamp) -> Result<Job> {
    let job = existing(tx, id)?;
    check_transition(id, job.state, Transition::Cancel)?;
    tx.prepare_cached(CANCEL)?
        .execute(params![id.as_str(), to_millis(now)])?;
    existing(tx, id)
}

/// Stores copied records whole, refusing the batch if any id is taken.
/// Records come here as [`crate::imported`] leaves them: none is held by a
/// worker, so none names a lease owner.
pub(super) fn import(tx: &Transaction<'_>, records: &[JobRecord]) -> Result<usize> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO jobs (id, kind, command, payload, state, attempts, max_retries, priority, \
             run_at, timeout_secs, created_at, updated_at, started_at, finished_at, exit_code, \
             last_error, stdout, stderr, lease_expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
             ?18, ?19)",
    )?;
    for record in records {
        let job = &record.job;
        let inserted = insert.execute(params![
            job.id.as_str(),
            job.kind,
            job.command,
            job.payload.as_ref().map(|value| value.to_string()),
            job.state.as_str(),
            job.attempts,
            job.max_retries,
            job.priority,
            to_millis(job.run_at),
            job.timeout_secs,
            to_millis(job.created_at),
            to_millis(job.updated_at),
            job.started_at.map(to_millis),
            job.finished_at.map(to_millis),
            job.exit_code,
            job.last_error,
            job.stdout,
            job.stderr,
            job.lease_expires_at.map(to_millis),
        ]);
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                return Err(StoreError::Duplicate(job.id.clone()));
            }
            Err(err) => return Err(err.into()),
        }
        let seq = tx.last_insert_rowid();
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

fn existing(tx: &Transaction<'_>, id: &JobId) -> Result<Job> {
    queries::job(tx, id)?.ok_or_else(|| StoreError::NotFound(id.clone()))
}

fn check_transition(id: &JobId, from: JobState, transition: Transition) -> Result<JobState> {
    from.apply(transition)
        .map_err(|source| StoreError::WrongState {
            id: id.clone(),
            source,
        })
}
