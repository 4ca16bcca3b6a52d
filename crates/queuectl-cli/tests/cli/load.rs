//! Load: many processes on one database file at once. None of them fails,
//! and none reports that the database is locked or busy.

use std::time::Duration;

use crate::support::{Queue, Run, wait_for};

const ENQUEUERS: usize = 6;
const EACH: usize = 60;

/// Six processes enqueue one job at a time, 360 jobs in all, while two
/// worker processes run them and another process reads the queue, starting
/// together on a database that does not exist yet. Every command succeeds
/// with nothing on stderr, and the workers log no error.
#[test]
fn concurrent_enqueues_reads_and_workers_never_fail() {
    let queue = Queue::unopened();

    std::thread::scope(|scope| {
        let enqueuers: Vec<_> = (0..ENQUEUERS)
            .map(|e| {
                let queue = &queue;
                scope.spawn(move || {
                    (0..EACH)
                        .map(|n| {
                            let id = format!("e{e}-{n}");
                            let run = queue.run(&["enqueue", "--id", &id, "true"]);
                            (format!("enqueue {id}"), run)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let reader = scope.spawn(|| {
            (0..EACH)
                .flat_map(|_| {
                    let status = queue.run(&["status", "--json"]);
                    let list = queue.run(&["list", "--state", "pending", "--json"]);
                    [("status".to_owned(), status), ("list".to_owned(), list)]
                })
                .collect::<Vec<_>>()
        });
        let mut workers = [queue.start_worker(4), queue.start_worker(4)];
        let mut runs: Vec<(String, Run)> = enqueuers
            .into_iter()
            .flat_map(|thread| thread.join().expect("an enqueuer thread"))
            .collect();
        runs.extend(reader.join().expect("the reader thread"));
        for (what, run) in &runs {
            assert_eq!(run.code, Some(0), "{what}: {run:#?}");
            assert!(run.stderr.is_empty(), "{what}: {run:#?}");
        }

        wait_for("every job completed", Duration::from_secs(60), || {
            (queue.counts()["completed"] == ENQUEUERS * EACH).then_some(())
        });
        queue.ok(&["worker", "stop"]);
        for worker in &mut workers {
            assert!(worker.wait_exit().success(), "{}", worker.log());
            let log = worker.log();
            assert!(!log.contains("ERROR"), "{log}");
            assert!(!log.contains("locked") && !log.contains("busy"), "{log}");
        }
    });

    assert_eq!(queue.jobs().len(), ENQUEUERS * EACH);
}
