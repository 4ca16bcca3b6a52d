//! Shared pieces of the benchmarks: fresh queues, bulk loading, and the raw
//! loops that measure what the machine itself allows.
//!
//! Everything here uses the libraries through their public API, as an outside
//! application would. The raw loops talk to SQLite directly with the same
//! claim and complete statements the store runs, to give each measurement a
//! ceiling to be compared with.

pub mod raw;
pub mod report;

use std::path::Path;
use std::time::Duration;

use queue_core::{JobSpec, WorkerId};
use queue_store::{ClaimRequest, SqliteStore, Store};

/// The kind of the no-op jobs the benchmarks drain.
pub const NOOP_KIND: &str = "noop";

/// A new queue in `dir`.
pub fn fresh_store(dir: &Path) -> SqliteStore {
    SqliteStore::builder(dir.join("bench.db"))
        .open()
        .unwrap_or_else(|err| panic!("cannot open the benchmark database: {err}"))
}

/// Enqueues `count` no-op jobs in batches of 10,000.
pub fn fill(store: &dyn Store, count: usize) {
    let mut left = count;
    while left > 0 {
        let batch = left.min(10_000);
        let specs = (0..batch)
            .map(|_| JobSpec::new(NOOP_KIND, serde_json::Value::Null))
            .collect();
        store
            .enqueue(specs)
            .unwrap_or_else(|err| panic!("cannot fill the queue: {err}"));
        left -= batch;
    }
}

/// A claim request for `limit` jobs of any kind under `worker`.
pub fn claim_request(worker: &WorkerId, limit: usize) -> ClaimRequest<'_> {
    ClaimRequest {
        worker,
        limit,
        lease: Duration::from_secs(300),
        kinds: &[],
    }
}
