//! Tests of `queuectl dashboard`: the real binary on a free port, spoken
//! to over HTTP, and driven in a real browser.
//!
//! Each test starts its own dashboard on a queue of its own in a temporary
//! directory, with `--bind 127.0.0.1:0`, and reads the URL it prints once
//! it listens, so tests run in parallel without racing for ports. Tests
//! wait for conditions by polling with a deadline.

#[path = "dashboard/browser.rs"]
mod browser;
#[path = "dashboard/http.rs"]
mod http;
#[path = "dashboard/postgres.rs"]
mod postgres;
#[path = "dashboard/support.rs"]
mod support;
