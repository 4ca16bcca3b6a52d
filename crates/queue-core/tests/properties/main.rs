//! Property tests of the parsers that read what users type: the JSON job spec
//! and the queue settings.
//!
//! Each property runs 256 generated cases by default so that `cargo test`
//! stays fast; `PROPTEST_CASES` raises the count for a longer search. A
//! failing case is shrunk and its seed saved beside the test file that found
//! it, in a `.proptest-regressions` file meant to be checked in, so that it
//! runs again first from then on.

mod config;
mod spec;

use proptest::test_runner::{Config, FileFailurePersistence};

/// The runner settings every property here uses.
///
/// The case count is the default, which reads `PROPTEST_CASES`. Failures are
/// saved next to the test's own source file: the default looks for a
/// `lib.rs` above it and, finding none under `tests/`, would warn first.
fn runner() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}

/// Fails unless `message` is something a user can read on one line: not
/// empty, and free of line breaks and other control characters.
fn assert_one_line(message: &str) {
    assert!(!message.trim().is_empty(), "empty message");
    assert!(
        !message.chars().any(char::is_control),
        "message holds a control character: {message:?}"
    );
}

/// Whether `message` contains `word` standing on its own, not inside a longer
/// name (so that "invalid" does not count as naming "id").
fn names(message: &str, word: &str) -> bool {
    let part_of_name = |c: char| c.is_alphanumeric() || c == '_';
    message.match_indices(word).any(|(at, _)| {
        let before = message[..at].chars().next_back();
        let after = message[at + word.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}
