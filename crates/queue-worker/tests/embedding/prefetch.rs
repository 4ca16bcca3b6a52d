//! The prefetch: a pool holds at most its slots plus the prefetch, and gives
//! back the jobs it has not started as soon as it shuts down.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use queue_core::{JobSpec, JobState};
use queue_store::Store;
use queue_worker::{JobContext, JobEvent, WorkerPool};

use crate::support::{DEADLINE, queue, wait_until};

const JOBS: usize = 20;

/// Runs a pool of 2 slots and `prefetch` over jobs that block until the test
/// lets them go; checks through the store what the pool holds, shuts it down
/// while both handlers block, and checks that only those two jobs ran.
fn hold_then_shut_down(prefetch: usize) {
    let queue = queue();
    let specs = (0..JOBS)
        .map(|_| JobSpec::new("block", serde_json::json!(null)))
        .collect();
    queue.store.enqueue(specs).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (gate, wait) = crossbeam_channel::bounded::<()>(0);
    let (events, seen) = crossbeam_channel::unbounded();
    let pool = WorkerPool::builder(queue.shared())
        .typed("block", {
            let runs = Arc::clone(&runs);
            move |_ctx: &JobContext, (): ()| {
                runs.fetch_add(1, Ordering::SeqCst);
                // Returns once the test drops the gate's sender.
                let _ = wait.recv_timeout(DEADLINE);
                Ok(())
            }
        })
        .concurrency(2)
        .prefetch(prefetch)
        .on_event(move |event| {
            let _ = events.send(event.clone());
        })
        .start()
        .unwrap();
    let processing = || queue.store.counts().unwrap().of(JobState::Processing);
    let held = (2 + prefetch) as u64;
    wait_until(|| runs.load(Ordering::SeqCst) == 2 && processing() == held);
    // A wake-up makes the pool claim again if it may: it must take nothing.
    pool.handle().wake();
    assert_eq!(
        processing(),
        held,
        "the pool holds its slots plus the prefetch"
    );

    pool.handle().shutdown();
    let pending = (JOBS - 2) as u64;
    wait_until(|| queue.store.counts().unwrap().of(JobState::Pending) == pending);
    assert_eq!(processing(), 2, "only the running jobs are still held");
    drop(gate);
    let summary = pool.join().unwrap();

    assert_eq!(runs.load(Ordering::SeqCst), 2, "no prefetched job ran");
    assert_eq!(summary.completed, 2);
    assert_eq!(summary.released, prefetch as u64);
    let counts = queue.store.counts().unwrap();
    assert_eq!(counts.of(JobState::Completed), 2);
    assert_eq!(counts.of(JobState::Pending), pending);
    let started = seen
        .try_iter()
        .filter(|event| matches!(event, JobEvent::Started(_)))
        .count();
    assert_eq!(started, 2, "only the jobs that ran were started");
    // A released prefetched job is a fresh job again: its attempt is not charged.
    for job in queue.store.list(&Default::default()).unwrap() {
        if job.state == JobState::Pending {
            assert_eq!(job.attempts, 0, "{job:?}");
        }
    }
}

#[test]
fn a_pool_holds_its_slots_plus_the_prefetch_and_releases_the_unstarted_on_shutdown() {
    hold_then_shut_down(3);
}

#[test]
fn a_pool_without_prefetch_holds_only_what_it_runs() {
    hold_then_shut_down(0);
}
