//! The end-to-end benchmark: queuectl against the limits of the machine, in
//! one run, side by side.
//!
//! ```sh
//! cargo build --release -p queuectl-cli -p queuectl-benches
//! cargo run --release -p queuectl-benches --bin e2e
//! ```
//!
//! It measures the machine's ceilings (the store's own claim and complete
//! statements on bare rusqlite, bare `sh -c true` spawns, bare batched
//! inserts), then queuectl as a library and as a CLI, and prints each rate
//! with its ratio to the matching ceiling. `E2E_SCALE=0.1` shrinks every job
//! count for a quick look; `E2E_ONLY=processes,memory` runs only those groups
//! of rows (see [`GROUPS`]).

#![expect(
    clippy::print_stdout,
    reason = "a benchmark's report is its standard output"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use queue_core::{JobId, JobSpec, JobState};
use queue_store::{JobQuery, SqliteStore, Store};
use queue_worker::{Execution, JobContext, WorkerPool};
use queuectl_benches::report::{cpu_time, median, peak_rss_kib, percentile, rate};
use queuectl_benches::{NOOP_KIND, fill, fresh_store, raw};

/// The number of executors in library and CLI runs, and threads in the spawn loop.
const SLOTS: usize = 2;

/// The `--prefetch` of the second CLI drain.
const CLI_PREFETCH: usize = 32;

struct Row {
    name: String,
    value: String,
    ceiling: String,
    ratio: String,
    target: &'static str,
}

/// The groups of rows, in the order they run; `E2E_ONLY` picks some.
const GROUPS: [&str; 5] = ["library", "enqueue", "processes", "commands", "memory"];

fn main() {
    let scale: f64 = std::env::var("E2E_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let count = |n: usize| ((n as f64 * scale) as usize).max(100);
    if std::env::args().nth(1).as_deref() == Some("--drain-child") {
        drain_child();
        return;
    }
    let only = std::env::var("E2E_ONLY").ok();
    let wanted = |group: &str| {
        only.as_deref()
            .is_none_or(|list| list.split(',').any(|name| name.trim() == group))
    };
    if let Some(list) = &only {
        let unknown: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|name| !GROUPS.contains(name))
            .collect();
        assert!(
            unknown.is_empty(),
            "E2E_ONLY names unknown groups {unknown:?}; the groups are {GROUPS:?}"
        );
    }
    let queuectl = queuectl_binary();
    let mut rows = Vec::new();
    if wanted("library") {
        library_rows(&mut rows, count(200_000));
    }
    if wanted("enqueue") {
        enqueue_rows(&mut rows, count(200_000));
    }
    if wanted("processes") {
        process_rows(&mut rows, &queuectl, count(4_000));
    }
    if wanted("commands") {
        command_rows(&mut rows, &queuectl, count(1_000_000));
    }
    if wanted("memory") {
        memory_rows(&mut rows, &queuectl, count(100_000));
    }
    print_rows(&rows);
}

/// The store's ceilings, and the library draining the same number of jobs.
fn library_rows(rows: &mut Vec<Row>, jobs: usize) {
    let raw_one = raw_claim_complete(jobs / 4, 1);
    let raw_batch = raw_claim_complete(jobs, 32);
    rows.push(row(
        "raw claim+complete, 1 per statement",
        raw_one,
        None,
        "",
    ));
    rows.push(row(
        "raw claim+complete, batches of 32",
        raw_batch,
        None,
        "",
    ));
    let plain = library_drain(jobs, 32, 0);
    rows.push(row(
        "library drain, 32 slots, no-op jobs",
        plain,
        Some(raw_batch),
        "",
    ));
    let prefetched = library_drain(jobs, 32, 96);
    rows.push(row(
        "library drain, 32 slots + prefetch 96, no-op jobs",
        prefetched,
        Some(raw_batch),
        ">= 50,000/s, 70%",
    ));
}

fn enqueue_rows(rows: &mut Vec<Row>, inserts: usize) {
    let raw_insert = raw_insert_rate(inserts);
    let enqueue = batch_enqueue_rate(inserts);
    rows.push(row("raw batched insert", raw_insert, None, ""));
    rows.push(row(
        "library batch enqueue (10,000 a call)",
        enqueue,
        Some(raw_insert),
        ">= 60%",
    ));
}

/// Bare spawns, and the CLI draining shell jobs with and without a prefetch.
///
/// The spawn rate drifts by several percent within a minute on a shared
/// machine, so it is measured before and after the drains, and their
/// ceiling is the mean of the two.
fn process_rows(rows: &mut Vec<Row>, queuectl: &Path, spawns: usize) {
    let before = rate(spawns, raw::spawn_loop(spawns, SLOTS));
    let plain = cli_drain(queuectl, spawns, 0);
    let prefetched = cli_drain(queuectl, spawns, CLI_PREFETCH);
    let after = rate(spawns, raw::spawn_loop(spawns, SLOTS));
    let spawn_rate = (before + after) / 2.0;
    rows.push(row(
        &format!("raw sh -c true, {SLOTS} threads, before the drains"),
        before,
        None,
        "",
    ));
    rows.push(row(
        &format!("raw sh -c true, {SLOTS} threads, after the drains"),
        after,
        None,
        "",
    ));
    rows.push(row(
        &format!("CLI drain of true, {SLOTS} slots"),
        plain,
        Some(spawn_rate),
        "",
    ));
    rows.push(row(
        &format!("CLI drain of true, {SLOTS} slots + prefetch {CLI_PREFETCH}"),
        prefetched,
        Some(spawn_rate),
        ">= 85%",
    ));
}

/// One-shot commands: enqueue, pickup on an idle worker, and reads of a
/// queue of `pending` jobs.
fn command_rows(rows: &mut Vec<Row>, queuectl: &Path, pending: usize) {
    let single = single_enqueue_ms(queuectl, 50);
    rows.push(text_row(
        "one `queuectl enqueue`, process included (median)",
        ms(single),
        "< 5 ms",
    ));

    let (p50, p99, idle_cpu) = pickup_latency(queuectl, 100);
    rows.push(text_row(
        "pickup latency across processes, p50",
        ms(p50),
        "< 5 ms",
    ));
    rows.push(text_row(
        "pickup latency across processes, p99",
        ms(p99),
        "< 20 ms",
    ));
    rows.push(text_row(
        "idle worker CPU",
        format!("{:.2}% of a core", idle_cpu * 100.0),
        "< 1%",
    ));

    let (status_ms, list_ms) = million_reads(queuectl, pending);
    rows.push(text_row(
        "`status` with 1M pending jobs",
        ms(status_ms),
        "< 50 ms",
    ));
    rows.push(text_row(
        "`list --limit 50` with 1M pending jobs",
        ms(list_ms),
        "< 50 ms",
    ));
}

fn memory_rows(rows: &mut Vec<Row>, queuectl: &Path, jobs: usize) {
    let drained_rss = library_peak_rss(jobs);
    rows.push(text_row(
        "library worker, 8 slots, 100k jobs: peak RSS",
        mib(drained_rss),
        "< 30 MB",
    ));
    let loud_rss = cli_loud_peak_rss(queuectl, 16);
    rows.push(text_row(
        "CLI worker, 8 slots, jobs printing 20 MB: peak RSS",
        mib(loud_rss),
        "< 30 MB",
    ));
}

fn row(name: &str, value: f64, ceiling: Option<f64>, target: &'static str) -> Row {
    Row {
        name: name.into(),
        value: format!("{value:.0}/s"),
        ceiling: ceiling.map_or_else(String::new, |c| format!("{c:.0}/s")),
        ratio: ceiling.map_or_else(String::new, |c| format!("{:.0}%", 100.0 * value / c)),
        target,
    }
}

fn text_row(name: &str, value: String, target: &'static str) -> Row {
    Row {
        name: name.into(),
        value,
        ceiling: String::new(),
        ratio: String::new(),
        target,
    }
}

fn ms(value: Duration) -> String {
    format!("{:.2} ms", value.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

fn print_rows(rows: &[Row]) {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    println!(
        "{:width$}  {:>16}  {:>12}  {:>6}  target",
        "measurement", "value", "ceiling", "ratio"
    );
    for r in rows {
        println!(
            "{:width$}  {:>16}  {:>12}  {:>6}  {}",
            r.name, r.value, r.ceiling, r.ratio, r.target
        );
    }
}

fn queuectl_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("QUEUECTL_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let path = exe.with_file_name("queuectl");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --release -p queuectl-cli` first",
        path.display()
    );
    path
}

fn raw_claim_complete(jobs: usize, batch: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(dir.path());
    fill(&store, jobs);
    let (done, elapsed) = raw::claim_complete_loop(store.path(), batch);
    assert_eq!(done, jobs);
    rate(done, elapsed)
}

/// Drains no-op jobs with `slots` executors and room for `prefetch` more.
fn library_drain(jobs: usize, slots: usize, prefetch: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = Arc::new(fresh_store(dir.path()));
    fill(store.as_ref(), jobs);
    let started = Instant::now();
    let pool = WorkerPool::builder(store.clone())
        .handler(NOOP_KIND, |_: &JobContext| Execution::succeeded())
        .concurrency(slots)
        .prefetch(prefetch)
        .start()
        .expect("start the pool");
    pool.handle().shutdown_when_idle();
    let summary = pool.join().expect("the pool ran");
    let elapsed = started.elapsed();
    assert_eq!(summary.completed as usize, jobs);
    rate(jobs, elapsed)
}

fn raw_insert_rate(rows: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(dir.path());
    let mut conn = raw::open(store.path());
    let started = Instant::now();
    let mut left = rows;
    while left > 0 {
        let batch = left.min(10_000);
        let tx = conn.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO jobs (id, kind, payload, state, max_retries, priority, run_at, \
                     timeout_secs, created_at, updated_at) \
                     VALUES (?1, 'noop', 'null', 'pending', 3, 0, ?2, 0, ?2, ?2)",
                )
                .expect("prepare");
            let now = chrono::Utc::now().timestamp_millis();
            for _ in 0..batch {
                insert
                    .execute(rusqlite::params![JobId::generate().as_str(), now])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
        left -= batch;
    }
    rate(rows, started.elapsed())
}

fn batch_enqueue_rate(rows: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(dir.path());
    let started = Instant::now();
    fill(&store, rows);
    rate(rows, started.elapsed())
}

fn queuectl(binary: &Path, db: &Path) -> Command {
    let mut command = Command::new(binary);
    command
        .arg("--db")
        .arg(db)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    command
}

fn run(command: &mut Command) {
    let output = command.stdin(Stdio::null()).output().expect("run queuectl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn start_worker(binary: &Path, db: &Path, slots: usize, prefetch: usize) -> Child {
    queuectl(binary, db)
        .args(["worker", "start", "--count", &slots.to_string()])
        .args(["--prefetch", &prefetch.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a worker")
}

fn stop_worker(binary: &Path, db: &Path, mut worker: Child) {
    run(queuectl(binary, db).args(["worker", "stop"]));
    worker.wait().expect("the worker exits");
}

/// Waits until no job is waiting or running.
fn wait_drained(store: &dyn Store) {
    loop {
        let counts = store.counts().expect("counts");
        if counts.pending + counts.processing + counts.failed == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Enqueues `jobs` `true` jobs from a JSON Lines file, then times a worker
/// with `--prefetch prefetch` from its start until all of them are done.
fn cli_drain(binary: &Path, jobs: usize, prefetch: usize) -> f64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("cli.db");
    let file = dir.path().join("jobs.jsonl");
    let lines: String = (0..jobs).map(|_| "{\"command\":\"true\"}\n").collect();
    std::fs::write(&file, lines).expect("write the job file");
    run(queuectl(binary, &db).args(["enqueue", "--file"]).arg(&file));
    let store = SqliteStore::open(&db).expect("open");

    let started = Instant::now();
    let worker = start_worker(binary, &db, SLOTS, prefetch);
    wait_drained(&store);
    let elapsed = started.elapsed();
    stop_worker(binary, &db, worker);
    assert_eq!(store.counts().expect("counts").completed as usize, jobs);
    rate(jobs, elapsed)
}

fn single_enqueue_ms(binary: &Path, runs: usize) -> Duration {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("one.db");
    run(queuectl(binary, &db).arg("init"));
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            run(queuectl(binary, &db).args(["enqueue", "true"]));
            started.elapsed().as_secs_f64()
        })
        .collect();
    Duration::from_secs_f64(median(&mut samples))
}

/// Enqueues one job at a time from another process onto an idle worker and
/// measures from the job's commit to its process start. Also measures the
/// idle worker's CPU use between jobs.
fn pickup_latency(binary: &Path, samples: usize) -> (Duration, Duration, f64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("latency.db");
    run(queuectl(binary, &db).arg("init"));
    let store = SqliteStore::open(&db).expect("open");
    let worker = start_worker(binary, &db, 1, 0);
    wait_for_worker(&store);

    // Idle CPU first, while nothing is queued.
    let before = cpu_time(worker.id()).expect("worker cpu time");
    let idle_for = Duration::from_secs(5);
    std::thread::sleep(idle_for);
    let after = cpu_time(worker.id()).expect("worker cpu time");
    let idle_cpu = (after - before).as_secs_f64() / idle_for.as_secs_f64();

    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        let mark = dir.path().join(format!("start-{n}"));
        let id = format!("latency-{n}");
        let command = format!("date +%s%N > {}", mark.display());
        run(queuectl(binary, &db).args(["enqueue", "--id", &id, &command]));
        let job_id = JobId::new(id).expect("a valid id");
        let job = wait_state(&store, &job_id, JobState::Completed);
        let started_ns: i128 = std::fs::read_to_string(&mark)
            .expect("the job wrote its start time")
            .trim()
            .parse()
            .expect("a time in nanoseconds");
        let created_ns = i128::from(job.created_at.timestamp_millis()) * 1_000_000;
        latencies.push(((started_ns - created_ns).max(0) as f64) / 1e9);
        // Let the worker go idle again before the next sample.
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_worker(binary, &db, worker);
    let p50 = Duration::from_secs_f64(percentile(&mut latencies, 50.0));
    let p99 = Duration::from_secs_f64(percentile(&mut latencies, 99.0));
    (p50, p99, idle_cpu)
}

fn wait_for_worker(store: &dyn Store) {
    while store.workers().expect("workers").is_empty() {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn wait_state(store: &dyn Store, id: &JobId, state: JobState) -> queue_core::Job {
    loop {
        if let Some(job) = store.job(id).expect("read the job") {
            if job.state == state {
                return job;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn million_reads(binary: &Path, jobs: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(dir.path());
    fill(&store, jobs);
    let db = store.path().to_owned();
    let time = |args: &[&str]| {
        let mut samples: Vec<f64> = (0..10)
            .map(|_| {
                let started = Instant::now();
                run(queuectl(binary, &db).args(args));
                started.elapsed().as_secs_f64()
            })
            .collect();
        Duration::from_secs_f64(median(&mut samples))
    };
    (time(&["status"]), time(&["list", "--limit", "50"]))
}

/// Runs a library pool with 8 slots over `jobs` no-op jobs in a child
/// process, so that its peak memory is its own.
fn library_peak_rss(jobs: usize) -> u64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = fresh_store(dir.path());
    fill(&store, jobs);
    let exe = std::env::current_exe().expect("own path");
    let output = Command::new(exe)
        .arg("--drain-child")
        .arg(store.path())
        .output()
        .expect("run the drain child");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("the child's peak RSS")
}

/// The child side of [`library_peak_rss`]: drains the queue and prints its peak RSS.
fn drain_child() {
    let path = std::env::args().nth(2).expect("a database path");
    let store = Arc::new(SqliteStore::open(path).expect("open"));
    let pool = WorkerPool::builder(store)
        .handler(NOOP_KIND, |_: &JobContext| Execution::succeeded())
        .concurrency(8)
        .start()
        .expect("start the pool");
    pool.handle().shutdown_when_idle();
    pool.join().expect("the pool ran");
    println!("{}", peak_rss_kib(std::process::id()).expect("peak RSS"));
}

fn cli_loud_peak_rss(binary: &Path, jobs: usize) -> u64 {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("loud.db");
    let specs: Vec<JobSpec> = (0..jobs)
        .map(|_| JobSpec::shell("head -c 20000000 /dev/zero | tr '\\0' x"))
        .collect();
    let store = SqliteStore::open(&db).expect("open");
    store.enqueue(specs).expect("enqueue");
    let worker = start_worker(binary, &db, 8, 0);
    wait_drained(&store);
    let peak = peak_rss_kib(worker.id()).expect("worker peak RSS");
    stop_worker(binary, &db, worker);
    let done = store.list(&JobQuery {
        state: Some(JobState::Completed),
        limit: jobs,
        offset: 0,
        text: None,
    });
    assert_eq!(done.expect("list").len(), jobs);
    peak
}
