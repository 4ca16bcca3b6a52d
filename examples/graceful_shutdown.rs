//! Graceful shutdown on Ctrl-C: the pool stops claiming, running jobs get a
//! grace period to finish, and those still running after it are cancelled,
//! stop cleanly and go back to the queue for the next start.
//!
//! So that it ends by itself, the example presses Ctrl-C for you, sending
//! itself SIGINT once a few jobs have completed; press it earlier to see the
//! same. A second Ctrl-C stops at once.

#![expect(
    clippy::print_stdout,
    reason = "an example shows what happens on the terminal"
)]

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use queue_core::{JobSpec, JobState};
use queue_store::{JobQuery, SqliteStore, Store};
use queue_worker::{JobContext, JobError, JobEvent, WorkerPool};
use serde::{Deserialize, Serialize};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Work that takes a while and can stop between steps.
#[derive(Serialize, Deserialize)]
struct Export {
    name: String,
    steps: u32,
}

fn export(ctx: &JobContext, job: Export) -> Result<(), JobError> {
    for step in 1..=job.steps {
        // Waiting on the cancel signal instead of sleeping lets a shutdown
        // interrupt the job between steps.
        if ctx.cancel().wait_timeout(Duration::from_millis(100)) {
            // Whatever this returns, a job cancelled by a shutdown is put
            // back in the queue without counting the attempt.
            println!(
                "  {} stopped cleanly at step {step} of {}",
                job.name, job.steps
            );
            return Err(JobError::retry("interrupted by shutdown"));
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);

    let (completed_tx, completed) = mpsc::channel();
    let pool = WorkerPool::builder(store.clone())
        .typed("export", export)
        .concurrency(3)
        .shutdown_grace(Duration::from_millis(500))
        .on_event(move |event| match event {
            JobEvent::Completed { attempt, .. } => {
                println!("  {} completed", attempt.job_id);
                let _ = completed_tx.send(());
            }
            JobEvent::Released(attempt) => println!("  {} released", attempt.job_id),
            _ => {}
        })
        .start()?;

    // Short exports finish at once; long ones outlast the grace period.
    let client = pool.client();
    for (n, steps) in [1, 1, 1, 3, 50, 50].into_iter().enumerate() {
        let name = format!("export-{n}");
        let spec = JobSpec::typed(
            "export",
            &Export {
                name: name.clone(),
                steps,
            },
        )?
        .with_id(name.parse()?);
        client.enqueue_spec(spec)?;
    }

    // The first signal asks for a graceful shutdown, a second one for an
    // immediate stop, as `queuectl worker start` does.
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let signal_handle = signals.handle();
    let handle = pool.handle();
    let listener = std::thread::spawn(move || {
        for (count, _signal) in signals.forever().enumerate() {
            if count == 0 {
                println!("Ctrl-C: finishing running jobs for up to 500 ms");
                handle.shutdown();
            } else {
                println!("Ctrl-C again: stopping now");
                handle.stop_now();
                break;
            }
        }
    });

    // Press Ctrl-C on the user's behalf once the three short exports are
    // done, or after ten seconds whatever happened.
    for _ in 0..3 {
        if completed.recv_timeout(Duration::from_secs(10)).is_err() {
            break;
        }
    }
    signal_hook::low_level::raise(SIGINT)?;

    let summary = pool.join()?;
    signal_handle.close();
    let _ = listener.join();

    println!(
        "stopped: {} completed, {} released",
        summary.completed, summary.released
    );
    let waiting = store.list(&JobQuery {
        state: Some(JobState::Pending),
        limit: 10,
        ..JobQuery::default()
    })?;
    for job in waiting {
        println!(
            "  {} is pending, {} attempts used; it runs on the next start",
            job.id, job.attempts
        );
    }
    Ok(())
}
