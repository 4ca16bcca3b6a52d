//! Deciding what a failure means: a permanent error goes straight to the
//! dead-letter queue, "retry after" waits as long as the handler says, and
//! any other error retries on the queue's backoff schedule, configured here.
//!
//! Every event of the pool is printed as it happens.

#![expect(
    clippy::print_stdout,
    reason = "an example shows what happens on the terminal"
)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use queue_core::{ConfigKey, JobId, JobSpec};
use queue_store::{SqliteStore, Store};
use queue_worker::{JobContext, JobError, JobEvent, WorkerPool};
use serde::{Deserialize, Serialize};

/// A call to a web service, and how the fake service answers it.
#[derive(Serialize, Deserialize)]
struct Call {
    endpoint: String,
    answer: Answer,
}

#[derive(Serialize, Deserialize)]
enum Answer {
    /// 200 on every attempt.
    Ok,
    /// 400: the request is wrong, and sending it again will not help.
    BadRequest,
    /// 429 with a Retry-After header on the first attempt, then 200.
    RateLimited,
    /// 503 for the first `n` attempts, then 200.
    Unavailable(u32),
    /// A connection error on every attempt.
    Down,
}

fn call(ctx: &JobContext, call: Call) -> Result<(), JobError> {
    let attempt = ctx.attempt();
    match call.answer {
        Answer::Ok => Ok(()),
        Answer::BadRequest => Err(JobError::permanent(format!(
            "{}: 400 bad request",
            call.endpoint
        ))),
        Answer::RateLimited if attempt == 1 => Err(JobError::retry_after(
            Duration::from_millis(300),
            format!("{}: 429, retry after 300ms", call.endpoint),
        )),
        Answer::Unavailable(n) if attempt <= n => Err(JobError::retry(format!(
            "{}: 503 service unavailable",
            call.endpoint
        ))),
        Answer::RateLimited | Answer::Unavailable(_) => Ok(()),
        // Any error type converts into a retryable JobError with `?`.
        Answer::Down => {
            let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
            Err(refused)?
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);

    // The backoff schedule is shared by every worker on the queue: after
    // failed attempt n a job waits base^n seconds, at most backoff-max. A
    // base of 1 and a maximum of 1 s keep this example short.
    store.set_config(ConfigKey::BackoffBase, "1")?;
    store.set_config(ConfigKey::BackoffMax, "1s")?;
    store.set_config(ConfigKey::MaxRetries, "2")?;

    let specs = [
        ("ok", Answer::Ok, None),
        ("bad-request", Answer::BadRequest, Some(5)),
        ("rate-limited", Answer::RateLimited, None),
        ("flaky", Answer::Unavailable(2), None),
        ("down", Answer::Down, Some(1)),
    ];
    let mut jobs = Vec::new();
    for (endpoint, answer, max_retries) in specs {
        let spec = JobSpec::typed(
            "call",
            &Call {
                endpoint: endpoint.into(),
                answer,
            },
        )?
        .with_id(JobId::new(endpoint)?);
        // Each job may override the queue's default number of retries.
        jobs.push(match max_retries {
            Some(n) => spec.with_max_retries(n),
            None => spec,
        });
    }

    let (finished, endings) = mpsc::channel();
    let started = Instant::now();
    let clock = store.clone();
    let pool = WorkerPool::builder(store.clone())
        .typed("call", call)
        .concurrency(2)
        .poll_interval(Duration::from_millis(50))
        .on_event(move |event| {
            let at = started.elapsed().as_secs_f64();
            let attempt = event.attempt();
            let line = match event {
                JobEvent::Started(_) => "started".to_owned(),
                JobEvent::Completed { .. } => "completed".to_owned(),
                JobEvent::Failed {
                    error, retry_at, ..
                } => {
                    let wait = (*retry_at - clock.now()).num_milliseconds().max(0);
                    format!("failed ({error}); retrying in about {wait} ms")
                }
                JobEvent::Dead { error, .. } => format!("dead ({error})"),
                other => format!("{other:?}"),
            };
            println!(
                "[{at:5.2}s] job {} attempt {}: {line}",
                attempt.job_id, attempt.number
            );
            if matches!(event, JobEvent::Completed { .. } | JobEvent::Dead { .. }) {
                let _ = finished.send(());
            }
        })
        .start()?;
    let ids = pool.client().enqueue_batch(jobs)?;

    // Wait until every job has completed or died; retries are scheduled in
    // the future, so "idle" alone would stop too early.
    for _ in &ids {
        endings.recv_timeout(Duration::from_secs(30))?;
    }
    pool.handle().shutdown();
    let summary = pool.join()?;
    let counts = store.counts()?;
    println!(
        "{} completed, {} dead; {} failed attempts were retried",
        counts.completed, counts.dead, summary.failed
    );
    Ok(())
}
