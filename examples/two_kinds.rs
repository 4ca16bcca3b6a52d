//! An application with two kinds of job: it registers a handler for each,
//! enqueues a hundred jobs and runs them all on four threads.
//!
//! `email` jobs are handled by a closure; `resize` jobs by a type that
//! implements `TypedHandler`. Both get their payload decoded before they run.

#![expect(
    clippy::print_stdout,
    reason = "an example shows what happens on the terminal"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use queue_core::JobSpec;
use queue_store::{SqliteStore, Store};
use queue_worker::{JobContext, JobError, JobEvent, TypedHandler, WorkerPool};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Email {
    to: String,
    subject: String,
}

#[derive(Serialize, Deserialize)]
struct Resize {
    image: String,
    width: u32,
}

/// A handler with state of its own: the widths it refuses to produce.
struct Resizer {
    max_width: u32,
}

impl TypedHandler for Resizer {
    type Payload = Resize;

    fn run(&self, _ctx: &JobContext, job: Resize) -> Result<(), JobError> {
        if job.width > self.max_width {
            return Err(JobError::permanent(format!(
                "{} wider than {}",
                job.image, self.max_width
            )));
        }
        // Stands in for real work.
        std::thread::sleep(Duration::from_millis(5));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);

    let completed = Arc::new(AtomicU64::new(0));
    let counter = completed.clone();
    let pool = WorkerPool::builder(store.clone())
        .typed("email", |_ctx: &JobContext, email: Email| {
            if email.to.is_empty() || email.subject.is_empty() {
                return Err(JobError::permanent(
                    "an email needs a recipient and a subject",
                ));
            }
            // Stands in for talking to a mail server.
            std::thread::sleep(Duration::from_millis(2));
            Ok(())
        })
        .typed_handler("resize", Resizer { max_width: 4096 })
        .concurrency(4)
        .on_event(move |event| {
            if let JobEvent::Completed { .. } = event {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
        .start()?;

    // The pool's client wakes the pool as soon as the batch is stored.
    let client = pool.client();
    let started = Instant::now();
    let mut batch = Vec::new();
    for n in 0..60 {
        let email = Email {
            to: format!("user{n}@example.com"),
            subject: "Welcome".into(),
        };
        batch.push(JobSpec::typed("email", &email)?);
    }
    for n in 0..40 {
        let resize = Resize {
            image: format!("photo-{n}.jpg"),
            width: 640 + n * 10,
        };
        // Thumbnails matter more than mail: they run first.
        batch.push(JobSpec::typed("resize", &resize)?.with_priority(10));
    }
    let ids = client.enqueue_batch(batch)?;
    println!("enqueued {} jobs", ids.len());

    pool.handle().shutdown_when_idle();
    let summary = pool.join()?;
    let counts = store.counts()?;
    println!(
        "drained in {:.2}s: {} completed ({} seen by the event hook), {} dead, {} pending",
        started.elapsed().as_secs_f64(),
        summary.completed,
        completed.load(Ordering::Relaxed),
        counts.dead,
        counts.pending + counts.failed,
    );
    Ok(())
}
