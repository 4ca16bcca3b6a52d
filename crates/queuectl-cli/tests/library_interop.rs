//! The command line and the Rust library share one database format: jobs
//! enqueued by either are seen, and run, by the other, across processes.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use queue_core::{Job, JobId, JobSpec, JobState};
use queue_store::{SqliteStore, Store};
use queue_worker::{Client, JobContext, JobError, WorkerPool};
use serde::{Deserialize, Serialize};

const DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Greeting {
    name: String,
}

fn queuectl(db: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_queuectl"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run queuectl");
    assert!(output.status.success(), "queuectl {args:?}: {output:?}");
    output
}

fn wait_for_state(store: &SqliteStore, id: &JobId, state: JobState) {
    let give_up = Instant::now() + DEADLINE;
    while store.job(id).unwrap().map(|job| job.state) != Some(state) {
        assert!(
            Instant::now() < give_up,
            "job {id} not {state} within {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `queuectl list` in another process shows a typed job the library
/// enqueued, with its kind, payload and options.
#[test]
fn the_cli_lists_jobs_the_library_enqueued() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("queue.db");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let greeting = Greeting { name: "Ada".into() };
    let spec = JobSpec::typed("greet", &greeting)
        .unwrap()
        .with_priority(4)
        .with_max_retries(6);
    let id = Client::new(store).enqueue_spec(spec).unwrap();

    let output = queuectl(&db, &["list", "--json"]);
    let jobs: Vec<Job> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.id, id);
    assert_eq!(job.kind, "greet");
    assert_eq!(job.state, JobState::Pending);
    assert_eq!((job.priority, job.max_retries), (4, 6));
    let payload: Greeting = serde_json::from_value(job.payload.clone().unwrap()).unwrap();
    assert_eq!(payload, greeting);
}

/// A job `queuectl enqueue` stored is decoded and run by a library pool, and
/// `queuectl` then sees it completed.
#[test]
fn a_library_pool_runs_jobs_the_cli_enqueued() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("queue.db");
    let output = queuectl(
        &db,
        &["enqueue", r#"{"kind":"greet","payload":{"name":"Grace"}}"#],
    );
    let id = JobId::new(String::from_utf8(output.stdout).unwrap().trim()).unwrap();

    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let (greeted, received) = std::sync::mpsc::channel();
    let pool = WorkerPool::builder(store)
        .typed("greet", move |_ctx: &JobContext, greeting: Greeting| {
            greeted
                .send(greeting.name)
                .map_err(|_| JobError::permanent("test is gone"))
        })
        .start()
        .unwrap();
    pool.handle().shutdown_when_idle();
    pool.join().unwrap();
    assert_eq!(received.try_recv().as_deref(), Ok("Grace"));

    let output = queuectl(&db, &["list", "--state", "completed", "--json"]);
    let jobs: Vec<Job> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(jobs.iter().map(|job| &job.id).collect::<Vec<_>>(), [&id]);
}

/// A `queuectl worker` process runs a shell job the library enqueued, and
/// stops when `queuectl worker stop` asks it to.
#[test]
fn a_cli_worker_runs_shell_jobs_the_library_enqueued() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("queue.db");
    let store = SqliteStore::open(&db).unwrap();
    let client = Client::new(Arc::new(store.clone()));
    let id = client
        .enqueue_spec(JobSpec::shell("echo from the library"))
        .unwrap();

    let mut worker = Reaped(
        Command::new(env!("CARGO_BIN_EXE_queuectl"))
            .arg("--db")
            .arg(&db)
            .args(["worker", "start", "--count", "1"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a queuectl worker"),
    );
    wait_for_state(&store, &id, JobState::Completed);
    assert_eq!(
        store.job(&id).unwrap().unwrap().stdout.as_deref(),
        Some("from the library\n")
    );

    queuectl(&db, &["worker", "stop"]);
    let status = worker.0.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// A child process that is killed if the test fails before it exits.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
