//! Store throughput: enqueue, claim, complete and the claim-complete round
//! trip, each with 10 thousand and 1 million jobs already in the table.
//!
//! ```sh
//! cargo bench -p queuectl-benches --bench store
//! ```
//!
//! The table size is held steady while a benchmark runs: claimed jobs are
//! released, and drained jobs replaced, outside the timed part.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use queue_core::{AttemptOutcome, AttemptReport, Job, JobSpec, WorkerId};
use queue_store::{SqliteStore, Store};
use queuectl_benches::{NOOP_KIND, claim_request, fill, fresh_store};

const SIZES: [usize; 2] = [10_000, 1_000_000];

/// One template database per size, built once and copied for each benchmark.
struct Templates {
    dir: tempfile::TempDir,
}

impl Templates {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for size in SIZES {
            let sub = dir.path().join(size.to_string());
            std::fs::create_dir(&sub).expect("a directory per size");
            let store = fresh_store(&sub);
            fill(&store, size);
            drop(store);
            checkpoint(&sub.join("bench.db"));
        }
        Self { dir }
    }

    /// A private copy of the queue holding `size` pending jobs.
    fn copy(&self, size: usize) -> (tempfile::TempDir, SqliteStore) {
        let target = tempfile::tempdir().expect("a temporary directory");
        let from = self.dir.path().join(size.to_string()).join("bench.db");
        std::fs::copy(&from, target.path().join("bench.db")).expect("copy the template");
        let store = SqliteStore::open(target.path().join("bench.db")).expect("open the copy");
        (target, store)
    }
}

/// Folds the write-ahead log into the main file, so one file copy is the whole queue.
fn checkpoint(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open for checkpoint");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
}

fn worker() -> WorkerId {
    WorkerId::generate("bench", std::process::id())
}

fn claim(store: &SqliteStore, worker: &WorkerId, n: usize) -> Vec<Job> {
    store.claim(&claim_request(worker, n)).expect("claim")
}

fn completion(job: &Job) -> AttemptReport {
    let now = chrono::Utc::now();
    AttemptReport {
        job_id: job.id.clone(),
        attempt: job.attempts,
        outcome: AttemptOutcome::Succeeded,
        exit_code: None,
        stdout: None,
        stderr: None,
        started_at: job.started_at.unwrap_or(now),
        finished_at: now,
    }
}

/// Tops the queue back up to `size` pending jobs.
fn refill(store: &SqliteStore, size: usize) {
    let pending = store.counts().expect("counts").pending as usize;
    if pending < size {
        fill(store, size - pending);
    }
}

fn enqueue(c: &mut Criterion, templates: &Templates) {
    let mut group = c.benchmark_group("enqueue");
    for size in SIZES {
        for batch in [1usize, 100] {
            let (_dir, store) = templates.copy(size);
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(format!("batch_{batch}"), size);
            group.bench_function(id, |b| {
                b.iter(|| {
                    let specs =
                        (0..batch).map(|_| JobSpec::new(NOOP_KIND, serde_json::Value::Null));
                    store.enqueue(specs.collect()).expect("enqueue")
                });
            });
        }
    }
    group.finish();
}

fn claim_batches(c: &mut Criterion, templates: &Templates) {
    let mut group = c.benchmark_group("claim");
    for size in SIZES {
        let (_dir, store) = templates.copy(size);
        let worker = worker();
        for batch in [1usize, 16, 64, 128] {
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(format!("batch_{batch}"), size);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut held = Vec::new();
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let jobs = claim(&store, &worker, batch);
                        elapsed += started.elapsed();
                        held.extend(jobs.into_iter().map(|job| job.id));
                        // Give the jobs back before they drain a small table.
                        if held.len() >= size / 4 {
                            store.release(&worker, &held).expect("release");
                            held.clear();
                        }
                    }
                    store.release(&worker, &held).expect("release");
                    elapsed
                });
            });
        }
    }
    group.finish();
}

fn complete(c: &mut Criterion, templates: &Templates) {
    let mut group = c.benchmark_group("complete");
    for size in SIZES {
        let (_dir, store) = templates.copy(size);
        let worker = worker();
        for batch in [1usize, 32] {
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(format!("batch_{batch}"), size);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        let jobs = claim(&store, &worker, batch);
                        let reports: Vec<_> = jobs.iter().map(completion).collect();
                        let started = Instant::now();
                        store.settle(&worker, &reports).expect("settle");
                        elapsed += started.elapsed();
                        if store.counts().expect("counts").pending < 1_000 {
                            refill(&store, size);
                        }
                    }
                    elapsed
                });
            });
        }
    }
    group.finish();
}

fn round_trip(c: &mut Criterion, templates: &Templates) {
    let mut group = c.benchmark_group("claim_complete");
    for size in SIZES {
        let (_dir, store) = templates.copy(size);
        let worker = worker();
        for batch in [1usize, 32] {
            group.throughput(Throughput::Elements(batch as u64));
            let id = BenchmarkId::new(format!("batch_{batch}"), size);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut elapsed = Duration::ZERO;
                    for _ in 0..iters {
                        let started = Instant::now();
                        let jobs = claim(&store, &worker, batch);
                        let reports: Vec<_> = jobs.iter().map(completion).collect();
                        store.settle(&worker, &reports).expect("settle");
                        elapsed += started.elapsed();
                        if store.counts().expect("counts").pending < 1_000 {
                            refill(&store, size);
                        }
                    }
                    elapsed
                });
            });
        }
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let templates = Templates::new();
    enqueue(c, &templates);
    claim_batches(c, &templates);
    complete(c, &templates);
    round_trip(c, &templates);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = store;
    config = config();
    targets = benches
}
criterion_main!(store);
