//! Failing jobs: retries on the backoff schedule, the dead-letter queue, and
//! bringing a dead job back.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Queue, millis, text};

/// How much later than its backoff time a retry may start: the poll
/// interval (50 ms) plus settling and scheduling delays on a busy machine.
/// It is less than the difference between consecutive delays, so a
/// schedule that is off by one attempt fails the test.
const RETRY_SLACK_MS: i64 = 1000;

/// A job that keeps failing is retried after base^n seconds following its
/// nth attempt, lands in the dead-letter queue when its retries run out, and
/// `dlq retry` makes it pending again with its attempts reset.
#[test]
fn failing_job_backs_off_exponentially_then_is_dead_until_dlq_retry() {
    let queue = Queue::new();
    queue.set_config("backoff-base", "2");
    let id = queue.enqueue(&[
        "--id",
        "flaky",
        "--max-retries",
        "2",
        "echo oops >&2; exit 3",
    ]);
    let mut worker = queue.start_worker(1);

    // Between attempts the job waits in `failed`, due at the backoff time.
    let waiting = queue.wait_for_state(&id, "failed", Duration::from_secs(10));
    assert_eq!(waiting["attempts"], 1);
    assert_eq!(waiting["last_error"], "exit status 3");
    assert!(millis(&waiting["run_at"]) >= millis(&waiting["finished_at"]) + 2000);

    let dead = queue.wait_for_state(&id, "dead", Duration::from_secs(20));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    assert_eq!(dead["attempts"], 3);
    assert_eq!(dead["exit_code"], 3);
    assert_eq!(dead["last_error"], "exit status 3");
    assert_eq!(dead["stderr"], "oops\n");
    let history = dead["history"].as_array().expect("history is an array");
    assert_eq!(history.len(), 3, "{dead:#}");
    for (n, attempt) in history.iter().enumerate() {
        assert_eq!(attempt["attempt"], n + 1);
        assert_eq!(attempt["result"], "failed");
        assert_eq!(attempt["exit_code"], 3);
    }
    for n in 1..history.len() {
        let waited = millis(&history[n]["started_at"]) - millis(&history[n - 1]["finished_at"]);
        let delay = 1000 * 2_i64.pow(u32::try_from(n).expect("small"));
        assert!(
            (delay..delay + RETRY_SLACK_MS).contains(&waited),
            "attempt {} started {waited} ms after attempt {n} ended; expected {delay} ms",
            n + 1
        );
    }

    let dlq = queue.json(&["dlq", "list", "--json"]);
    let dlq = dlq.as_array().expect("dlq list --json prints an array");
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0]["id"], "flaky");
    assert_eq!(dlq[0]["state"], "dead");

    let revived = queue.ok(&["dlq", "retry", &id]);
    assert_eq!(revived.trim(), "job flaky is pending again");
    let job = queue.job(&id);
    assert_eq!(job["state"], "pending");
    assert_eq!(job["attempts"], 0);
    assert!(millis(&job["run_at"]) >= millis(&dead["finished_at"]));
    assert_eq!(
        queue.json(&["dlq", "list", "--json"]),
        Value::Array(Vec::new())
    );
}

/// A job that fails with no retries left goes to the dead-letter queue
/// after its one attempt, and a revived job runs again to completion.
#[test]
fn revived_job_runs_again_and_can_complete() {
    let queue = Queue::new();
    let flag = queue.path("fixed");
    let command = format!("test -e '{}'", flag.display());
    let id = queue.enqueue(&["--max-retries", "0", &command]);
    let mut worker = queue.start_worker(1);

    let dead = queue.wait_for_state(&id, "dead", Duration::from_secs(10));
    assert_eq!(dead["attempts"], 1);
    assert_eq!(text(&dead["last_error"]), "exit status 1");

    std::fs::write(&flag, "").expect("cannot create the flag file");
    queue.ok(&["dlq", "retry", &id]);
    let done = queue.wait_for_state(&id, "completed", Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    assert_eq!(done["attempts"], 1);
    let results: Vec<&str> = done["history"]
        .as_array()
        .expect("history is an array")
        .iter()
        .map(|attempt| text(&attempt["result"]))
        .collect();
    assert_eq!(results, ["failed", "succeeded"]);
}
