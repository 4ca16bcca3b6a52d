//! Chaos: worker processes killed with SIGKILL at random while they work
//! through thousands of short jobs, and replaced. Nothing is lost, and the
//! only jobs that run twice are ones a killed worker held.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::support::{Queue, Rng, Worker, text, write_lines};

const JOBS: usize = 3000;
const WORKERS: usize = 3;
const SLOTS: u16 = 4;
/// How long the whole run may take before the test gives up.
const LIMIT: Duration = Duration::from_secs(90);

/// A worker is killed every 100 to 300 ms while jobs wait to run, and
/// a replacement starts each time. At the end every job is completed and
/// ran at least once; a job ran more than once only if a killed worker ran
/// it, and there are no more extra runs than the slots of killed workers.
#[test]
fn killed_workers_lose_no_job_and_rerun_only_what_they_held() {
    let queue = Queue::new();
    // Short leases bring a killed worker's jobs back quickly; a lost attempt
    // counts, so jobs get retries enough to be lost many times over.
    queue.set_config("lease", "2s");
    queue.set_config("backoff-base", "1");
    queue.set_config("max-retries", "100");
    let ran = queue.path("ran.log");
    let ids: Vec<String> = (0..JOBS).map(|n| format!("job-{n:04}")).collect();
    let specs: Vec<String> = ids
        .iter()
        .map(|id| {
            // The shell's parent is the worker that runs it; a short line
            // appended with O_APPEND is written whole.
            let command = format!("echo {id} $PPID >> '{}'", ran.display());
            serde_json::json!({ "id": id, "command": command }).to_string()
        })
        .collect();
    let file = queue.path("jobs.jsonl");
    write_lines(&file, &specs);
    queue.ok(&["enqueue", "--file", file.to_str().expect("UTF-8 path")]);

    let mut rng = Rng::new();
    let seed = rng.seed();
    let mut workers: Vec<Worker> = (0..WORKERS).map(|_| queue.start_worker(SLOTS)).collect();
    let mut killed: BTreeSet<u32> = BTreeSet::new();
    let started = Instant::now();
    let mut next_kill = started + Duration::from_millis(100 + rng.below(200));
    loop {
        let counts = queue.counts();
        assert_eq!(counts["dead"], 0, "seed {seed}: {counts:#}");
        if counts["completed"] == JOBS {
            break;
        }
        assert!(
            started.elapsed() < LIMIT,
            "seed {seed}: not done: {counts:#}"
        );
        let remaining = counts["pending"].as_u64().unwrap_or(0);
        if Instant::now() >= next_kill && remaining > 0 {
            let victim = usize::try_from(rng.below(WORKERS as u64)).expect("small");
            killed.insert(workers[victim].pid());
            workers[victim].kill();
            workers[victim] = queue.start_worker(SLOTS);
            next_kill = Instant::now() + Duration::from_millis(100 + rng.below(200));
        }
        // The next look at the counts; kills happen between looks.
        std::thread::sleep(Duration::from_millis(50));
    }
    queue.ok(&["worker", "stop"]);
    for worker in &mut workers {
        assert!(worker.wait_exit().success(), "{}", worker.log());
    }
    let survivors: BTreeSet<u32> = workers.iter().map(Worker::pid).collect();

    let mut runs: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let log = std::fs::read_to_string(&ran).expect("the jobs wrote their runs");
    for line in log.lines() {
        let (id, pid) = line.split_once(' ').expect("an id and a pid");
        runs.entry(id.to_owned())
            .or_default()
            .push(pid.parse().expect("a pid"));
    }
    assert_eq!(
        runs.keys().cloned().collect::<Vec<_>>(),
        ids,
        "seed {seed}: a job never ran"
    );
    // A shell whose worker died before it started reports another parent,
    // so what counts is that a run was not by a worker that survived.
    let mut extra = 0;
    for (id, pids) in &runs {
        if pids.len() > 1 {
            extra += pids.len() - 1;
            assert!(
                pids.iter().any(|pid| !survivors.contains(pid)),
                "seed {seed}: {id} ran {} times, only by live workers {pids:?}",
                pids.len()
            );
        }
    }
    let slots_killed = killed.len() * usize::from(SLOTS);
    assert!(!killed.is_empty(), "seed {seed}: no worker was killed");
    assert!(
        extra <= slots_killed,
        "seed {seed}: {extra} extra runs, {} workers killed",
        killed.len()
    );

    for job in queue.jobs() {
        assert_eq!(job["state"], "completed", "seed {seed}: {job:#}");
        let attempts = job["attempts"].as_u64().expect("attempts");
        if attempts > 1 {
            // Every attempt before the last was lost by a killed worker.
            let id = text(&job["id"]);
            let history = queue.job(id)["history"].clone();
            for attempt in history.as_array().expect("history").iter().rev().skip(1) {
                assert_eq!(attempt["result"], "lost", "seed {seed}: {id}: {history:#}");
                let worker = text(&attempt["worker_id"]);
                let pid: u32 = worker
                    .split(':')
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .expect("pid");
                assert!(
                    killed.contains(&pid),
                    "seed {seed}: {id} lost by a live worker"
                );
            }
        }
    }
}
