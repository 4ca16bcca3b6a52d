//! What an acknowledged enqueue survives: processes killed in the middle of
//! their writes lose nothing that was acknowledged, whatever `synchronous`
//! says.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Queue, Rng};

/// Rounds of concurrent enqueues per `synchronous` level.
const ROUNDS: usize = 15;
/// Enqueue processes started at once in each round.
const AT_ONCE: usize = 4;
/// About how long an enqueue process lives here, in microseconds; kills
/// land anywhere in it.
const LIFETIME_US: u64 = 12_000;

/// `enqueue` processes killed with SIGKILL at random moments, beside a
/// worker that is itself killed and replaced, lose no job whose id they
/// printed, at the default `normal` level and at `off`, the weakest; the
/// database stays intact and every acknowledged job still runs.
#[test]
fn acknowledged_enqueues_survive_processes_killed_mid_write() {
    let queue = Queue::new();
    queue.set_config("lease", "1s");
    queue.set_config("backoff-base", "1");
    let mut rng = Rng::new();
    let mut acknowledged = BTreeSet::new();
    let mut killed = 0;

    for level in ["normal", "off"] {
        queue.set_config("synchronous", level);
        let mut worker = queue.start_worker(2);
        for round in 0..ROUNDS {
            let started = Instant::now();
            let enqueues: Vec<(String, Child)> = (0..AT_ONCE)
                .map(|n| {
                    let id = format!("{level}-{round}-{n}");
                    let child = queue
                        .command(&["enqueue", "--id", &id, "true"])
                        .stdout(Stdio::piped())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("cannot start queuectl");
                    (id, child)
                })
                .collect();
            // Most processes are killed at a moment of their short life:
            // starting, opening the database, inside the transaction, or
            // after it; the rest run to the end.
            let mut kills = Vec::new();
            for (_, child) in &enqueues {
                if rng.below(4) > 0 {
                    kills.push((Duration::from_micros(rng.below(LIFETIME_US)), child.id()));
                }
            }
            kills.sort_unstable();
            for (at, pid) in kills {
                std::thread::sleep(at.saturating_sub(started.elapsed()));
                let _ = kill(
                    Pid::from_raw(i32::try_from(pid).expect("a pid")),
                    Signal::SIGKILL,
                );
                killed += 1;
            }
            for (id, child) in enqueues {
                let output = child.wait_with_output().expect("cannot wait for queuectl");
                if output.status.success() {
                    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), id);
                    acknowledged.insert(id);
                }
            }
            if round % 5 == 4 {
                worker.kill();
                worker = queue.start_worker(2);
            }
        }
        worker.kill();
    }

    let seed = rng.seed();
    assert!(killed > 0 && !acknowledged.is_empty(), "seed {seed}");
    let stored: BTreeSet<String> = queue
        .jobs()
        .iter()
        .map(|job| job["id"].as_str().expect("an id").to_owned())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged jobs lost (seed {seed}): {lost:?}"
    );
    let conn = rusqlite::Connection::open(queue.db()).expect("the database opens");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("the integrity check runs");
    assert_eq!(check, "ok", "seed {seed}");
    drop(conn);

    let mut worker = queue.start_worker(4);
    crate::support::wait_for("every job completed", Duration::from_secs(60), || {
        let counts = queue.counts();
        (counts["completed"] == stored.len()).then_some(())
    });
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
}
