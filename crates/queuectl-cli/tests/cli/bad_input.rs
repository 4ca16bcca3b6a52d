//! User mistakes: each gets one clear line on stderr and its documented exit
//! code, and changes nothing already stored.

use serde_json::Value;

use crate::support::{Queue, run, write_lines};

/// A queue holding two jobs, and what `list --json` shows of it.
fn queue_with_jobs() -> (Queue, Value) {
    let queue = Queue::new();
    queue.enqueue(&["--id", "first", "--priority", "3", "echo first"]);
    queue.enqueue(&["--id", "second", "--delay", "600", "echo second"]);
    let snapshot = queue.json(&["list", "--json"]);
    (queue, snapshot)
}

/// An unknown command is a usage error (exit 2) that names the command and
/// touches nothing.
#[test]
fn unknown_command_exits_2_and_changes_nothing() {
    let (queue, before) = queue_with_jobs();

    let run = queue.run(&["frobnicate"]);

    run.expect_code(2);
    assert!(run.stdout.is_empty(), "{run:#?}");
    // clap's report: one error line, then a usage hint.
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(
        errors,
        ["error: unrecognized subcommand 'frobnicate'"],
        "{run:#?}"
    );
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// A job spec that is not valid JSON is refused with exit 2 and one line,
/// and stores nothing; on a new path it does not even create the database.
#[test]
fn malformed_json_spec_exits_2_and_stores_nothing() {
    let (queue, before) = queue_with_jobs();

    let specs = [
        r#"{"command": "echo hi","#,
        r#"{"command": "echo hi", "priority": "high"}"#,
        r#"{"command": "echo hi", "colour": "red"}"#,
        r#"{"id": "no-command"}"#,
    ];
    for spec in specs {
        let run = queue.run(&["enqueue", spec]);
        run.expect_code(2);
        let line = run.error_line();
        assert!(
            line.contains("job spec") || line.contains("command"),
            "{spec}: {line}"
        );
        assert_eq!(queue.json(&["list", "--json"]), before, "{spec}");
    }

    let fresh = Queue::unopened();
    fresh.run(&["enqueue", specs[0]]).expect_code(2);
    assert!(!fresh.db().exists(), "a rejected spec created the database");
}

/// `enqueue --file` with one bad line stores none of the file's jobs, and
/// the error names the line (counting blank lines).
#[test]
fn job_file_with_a_bad_line_is_refused_whole_naming_the_line() {
    let (queue, before) = queue_with_jobs();
    let file = queue.path("jobs.jsonl");
    write_lines(
        &file,
        &[
            r#"{"id": "a", "command": "true"}"#.to_owned(),
            String::new(),
            r#"{"id": "b", "command": "true"}"#.to_owned(),
            r#"{"id": "c", "command": "true", "timeout": -1}"#.to_owned(),
            r#"{"id": "d", "command": "true"}"#.to_owned(),
        ],
    );

    let run = queue.run(&["enqueue", "--file", file.to_str().expect("UTF-8 path")]);

    run.expect_code(2);
    let line = run.error_line();
    assert!(line.contains("line 4"), "{line}");
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// A job file with a duplicate id is refused whole with exit 4.
#[test]
fn job_file_reusing_an_id_is_refused_whole_with_exit_4() {
    let (queue, before) = queue_with_jobs();
    let file = queue.path("jobs.jsonl");
    write_lines(
        &file,
        &[
            r#"{"id": "new", "command": "true"}"#.to_owned(),
            r#"{"id": "first", "command": "echo replaced"}"#.to_owned(),
        ],
    );

    let run = queue.run(&["enqueue", "--file", file.to_str().expect("UTF-8 path")]);

    run.expect_code(4);
    assert!(run.error_line().contains("first"), "{run:#?}");
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// A job file that does not exist is a usage error (exit 2) naming it.
#[test]
fn missing_job_file_exits_2_naming_the_file() {
    let (queue, before) = queue_with_jobs();
    let file = queue.path("no-such-file.jsonl");

    let run = queue.run(&["enqueue", "--file", file.to_str().expect("UTF-8 path")]);

    run.expect_code(2);
    assert!(run.error_line().contains("no-such-file.jsonl"), "{run:#?}");
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// `--db` naming a directory fails (exit 1) with one line that says so.
#[test]
fn database_path_that_is_a_directory_exits_1_with_one_line() {
    let dir = tempfile::tempdir().expect("cannot create a temporary directory");
    let db = dir.path().to_str().expect("UTF-8 path");

    for args in [&["--db", db, "list"][..], &["--db", db, "enqueue", "true"]] {
        let run = run(args);
        run.expect_code(1);
        assert!(run.error_line().contains("is a directory"), "{run:#?}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("readable").collect();
    assert!(left.is_empty(), "files were created in {db}: {left:?}");
}

/// Enqueueing an id that is taken fails with exit 4 and leaves the job
/// that has it as it was.
#[test]
fn duplicate_id_exits_4_and_keeps_the_original_job() {
    let (queue, before) = queue_with_jobs();
    let original = queue.job("first");

    let run = queue.run(&[
        "enqueue",
        "--id",
        "first",
        "--priority",
        "9",
        "echo replaced",
    ]);

    run.expect_code(4);
    assert!(run.error_line().contains("first"), "{run:#?}");
    assert_eq!(queue.job("first"), original);
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// `inspect` and `dlq retry` of an id no job has exit 3.
#[test]
fn unknown_job_id_exits_3() {
    let (queue, before) = queue_with_jobs();

    for command in ["inspect", "dlq retry"] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("no-such-job");
        let run = queue.run(&args);
        run.expect_code(3);
        assert!(run.error_line().contains("no-such-job"), "{run:#?}");
    }
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// `dlq retry` of a job that is not dead fails with exit 4 and leaves it as
/// it was.
#[test]
fn dlq_retry_of_a_job_that_is_not_dead_exits_4_and_changes_nothing() {
    let (queue, before) = queue_with_jobs();

    let run = queue.run(&["dlq", "retry", "first"]);

    run.expect_code(4);
    let line = run.error_line();
    assert!(line.contains("first") && line.contains("pending"), "{line}");
    assert_eq!(queue.json(&["list", "--json"]), before);
}

/// `config set` of an unknown key or a bad value is a usage error (exit 2)
/// and changes no setting.
#[test]
fn config_set_of_an_unknown_key_or_bad_value_exits_2_and_changes_nothing() {
    let queue = Queue::new();
    let before = queue.json(&["config", "list", "--json"]);

    let cases = [
        ("frobnicate", "1", "unknown config key"),
        ("max-retries", "1001", "max-retries"),
        ("max-retries", "many", "max-retries"),
        ("max-retries", "-1", "max-retries"),
        ("backoff-base", "0.5", "backoff-base"),
        ("lease", "0", "lease"),
        ("poll-interval", "1ms", "poll-interval"),
        ("output-limit", "10", "output-limit"),
    ];
    for (key, value, named) in cases {
        let run = queue.run(&["config", "set", key, value]);
        run.expect_code(2);
        assert!(run.error_line().contains(named), "{key} {value}: {run:#?}");
        assert_eq!(
            queue.json(&["config", "list", "--json"]),
            before,
            "{key} {value}"
        );
    }
    queue.run(&["config", "get", "frobnicate"]).expect_code(2);
}
