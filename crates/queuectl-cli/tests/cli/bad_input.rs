//! User mistakes: every argument and every field of a JSON job spec, given a
//! bad value, gets one clear line on stderr and its documented exit code,
//! and leaves every byte of the database as it was.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use crate::support::{Queue, Run, queuectl, write_lines};

/// Every file in `dir` with its bytes, the database and its write-ahead log
/// included. The log's shared-memory index (`-shm`) is left out: every
/// reader rewrites it, and it is rebuilt from the log, so it holds nothing
/// of the queue's.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("the directory is readable")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter(|entry| !entry.file_name().to_string_lossy().ends_with("-shm"))
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(entry.path()).expect("a readable file"))
        })
        .collect()
}

/// A queue holding a completed job `first`, a pending job `second` due in
/// ten minutes and a dead job `buried`, with the files of its directory as
/// they are at rest.
fn queue_with_jobs() -> (Queue, BTreeMap<String, Vec<u8>>) {
    let queue = Queue::new();
    queue.enqueue(&["--id", "first", "--priority", "3", "echo first"]);
    queue.enqueue(&["--id", "second", "--delay", "600", "echo second"]);
    queue.enqueue(&["--id", "buried", "--max-retries", "0", "exit 1"]);
    let mut worker = queue.start_worker(1);
    queue.wait_for_state("buried", "dead", std::time::Duration::from_secs(10));
    queue.ok(&["worker", "stop"]);
    assert!(worker.wait_exit().success(), "{}", worker.log());
    let dir = queue.db().parent().expect("a directory").to_owned();
    // Worker logs and files written by tests live beside the database.
    let snapshot = files(&dir);
    (queue, snapshot)
}

/// Runs `args` on `queue` and checks the refusal: exit `code`, nothing on
/// stdout, one `queuectl: ...` line on stderr containing `expected`, and
/// the directory byte for byte as `before`.
#[track_caller]
fn refused(
    queue: &Queue,
    before: &BTreeMap<String, Vec<u8>>,
    args: &[&str],
    code: i32,
    expected: &str,
) {
    let run = queue.run(args);
    check_refusal(&run, args, code, expected);
    let dir = queue.db().parent().expect("a directory");
    assert!(files(dir) == *before, "{args:?} changed the database");
}

#[track_caller]
fn check_refusal(run: &Run, args: &[&str], code: i32, expected: &str) {
    assert_eq!(run.code, Some(code), "{args:?}: {run:#?}");
    assert!(run.stdout.is_empty(), "{args:?}: {run:#?}");
    let line = run.error_line();
    assert!(
        line.contains(expected),
        "{args:?}: expected {expected:?} in {line:?}"
    );
}

/// Every flag of `enqueue` with a value out of range, of the wrong type or
/// in conflict with another: a usage error (exit 2) that names the flag.
#[test]
fn bad_enqueue_arguments_exit_2_and_change_nothing() {
    let (queue, before) = queue_with_jobs();
    let long_id = "x".repeat(129);
    let cases: &[(&[&str], &str)] = &[
        (&[""], "command is empty"),
        (&["   "], "command is empty"),
        (&[], "required arguments were not provided"),
        (
            &["--frobnicate", "true"],
            "unexpected argument '--frobnicate'",
        ),
        (&["--id", "", "true"], "job id is empty"),
        (&["--id", "a b", "true"], "white space"),
        (&["--id", &long_id, "true"], "the limit is 128"),
        (&["--priority", "1000001", "true"], "--priority"),
        (&["--priority", "-1000001", "true"], "--priority"),
        (
            &["--priority", "99999999999999999999", "true"],
            "--priority",
        ),
        (&["--priority", "high", "true"], "--priority"),
        (&["--delay", "-1", "true"], "--delay"),
        (&["--delay", "316224001", "true"], "--delay"),
        (&["--delay", "1.5", "true"], "--delay"),
        (&["--delay", "18446744073709551616", "true"], "--delay"),
        (&["--run-at", "tomorrow", "true"], "not an RFC 3339 time"),
        (
            &["--run-at", "2026-02-30T10:00:00Z", "true"],
            "not an RFC 3339",
        ),
        (
            &["--run-at", "2026-12-24 10:00", "true"],
            "not an RFC 3339 time",
        ),
        (&["--run-at", "", "true"], "not an RFC 3339 time"),
        (
            &["--run-at", "2026-12-24T10:00:00Z", "--delay", "5", "true"],
            "cannot be used with",
        ),
        (&["--timeout", "-1", "true"], "--timeout"),
        (&["--timeout", "2592001", "true"], "--timeout"),
        (&["--timeout", "99999999999999999999", "true"], "--timeout"),
        (&["--max-retries", "-1", "true"], "--max-retries"),
        (&["--max-retries", "1001", "true"], "--max-retries"),
        (&["--max-retries", "4294967296", "true"], "--max-retries"),
        (&["--file", "jobs.jsonl", "true"], "cannot be used with"),
        (
            &["--file", "jobs.jsonl", "--priority", "3"],
            "--file takes every option",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["enqueue"];
        all.extend_from_slice(args);
        refused(&queue, &before, &all, 2, expected);
    }
}

/// Every field of a JSON job spec, with a value of the wrong type, out of
/// range, malformed or in conflict, and fields that do not exist: a usage
/// error (exit 2) that names the field.
#[test]
fn bad_json_spec_fields_exit_2_and_change_nothing() {
    let (queue, before) = queue_with_jobs();
    let cases = [
        (r#"{"command": ""}"#, "command is empty"),
        (r#"{"command": "  "}"#, "command is empty"),
        (r#"{"command": null}"#, "command is empty"),
        (r#"{}"#, "command is empty"),
        (r#"{"command": 5}"#, "command must be a string, got 5"),
        (r#"{"command": "x", "id": ""}"#, "job id is empty"),
        (r#"{"command": "x", "id": 7}"#, "id must be a string, got 7"),
        (r#"{"command": "x", "id": "a b"}"#, "white space"),
        (
            r#"{"command": "x", "priority": 1000001}"#,
            "priority must be between",
        ),
        (
            r#"{"command": "x", "priority": -1000001}"#,
            "priority must be between",
        ),
        (
            r#"{"command": "x", "priority": 1.5}"#,
            "priority must be a whole number",
        ),
        (
            r#"{"command": "x", "priority": "5"}"#,
            "priority must be a whole number",
        ),
        (
            r#"{"command": "x", "priority": 99999999999999999999}"#,
            "priority must be a whole number",
        ),
        (
            r#"{"command": "x", "max_retries": -1}"#,
            "max_retries must be between 0 and 1000",
        ),
        (
            r#"{"command": "x", "max_retries": 1001}"#,
            "max_retries must be between 0 and 1000",
        ),
        (
            r#"{"command": "x", "max_retries": 1e3}"#,
            "max_retries must be a whole number",
        ),
        (
            r#"{"command": "x", "run_at": "tomorrow"}"#,
            "run_at \"tomorrow\" is not",
        ),
        (
            r#"{"command": "x", "run_at": "2026-02-30T10:00:00Z"}"#,
            "not an RFC 3339 time",
        ),
        (
            r#"{"command": "x", "run_at": 1766570400}"#,
            "run_at must be a string",
        ),
        (r#"{"command": "x", "delay": -1}"#, "delay must be between"),
        (
            r#"{"command": "x", "delay": 316224001}"#,
            "delay must be between",
        ),
        (
            r#"{"command": "x", "delay": "5"}"#,
            "delay must be a whole number",
        ),
        (
            r#"{"command": "x", "timeout": -1}"#,
            "timeout must be between",
        ),
        (
            r#"{"command": "x", "timeout": 2592001}"#,
            "timeout must be between",
        ),
        (
            r#"{"command": "x", "timeout": true}"#,
            "timeout must be a whole number",
        ),
        (
            r#"{"command": "x", "kind": "email"}"#,
            "command is for shell jobs; a job of kind \"email\" takes a payload",
        ),
        (
            r#"{"kind": "bad kind", "payload": 1}"#,
            "job kind \"bad kind\" is invalid",
        ),
        (
            r#"{"command": "x", "payload": {}}"#,
            "payload is for jobs of other kinds",
        ),
        (
            r#"{"command": "x", "colour": "red"}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"command": "a", "command": "b"}"#,
            "duplicate field `command`",
        ),
        (
            r#"{"command": "x", "run_at": "2026-12-24T10:00:00Z", "delay": 5}"#,
            "run_at and delay",
        ),
        (r#"{"command": "x""#, "invalid job spec"),
        (r#"{"command": "x"} and more"#, "invalid job spec"),
    ];
    for (spec, expected) in cases {
        refused(&queue, &before, &["enqueue", spec], 2, expected);
    }

    let fresh = Queue::unopened();
    fresh.run(&["enqueue", cases[0].0]).expect_code(2);
    assert!(!fresh.db().exists(), "a rejected spec created the database");
}

/// `enqueue --file` refuses the whole batch when the file is missing, is a
/// directory, is not text, holds no specs or holds one bad line, and the
/// error names the file and the line (counting blank lines).
#[test]
fn bad_job_files_are_refused_whole_naming_the_line() {
    let (queue, _) = queue_with_jobs();
    let good = r#"{"id": "new", "command": "true"}"#.to_owned();
    write_lines(
        &queue.path("bad-line.jsonl"),
        &[
            good.clone(),
            String::new(),
            r#"{"id": "b", "command": "true"}"#.to_owned(),
            r#"{"id": "c", "command": "true", "timeout": -1}"#.to_owned(),
            r#"{"id": "d", "command": "true"}"#.to_owned(),
        ],
    );
    write_lines(
        &queue.path("other-kind.jsonl"),
        &[
            good.clone(),
            r#"{"kind": "email", "command": "true"}"#.to_owned(),
        ],
    );
    write_lines(
        &queue.path("blank.jsonl"),
        &[String::new(), "  ".to_owned()],
    );
    let mut binary = good.into_bytes();
    binary.extend_from_slice(b"\n{\"command\": \"\xff\xfe\"}\n");
    std::fs::write(queue.path("binary.jsonl"), binary).expect("a test file");
    let dir = queue.db().parent().expect("a directory").to_owned();
    let before = files(&dir);

    let path = |name: &str| queue.path(name).to_str().expect("UTF-8 path").to_owned();
    let cases = [
        (
            path("bad-line.jsonl"),
            "bad-line.jsonl: line 4: timeout must be between",
        ),
        (
            path("other-kind.jsonl"),
            "line 2: invalid job spec: command is for shell jobs",
        ),
        (
            path("binary.jsonl"),
            "binary.jsonl: line 2 is not UTF-8 text",
        ),
        (path("blank.jsonl"), "holds no job specs"),
        (path("missing.jsonl"), "missing.jsonl"),
        (
            dir.to_str().expect("UTF-8 path").to_owned(),
            "is a directory",
        ),
    ];
    for (file, expected) in &cases {
        refused(&queue, &before, &["enqueue", "--file", file], 2, expected);
    }

    let mut child = queue
        .command(&["enqueue", "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("queuectl starts");
    let mut stdin = child.stdin.take().expect("a pipe");
    stdin
        .write_all(b"{\"command\": \"true\"}\n{\"command\": \"true\", \"delay\": -5}\n")
        .expect("the specs are written");
    drop(stdin);
    let output = child.wait_with_output().expect("queuectl ends");
    let run = Run::from_output(&output);
    check_refusal(
        &run,
        &["--file", "-"],
        2,
        "standard input: line 2: delay must be",
    );
    assert!(files(&dir) == before, "standard input changed the database");
}

/// Every other command's arguments, out of range or of the wrong kind, and
/// every setting given a bad value: a usage error (exit 2).
#[test]
fn bad_arguments_of_every_other_command_exit_2_and_change_nothing() {
    let (queue, before) = queue_with_jobs();
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (vec!["stauts"], "a similar subcommand exists: 'status'"),
        (vec!["worker", "start", "--count", "0"], "--count"),
        (vec!["worker", "start", "--count", "1025"], "--count"),
        (vec!["worker", "start", "--count", "-1"], "--count"),
        (vec!["worker", "start", "--count", "two"], "--count"),
        (vec!["worker", "start", "--grace", "-1"], "--grace"),
        (vec!["worker", "start", "--grace", "86401"], "--grace"),
        (vec!["worker", "start", "--grace", "1e3"], "--grace"),
        (vec!["worker", "start", "--prefetch", "1025"], "--prefetch"),
        (vec!["worker", "start", "--prefetch", "-1"], "--prefetch"),
        (vec!["worker", "start", "--prefetch", "some"], "--prefetch"),
        (vec!["start-workers", "--count", "0"], "--count"),
        (
            vec!["worker", "stop", "--now"],
            "unexpected argument '--now'",
        ),
        (
            vec!["status", "--verbose"],
            "unexpected argument '--verbose'",
        ),
        (
            vec!["list", "--state", "running"],
            "unknown state \"running\"",
        ),
        (vec!["list", "--limit", "0"], "--limit"),
        (vec!["list", "--limit", "-1"], "--limit"),
        (vec!["list", "--limit", "1000000001"], "--limit"),
        (vec!["list", "--limit", "many"], "--limit"),
        (vec!["dlq", "list", "--limit", "0"], "--limit"),
        (vec!["inspect"], "required arguments were not provided"),
        (vec!["inspect", ""], "job id is empty"),
        (vec!["inspect", "a b"], "white space"),
        (vec!["dlq", "retry", ""], "job id is empty"),
        (vec!["demo", "--count", "0"], "--count"),
        (vec!["demo", "--count", "65"], "--count"),
        (
            vec!["config", "get", "frobnicate"],
            "unknown config key \"frobnicate\"",
        ),
        (
            vec!["config", "set", "frobnicate", "1"],
            "unknown config key",
        ),
        (
            vec!["config", "set", "max-retries"],
            "required arguments were not provided",
        ),
    ];
    let settings = [
        ("max-retries", ["-1", "1001", "many"]),
        ("backoff-base", ["0.5", "101", "NaN"]),
        ("backoff-max", ["0", "367d", "soon"]),
        ("job-timeout", ["-1", "31d", "1.5s"]),
        ("lease", ["0", "25h", "99999999999999999999999s"]),
        ("poll-interval", ["1ms", "2h", ""]),
        ("output-limit", ["10", "67108865", "64k"]),
        ("synchronous", ["2", "fast", ""]),
    ];
    for (key, values) in &settings {
        for value in values {
            cases.push((vec!["config", "set", key, value], key));
        }
    }
    for (args, expected) in cases {
        refused(&queue, &before, &args, 2, expected);
    }
}

/// An id no job has: exit 3. A job in a state that does not allow the
/// command, or an id that is taken: exit 4.
#[test]
fn unknown_ids_exit_3_and_conflicts_exit_4_changing_nothing() {
    let (queue, before) = queue_with_jobs();

    refused(
        &queue,
        &before,
        &["inspect", "no-such-job"],
        3,
        "no-such-job",
    );
    refused(
        &queue,
        &before,
        &["dlq", "retry", "no-such-job"],
        3,
        "no-such-job",
    );
    refused(
        &queue,
        &before,
        &["dlq", "retry", "first"],
        4,
        "job first: cannot revive a job that is completed",
    );
    let pending = "job second: cannot revive a job that is pending";
    refused(&queue, &before, &["dlq", "retry", "second"], 4, pending);
    let replace = [
        "enqueue",
        "--id",
        "first",
        "--priority",
        "9",
        "echo replaced",
    ];
    refused(
        &queue,
        &before,
        &replace,
        4,
        "a job with id first already exists",
    );
    let file = queue.path("taken.jsonl");
    write_lines(
        &file,
        &[
            r#"{"id": "new", "command": "true"}"#.to_owned(),
            r#"{"id": "buried", "command": "echo replaced"}"#.to_owned(),
        ],
    );
    let dir = queue.db().parent().expect("a directory");
    let before = files(dir);
    refused(
        &queue,
        &before,
        &["enqueue", "--file", file.to_str().expect("UTF-8")],
        4,
        "buried",
    );
}

/// Every command that opens the database, to try each bad database with.
const OPENING: [&[&str]; 8] = [
    &["init"],
    &["enqueue", "true"],
    &["status"],
    &["list"],
    &["inspect", "job"],
    &["dlq", "retry", "job"],
    &["config", "set", "max-retries", "5"],
    &["worker", "start"],
];

/// Runs every command that opens a database on `db` and checks that each
/// fails with exit 1 and one line containing `expected`.
#[track_caller]
fn every_command_fails_on(db: &Path, expected: &str) {
    for args in OPENING {
        let run = Run::of(queuectl().arg("--db").arg(db).args(args));
        check_refusal(&run, args, 1, expected);
    }
}

/// Files that are not queuectl databases, or are from a newer queuectl:
/// every command fails (exit 1) naming the problem, and the file is left
/// byte for byte as it was.
#[test]
fn bad_database_files_are_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "shopping list: milk, eggs, bread\n".repeat(100)).expect("a file");
    let binary = dir.path().join("noise.bin");
    let mut rng = crate::support::Rng::new();
    let noise: Vec<u8> = (0..8192).map(|_| rng.below(256) as u8).collect();
    std::fs::write(&binary, noise).expect("a file");
    let other = dir.path().join("contacts.db");
    let conn = rusqlite::Connection::open(&other).expect("a database");
    conn.execute_batch("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ann');")
        .expect("a table");
    drop(conn);
    let newer = Queue::new();
    newer.enqueue(&["--id", "job", "true"]);
    let conn = rusqlite::Connection::open(newer.db()).expect("the queue opens");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("a version");
    conn.pragma_update(None, "user_version", version + 1)
        .expect("the version is set");
    drop(conn);

    let cases = [
        (
            text.as_path(),
            "is not a queuectl database: the file is not an SQLite database",
        ),
        (binary.as_path(), "is not a queuectl database"),
        (
            other.as_path(),
            "is not a queuectl database: it is an SQLite database of another",
        ),
        (newer.db(), "newer than this queuectl supports"),
    ];
    for (db, expected) in cases {
        let parent = db.parent().expect("a directory");
        let before = files(parent);
        every_command_fails_on(db, expected);
        assert!(files(parent) == before, "{} was changed", db.display());
    }

    // The environment variable names the database as --db does.
    let run = Run::of(queuectl().env("QUEUECTL_DB", &text).arg("status"));
    check_refusal(&run, &["status"], 1, "is not a queuectl database");
}

/// Paths where no database can be: a directory, a device, and places where
/// no file can be created. Every command fails (exit 1) with one line, and
/// nothing appears there.
#[test]
fn unusable_database_paths_are_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, "a regular file\n").expect("a file");

    every_command_fails_on(dir.path(), "is a directory");
    every_command_fails_on(Path::new("/dev/null"), "is not a regular file");
    // A path through a regular file, as if it were a directory, cannot be
    // created by anyone. (The tests may run as root, which file permissions
    // do not stop, so unwritable places are ones no permission opens.)
    every_command_fails_on(&plain.join("queue.db"), "plain.txt is not a directory");
    // procfs lets no one create a file in its root.
    every_command_fails_on(Path::new("/proc/queuectl-test.db"), "cannot open database");
    every_command_fails_on(Path::new("/nonexistent-dir/queue.db"), "does not exist");

    assert_eq!(
        files(dir.path()).keys().collect::<Vec<_>>(),
        ["plain.txt"],
        "files were created"
    );
    assert_eq!(
        std::fs::read(&plain).expect("readable"),
        b"a regular file\n"
    );
    assert!(!Path::new("/proc/queuectl-test.db").exists());
}
