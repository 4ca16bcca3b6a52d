//! Durable storage for queuectl.
//!
//! [`Store`] is the contract every backend keeps: atomic batch enqueue, an
//! atomic claim that stamps an owner and a lease, guarded writes for every
//! later step of an attempt, rescue of attempts whose lease lapsed, the shared
//! settings and the registry of workers. [`SqliteStore`] keeps a queue in one
//! SQLite file, shared safely by any number of processes on one machine.
//!
//! This crate writes all of the queue's SQL. It does not run jobs and knows
//! nothing of the command line; the rules it applies come from `queue_core`.
//!
//! ```
//! use std::time::Duration;
//! use queue_core::{JobSpec, JobState, WorkerId};
//! use queue_store::{ClaimRequest, SqliteStore, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("queue.db"))?;
//! store.enqueue(vec![JobSpec::shell("echo hi").with_priority(5)])?;
//!
//! let worker = WorkerId::generate("host", 1);
//! let request = ClaimRequest {
//!     worker: &worker,
//!     limit: 10,
//!     lease: Duration::from_secs(30),
//!     kinds: &[],
//! };
//! let claimed = store.claim(&request)?;
//! assert_eq!(claimed.len(), 1);
//! assert_eq!(claimed[0].state, JobState::Processing);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod error;
mod sqlite;
mod store;

pub use clock::{Clock, ManualClock, MonotonicTime, SystemClock};
pub use error::{BackendError, Result, StoreError};
pub use sqlite::{SCHEMA_VERSION, SqliteStore, SqliteStoreBuilder};
pub use store::{ClaimRequest, JobQuery, Settled, Store, WorkerRecord, WorkerSignal};
