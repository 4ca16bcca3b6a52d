//! Runnable examples of embedding the queue in a Rust application.
//!
//! The examples sit beside this file and use the queue's crates exactly as
//! an outside application would. Run one from the repository root with
//! `cargo run --example NAME`:
//!
//! - `two_kinds`: two kinds of job, a hundred jobs, drained;
//! - `transactional`: jobs enqueued in the application's own transaction;
//! - `retry_policy`: permanent errors, retry-after and backoff;
//! - `graceful_shutdown`: Ctrl-C lets running jobs finish or stop cleanly.
