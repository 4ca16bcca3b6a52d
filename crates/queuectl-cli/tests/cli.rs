//! Integration tests of the `queuectl` binary.
//!
//! Every test runs the real executable, as a user or a script would, against
//! a queue database of its own in a temporary directory, so tests run in
//! parallel without seeing each other. Worker processes are started and
//! stopped through the CLI and killed if a test fails. Tests wait for
//! conditions by polling with a deadline, never by sleeping for a guess.

#[path = "cli/bad_input.rs"]
mod bad_input;
#[path = "cli/chaos.rs"]
mod chaos;
#[path = "cli/concurrency.rs"]
mod concurrency;
#[path = "cli/crash.rs"]
mod crash;
#[path = "cli/durability.rs"]
mod durability;
#[path = "cli/lifecycle.rs"]
mod lifecycle;
#[path = "cli/load.rs"]
mod load;
#[path = "cli/output.rs"]
mod output;
#[path = "cli/retries.rs"]
mod retries;
#[path = "cli/scheduling.rs"]
mod scheduling;
#[path = "cli/signals.rs"]
mod signals;
#[path = "cli/stop.rs"]
mod stop;
#[path = "cli/support.rs"]
mod support;
