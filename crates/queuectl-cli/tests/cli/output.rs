//! Jobs whose output is awkward: closed early, not UTF-8, or binary. Each
//! is captured, as lossy text where it is not UTF-8, and the job runs to its
//! end like any other.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Queue, millis, text};

/// A job that closes its standard output and goes on running completes
/// once it is done, with what it printed before and after.
#[test]
fn job_that_closes_stdout_and_keeps_running_completes() {
    let queue = Queue::new();
    let id = queue.enqueue(&["echo before; exec >&-; sleep 1; echo after >&2"]);

    let mut worker = queue.start_worker(1);
    let job = queue.wait_for_state(&id, "completed", Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    assert_eq!(job["stdout"], "before\n");
    assert_eq!(job["stderr"], "after\n");
    assert!(millis(&job["finished_at"]) - millis(&job["started_at"]) >= 1000);
}

/// Bytes that are not UTF-8 are stored as U+FFFD, the rest as written; NUL
/// and every other byte value survive storage, `inspect` and `list`.
#[test]
fn invalid_utf8_and_binary_output_are_captured_lossily() {
    let queue = Queue::new();
    let invalid = queue.enqueue(&["--id", "invalid", r"printf 'ok\377\376end'"]);
    // Every byte value, 0 to 255, ten times over, on stdout and stderr.
    let bytes = queue.path("all-bytes.bin");
    let every_byte: Vec<u8> = (0..=255_u8).collect();
    std::fs::write(&bytes, every_byte.repeat(10)).expect("a test file");
    let cat = format!("cat '{f}'; cat '{f}' >&2", f = bytes.display());
    let binary = queue.enqueue(&["--id", "binary", &cat]);
    let random = queue.enqueue(&["--id", "random", "head -c 100000 /dev/urandom"]);

    let mut worker = queue.start_worker(3);
    let jobs: Vec<Value> = [&invalid, &binary, &random]
        .iter()
        .map(|id| queue.wait_for_state(id, "completed", Duration::from_secs(20)))
        .collect();
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    assert_eq!(jobs[0]["stdout"], "ok\u{FFFD}\u{FFFD}end");
    let stdout = text(&jobs[1]["stdout"]);
    assert_eq!(stdout, text(&jobs[1]["stderr"]));
    // ASCII, NUL included, comes through; each byte above it is not UTF-8
    // on its own and becomes one replacement character.
    let once: String = (0..128_u8)
        .map(char::from)
        .chain(std::iter::repeat_n('\u{FFFD}', 128))
        .collect();
    assert_eq!(stdout, once.repeat(10));
    assert!(!text(&jobs[2]["stdout"]).is_empty());
    for id in ["invalid", "binary", "random"] {
        queue.ok(&["inspect", id]);
    }
    queue.ok(&["list"]);
}

/// A running job's output so far shows in `inspect` while the job is still
/// `processing`, and its whole output once it has completed.
#[test]
fn inspect_shows_the_output_of_a_running_job() {
    let queue = Queue::new();
    let marker = queue.path("go-on");
    let command = format!(
        "echo first; while [ ! -e '{m}' ]; do sleep 0.05; done; echo second",
        m = marker.display()
    );
    let id = queue.enqueue(&[&command]);

    let mut worker = queue.start_worker(1);
    let running = crate::support::wait_for(
        "the running job shows its first line",
        Duration::from_secs(10),
        || {
            let job = queue.job(&id);
            (job["stdout"] == "first\n").then_some(job)
        },
    );
    assert_eq!(running["state"], "processing");
    let table = queue.ok(&["inspect", &id]);
    assert!(table.contains("stdout (so far):\nfirst\n"), "{table}");

    std::fs::write(&marker, "").expect("the marker file");
    let done = queue.wait_for_state(&id, "completed", Duration::from_secs(10));
    assert_eq!(done["stdout"], "first\nsecond\n");
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
}
