//! The ordinary life of a queue: creating it, running a job, and reading
//! jobs, workers and settings back in the documented shapes.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Queue, millis, run, text};

/// The fields `list --json` and `inspect --json` document for every job.
const JOB_FIELDS: [&str; 16] = [
    "id",
    "command",
    "state",
    "attempts",
    "max_retries",
    "priority",
    "run_at",
    "timeout",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "exit_code",
    "last_error",
    "stdout",
    "stderr",
];

/// A job that exits 0 ends `completed` after one attempt, with its exit
/// code and standard output stored.
#[test]
fn successful_job_completes_with_its_exit_code_and_stdout() {
    let queue = Queue::new();
    let id = queue.enqueue(&["--id", "hello", "echo hello; echo world"]);
    assert_eq!(id, "hello");
    assert_eq!(queue.state(&id), "pending");

    let mut worker = queue.start_worker(1);
    let job = queue.wait_for_state(&id, "completed", Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    assert_eq!(job["exit_code"], 0);
    assert_eq!(job["stdout"], "hello\nworld\n");
    assert_eq!(job["stderr"], Value::Null);
    assert_eq!(job["last_error"], Value::Null);
    assert_eq!(job["attempts"], 1);
    assert!(millis(&job["finished_at"]) >= millis(&job["started_at"]));
    assert!(millis(&job["started_at"]) >= millis(&job["created_at"]));
    let history = job["history"].as_array().expect("history is an array");
    assert_eq!(history.len(), 1, "{job:#}");
    assert_eq!(history[0]["attempt"], 1);
    assert_eq!(history[0]["result"], "succeeded");
    assert_eq!(history[0]["exit_code"], 0);
}

/// `init` creates the database, prints its path, and can run again safely.
#[test]
fn init_is_idempotent_and_prints_the_database_path() {
    let queue = Queue::unopened();
    let path = queue.db().display().to_string();

    assert_eq!(queue.ok(&["init"]).trim(), path);
    assert!(queue.db().is_file());
    queue.enqueue(&["--id", "kept", "true"]);
    assert_eq!(queue.ok(&["init"]).trim(), path);

    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["id"], "kept");
}

/// `list --state` shows exactly the jobs in that state, and every job in
/// `list --json` and `inspect --json` has the documented fields.
#[test]
fn list_filters_by_state_and_json_has_the_documented_fields() {
    let queue = Queue::new();
    queue.enqueue(&["--id", "good", "--priority", "2", "true"]);
    queue.enqueue(&[
        "--id",
        "bad",
        "--priority",
        "1",
        "--max-retries",
        "0",
        "exit 1",
    ]);
    queue.enqueue(&["--id", "later", "--delay", "3600", "true"]);

    let mut worker = queue.start_worker(1);
    queue.wait_for_state("good", "completed", Duration::from_secs(10));
    queue.wait_for_state("bad", "dead", Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());

    let ids_in = |state: &str| -> Vec<String> {
        let jobs = queue.json(&["list", "--state", state, "--json"]);
        let jobs = jobs.as_array().expect("list --json prints an array");
        jobs.iter().map(|job| text(&job["id"]).to_owned()).collect()
    };
    assert_eq!(ids_in("completed"), ["good"]);
    assert_eq!(ids_in("dead"), ["bad"]);
    assert_eq!(ids_in("pending"), ["later"]);
    assert!(ids_in("failed").is_empty());
    assert!(ids_in("processing").is_empty());

    let jobs = queue.jobs();
    assert_eq!(jobs.len(), 3);
    for job in &jobs {
        for field in JOB_FIELDS {
            assert!(
                job.get(field).is_some(),
                "list --json lacks {field}: {job:#}"
            );
        }
        for time in ["run_at", "created_at", "updated_at"] {
            millis(&job[time]);
        }
    }
    let later = queue.job("later");
    for field in JOB_FIELDS.iter().chain(&["duration_ms", "history"]) {
        assert!(
            later.get(field).is_some(),
            "inspect --json lacks {field}: {later:#}"
        );
    }
    assert_eq!(later["timeout"], 0);
    assert_eq!(later["started_at"], Value::Null);
    assert_eq!(later["history"], Value::Array(Vec::new()));
    let bad = queue.job("bad");
    assert_eq!(bad["exit_code"], 1);
    assert_eq!(bad["last_error"], "exit status 1");
    assert_eq!(bad["max_retries"], 0);
    assert_eq!(bad["priority"], 1);
}

/// `status --json` counts every state, and lists a running worker with its
/// pid and host until it stops.
#[test]
fn status_json_counts_every_state_and_lists_running_workers() {
    let queue = Queue::new();
    queue.enqueue(&["--delay", "3600", "true"]);

    let counts = queue.counts();
    for state in ["pending", "processing", "completed", "failed", "dead"] {
        let expected = u64::from(state == "pending");
        assert_eq!(counts[state], expected, "{state} in {counts:#}");
    }
    assert!(queue.workers().is_empty());

    let mut worker = queue.start_worker(3);
    let workers = queue.workers();
    assert_eq!(workers.len(), 1, "{workers:#?}");
    assert_eq!(workers[0]["pid"], worker.pid());
    assert_eq!(workers[0]["slots"], 3);
    assert!(!text(&workers[0]["host"]).is_empty());
    assert!(!text(&workers[0]["id"]).is_empty());

    assert_eq!(queue.ok(&["worker", "stop"]).trim(), "all workers stopped");
    assert!(worker.wait_exit().success(), "{}", worker.log());
    assert!(queue.workers().is_empty());
}

/// `config get` prints a setting's current value, as text or JSON.
#[test]
fn config_get_prints_the_current_value() {
    let queue = Queue::new();
    assert_eq!(queue.ok(&["config", "get", "max-retries"]).trim(), "3");

    assert_eq!(
        queue.ok(&["config", "set", "max-retries", "5"]).trim(),
        "max-retries = 5"
    );
    assert_eq!(queue.ok(&["config", "get", "max-retries"]).trim(), "5");
    let json = queue.json(&["config", "get", "max-retries", "--json"]);
    assert_eq!(json, serde_json::json!({ "max-retries": "5" }));
    assert_eq!(
        queue.json(&["config", "list", "--json"])["max-retries"],
        "5"
    );

    // New jobs take the setting as their default.
    let id = queue.enqueue(&["true"]);
    assert_eq!(queue.job(&id)["max_retries"], 5);
}

/// Every command's `--help` succeeds; every command that runs something
/// (not a group of commands) shows an example.
#[test]
fn every_command_help_succeeds_and_shows_an_example() {
    let mut pending: Vec<Vec<String>> = vec![Vec::new()];
    let mut leaves = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = run(&args);
        help.expect_code(0);

        let children = subcommands(&help.stdout);
        if children.is_empty() {
            assert!(
                help.stdout.contains("Example"),
                "{args:?} has no example: {help:#?}"
            );
            leaves += 1;
        }
        for child in children {
            let mut child_path = path.clone();
            child_path.push(child);
            pending.push(child_path);
        }
    }
    // init, enqueue, worker start|stop, start-workers, status, list, inspect,
    // dlq list|retry, config list|get|set, demo.
    assert!(leaves >= 14, "found only {leaves} commands");
}

/// The command names in a help text's `Commands:` section, without `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        // A name is indented by two spaces; deeper lines continue a description.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}
