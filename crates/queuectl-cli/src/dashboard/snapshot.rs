//! What the pages and the API show, read from the store in one blocking
//! call each, and the actions, which are store calls too.

use std::sync::Arc;

use queue_core::{AttemptRecord, Job, JobId, JobState, StateCounts, Timestamp};
use queue_store::{FinishedMinute, JobQuery, Store, StoreError, WorkerRecord};

use super::error::WebError;
use super::params::Filter;

/// How far back the throughput chart reaches, in minutes.
pub(super) const THROUGHPUT_MINUTES: i64 = 60;
/// How many of the newest jobs the overview lists.
const RECENT_JOBS: usize = 10;
/// The most running jobs the overview reads to show beside their workers.
const RUNNING_SHOWN: usize = 200;
/// How many dead jobs "retry all" revives per read of the dead list.
const REVIVE_BATCH: usize = 200;

/// Runs `work` on the runtime's blocking threads, where store calls belong.
pub(super) async fn blocking<T: Send + 'static>(
    store: &Arc<dyn Store>,
    work: impl FnOnce(&dyn Store) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, WebError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || work(store.as_ref()))
        .await
        .map_err(|err| WebError::from(anyhow::anyhow!("a dashboard task failed: {err}")))?
        .map_err(WebError::from)
}

/// The overview: counts, workers and what they run, throughput, the oldest
/// waiting job and the newest jobs.
#[derive(Debug)]
pub(super) struct Overview {
    pub(super) now: Timestamp,
    pub(super) counts: StateCounts,
    pub(super) workers: Vec<WorkerView>,
    /// One entry per minute of the chart, oldest first, empty ones included.
    pub(super) minutes: Vec<FinishedMinute>,
    pub(super) oldest_pending: Option<Job>,
    pub(super) recent: Vec<Job>,
}

/// A live worker and the jobs it holds.
#[derive(Debug)]
pub(super) struct WorkerView {
    pub(super) record: WorkerRecord,
    pub(super) jobs: Vec<Job>,
}

pub(super) fn overview(store: &dyn Store) -> anyhow::Result<Overview> {
    let now = store.now();
    let counts = store.counts()?;
    let mut running = store.list(&JobQuery {
        state: Some(JobState::Processing),
        limit: RUNNING_SHOWN,
        ..JobQuery::default()
    })?;
    let workers = crate::commands::worker::live(store)?
        .into_iter()
        .map(|record| {
            let (mine, others) = running
                .drain(..)
                .partition(|job: &Job| job.worker_id.as_ref() == Some(&record.id));
            running = others;
            WorkerView { record, jobs: mine }
        })
        .collect();
    let since = minute_start(now) - chrono::Duration::minutes(THROUGHPUT_MINUTES - 1);
    let minutes = every_minute(since, store.finished_per_minute(since)?);
    Ok(Overview {
        now,
        counts,
        workers,
        minutes,
        oldest_pending: store.oldest_pending()?,
        recent: store.list(&JobQuery {
            limit: RECENT_JOBS,
            ..JobQuery::default()
        })?,
    })
}

/// The start of the minute `at` falls in.
fn minute_start(at: Timestamp) -> Timestamp {
    let millis = at.timestamp_millis();
    chrono::DateTime::from_timestamp_millis(millis - millis.rem_euclid(60_000)).unwrap_or(at)
}

/// The chart's minutes from `since` on, with the minutes the store left out
/// (none finished) filled in as zero.
fn every_minute(since: Timestamp, counted: Vec<FinishedMinute>) -> Vec<FinishedMinute> {
    (0..THROUGHPUT_MINUTES)
        .map(|n| {
            let minute = since + chrono::Duration::minutes(n);
            counted
                .iter()
                .find(|counted| counted.minute == minute)
                .copied()
                .unwrap_or(FinishedMinute {
                    minute,
                    completed: 0,
                    dead: 0,
                })
        })
        .collect()
}

/// A page of a job list, and whether more follow.
#[derive(Debug)]
pub(super) struct JobPage {
    pub(super) now: Timestamp,
    pub(super) counts: StateCounts,
    pub(super) jobs: Vec<Job>,
    pub(super) more: bool,
}

pub(super) fn jobs(
    store: &dyn Store,
    filter: &Filter,
    limit: usize,
    offset: usize,
) -> anyhow::Result<JobPage> {
    // One more than asked for tells whether another page follows.
    let mut jobs = store.list(&query(filter, limit.saturating_add(1), offset))?;
    let more = jobs.len() > limit;
    jobs.truncate(limit);
    Ok(JobPage {
        now: store.now(),
        counts: store.counts()?,
        jobs,
        more,
    })
}

pub(super) fn query(filter: &Filter, limit: usize, offset: usize) -> JobQuery {
    JobQuery {
        state: filter.state,
        text: filter.text.clone(),
        limit,
        offset,
    }
}

/// One job and its attempts.
#[derive(Debug)]
pub(super) struct Detail {
    pub(super) now: Timestamp,
    pub(super) job: Job,
    pub(super) history: Vec<AttemptRecord>,
}

pub(super) fn detail(store: &dyn Store, id: &JobId) -> anyhow::Result<Detail> {
    let job = store
        .job(id)?
        .ok_or_else(|| StoreError::NotFound(id.clone()))?;
    Ok(Detail {
        now: store.now(),
        history: store.attempts(id)?,
        job,
    })
}

/// Revives every job that is dead when it is called, and returns how many
/// were revived.
///
/// Known limitation: jobs are revived one at a time, not in one
/// transaction, so a job that dies again while this runs may be revived
/// twice, and one another operator revived first is skipped; either way
/// each revived job was dead when revived.
pub(super) fn revive_all(store: &dyn Store) -> anyhow::Result<usize> {
    let mut budget = store.counts()?.dead;
    let mut revived = 0;
    while budget > 0 {
        let dead = store.list(&JobQuery {
            state: Some(JobState::Dead),
            limit: REVIVE_BATCH,
            ..JobQuery::default()
        })?;
        if dead.is_empty() {
            break;
        }
        for job in dead {
            if budget == 0 {
                break;
            }
            budget -= 1;
            match store.revive(&job.id) {
                Ok(_) => revived += 1,
                Err(StoreError::WrongState { .. } | StoreError::NotFound(_)) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(revived)
}
