//! Store throughput: enqueue, claim, complete and the claim-complete round
//! trip, each with 10 thousand and 1 million jobs already in the table, on
//! SQLite and, when a server is given, on PostgreSQL, side by side.
//!
//! ```sh
//! cargo bench -p queuectl-benches --bench store
//! QUEUECTL_BENCH_POSTGRES_URL=postgres://user@127.0.0.1:5432/db \
//!     cargo bench -p queuectl-benches --bench store
//! ```
//!
//! The table size is held steady while a benchmark runs: claimed jobs are
//! released, and drained jobs replaced, outside the timed part. SQLite
//! benchmarks each get a fresh copy of a template file; on PostgreSQL one
//! schema per table size serves every benchmark (enqueue, which grows the
//! table, runs last), vacuumed before each, and the schemas are dropped at
//! the end. Beside the store's claims, `claim/raw` runs the store's claim
//! statement (see `raw` for what it leaves out) on a bare rusqlite
//! connection to a copy of the same template, releasing as the store does:
//! what SQLite itself makes of a claim at each size.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use queue_core::{AttemptOutcome, AttemptReport, Job, JobSpec, WorkerId};
use queue_store::{PostgresStore, SqliteStore, Store};
use queuectl_benches::{NOOP_KIND, claim_request, fill, fresh_store, raw};

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

    /// A private copy of the queue file holding `size` pending jobs, and the
    /// directory that holds it.
    fn copy_file(&self, size: usize) -> (tempfile::TempDir, PathBuf) {
        let target = tempfile::tempdir().expect("a temporary directory");
        let from = self.dir.path().join(size.to_string()).join("bench.db");
        let file = target.path().join("bench.db");
        std::fs::copy(&from, &file).expect("copy the template");
        (target, file)
    }

    /// A private copy of the queue holding `size` pending jobs.
    fn copy(&self, size: usize) -> Queue {
        let (target, file) = self.copy_file(size);
        let store = SqliteStore::open(file).expect("open the copy");
        Queue {
            backend: "sqlite",
            store: Arc::new(store),
            _dir: Some(target),
            postgres: None,
        }
    }
}

/// A queue to measure, and the directory that holds it if it is a file.
struct Queue {
    backend: &'static str,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    /// The server and schema of a PostgreSQL queue, to vacuum it.
    postgres: Option<(String, String)>,
}

impl Queue {
    /// Clears away the dead row versions earlier benchmarks left behind.
    ///
    /// The PostgreSQL queues are shared by every benchmark, and each claim,
    /// settle and release leaves a dead version of the rows it changed. A
    /// benchmark that churned a small table leaves it with many times more
    /// dead versions than live rows, which the next one's claim scans step
    /// over until autovacuum, at its own pace, catches up: without this,
    /// a result depended on the benchmarks before it and on that timing.
    fn tidy(&self) {
        let Some((url, schema)) = &self.postgres else {
            return;
        };
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        client
            .batch_execute(&format!(
                "VACUUM (ANALYZE) {schema}.jobs, {schema}.attempts, {schema}.state_counts"
            ))
            .expect("vacuum");
    }
}

/// One PostgreSQL queue per table size, each in a schema of its own.
struct Postgres {
    url: String,
    queues: Vec<(usize, String, Arc<dyn Store>)>,
}

impl Postgres {
    /// The server named by `QUEUECTL_BENCH_POSTGRES_URL`, if any.
    #[expect(clippy::print_stderr, reason = "a benchmark says what it leaves out")]
    fn from_env() -> Option<Self> {
        let Ok(url) = std::env::var("QUEUECTL_BENCH_POSTGRES_URL") else {
            eprintln!("PostgreSQL benchmarks skipped: QUEUECTL_BENCH_POSTGRES_URL is not set");
            return None;
        };
        let queues = SIZES
            .iter()
            .map(|&size| {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let store = PostgresStore::builder(url.as_str())
                    .schema(schema.as_str())
                    .open()
                    .unwrap_or_else(|err| panic!("cannot open the PostgreSQL queue: {err}"));
                let store: Arc<dyn Store> = Arc::new(store);
                fill(store.as_ref(), size);
                (size, schema, store)
            })
            .collect();
        Some(Self { url, queues })
    }

    fn queue(&self, size: usize) -> Queue {
        let (_, schema, store) = self
            .queues
            .iter()
            .find(|(s, _, _)| *s == size)
            .expect("a queue of every size");
        Queue {
            backend: "postgres",
            store: Arc::clone(store),
            _dir: None,
            postgres: Some((self.url.clone(), schema.clone())),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let schemas: Vec<String> = self.queues.drain(..).map(|(_, schema, _)| schema).collect();
        let Ok(mut client) = postgres::Client::connect(&self.url, postgres::NoTls) else {
            return;
        };
        for schema in schemas {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// Every backend's queue holding `size` pending jobs.
struct Backends {
    templates: Templates,
    postgres: Option<Postgres>,
}

impl Backends {
    fn queues(&self, size: usize) -> Vec<Queue> {
        let mut queues = vec![self.templates.copy(size)];
        queues.extend(self.postgres.as_ref().map(|pg| pg.queue(size)));
        queues
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

fn claim(store: &dyn Store, worker: &WorkerId, n: usize) -> Vec<Job> {
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
fn refill(store: &dyn Store, size: usize) {
    let pending = store.counts().expect("counts").pending as usize;
    if pending < size {
        fill(store, size - pending);
    }
}

fn enqueue(c: &mut Criterion, backends: &Backends) {
    let mut group = c.benchmark_group("enqueue");
    for size in SIZES {
        for batch in [1usize, 100] {
            for queue in backends.queues(size) {
                let Queue { backend, store, .. } = &queue;
                group.throughput(Throughput::Elements(batch as u64));
                let id = BenchmarkId::new(format!("{backend}/batch_{batch}"), size);
                queue.tidy();
                group.bench_function(id, |b| {
                    b.iter(|| {
                        let specs =
                            (0..batch).map(|_| JobSpec::new(NOOP_KIND, serde_json::Value::Null));
                        store.enqueue(specs.collect()).expect("enqueue")
                    });
                });
            }
        }
    }
    group.finish();
}

fn claim_batches(c: &mut Criterion, backends: &Backends) {
    let mut group = c.benchmark_group("claim");
    for size in SIZES {
        for queue in backends.queues(size) {
            let Queue { backend, store, .. } = &queue;
            let store = store.as_ref();
            let worker = worker();
            for batch in [1usize, 16, 64, 128] {
                group.throughput(Throughput::Elements(batch as u64));
                let id = BenchmarkId::new(format!("{backend}/batch_{batch}"), size);
                queue.tidy();
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut held = Vec::new();
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iters {
                            let started = Instant::now();
                            let jobs = claim(store, &worker, batch);
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
        raw_claims(&mut group, &backends.templates, size);
    }
    group.finish();
}

/// The store's claim statement on a bare rusqlite connection to a copy of
/// the same template: what SQLite itself makes of a claim at this size.
fn raw_claims(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    templates: &Templates,
    size: usize,
) {
    let (_dir, file) = templates.copy_file(size);
    let mut conn = raw::open(&file);
    for batch in [1usize, 16, 64, 128] {
        group.throughput(Throughput::Elements(batch as u64));
        let id = BenchmarkId::new(format!("raw/batch_{batch}"), size);
        group.bench_function(id, |b| {
            b.iter_custom(|iters| {
                let mut held = 0;
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    held += raw::claim_once(&mut conn, batch).len();
                    elapsed += started.elapsed();
                    if held >= size / 4 {
                        raw::release_all(&conn);
                        held = 0;
                    }
                }
                raw::release_all(&conn);
                elapsed
            });
        });
    }
}

/// Settles successful reports of claimed jobs: the group `complete` times
/// the settle alone, `claim_complete` the claim and the settle together.
fn settle_batches(c: &mut Criterion, backends: &Backends, time_the_claim: bool) {
    let name = if time_the_claim {
        "claim_complete"
    } else {
        "complete"
    };
    let mut group = c.benchmark_group(name);
    for size in SIZES {
        for queue in backends.queues(size) {
            let Queue { backend, store, .. } = &queue;
            let store = store.as_ref();
            let worker = worker();
            for batch in [1usize, 32] {
                group.throughput(Throughput::Elements(batch as u64));
                let id = BenchmarkId::new(format!("{backend}/batch_{batch}"), size);
                queue.tidy();
                group.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let mut elapsed = Duration::ZERO;
                        for _ in 0..iters {
                            let claim_started = Instant::now();
                            let jobs = claim(store, &worker, batch);
                            let reports: Vec<_> = jobs.iter().map(completion).collect();
                            let settle_started = Instant::now();
                            store.settle(&worker, &reports).expect("settle");
                            elapsed += if time_the_claim {
                                claim_started.elapsed()
                            } else {
                                settle_started.elapsed()
                            };
                            if store.counts().expect("counts").pending < 1_000 {
                                refill(store, size);
                            }
                        }
                        elapsed
                    });
                });
            }
        }
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let backends = Backends {
        templates: Templates::new(),
        postgres: Postgres::from_env(),
    };
    claim_batches(c, &backends);
    settle_batches(c, &backends, false);
    settle_batches(c, &backends, true);
    // Last, because it grows the PostgreSQL tables the others share.
    enqueue(c, &backends);
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
