//! Durable storage for queuectl.
//!
//! [`Store`] is the contract every backend keeps: atomic batch enqueue, an
//! atomic claim that stamps an owner and a lease, guarded writes for every
//! later step of an attempt, rescue of attempts whose lease lapsed, the shared
//! settings and the registry of workers. [`SqliteStore`] keeps a queue in one
//! SQLite file, shared safely by any number of processes on one machine.
//! `PostgresStore`, behind the `postgres` cargo feature, keeps one in a
//! PostgreSQL database shared by workers on many hosts; it opens from a URL
//! (`PostgresStore::open("postgres://user@host/db")`).
//!
//! This crate writes all of the queue's SQL. It does not run jobs and knows
//! nothing of the command line; the rules it applies come from `queue_core`.
//!
//! An application that keeps its own data in SQLite can enqueue inside its
//! own transactions with [`sqlite::enqueue_in`], so that a job is stored if
//! and only if the application's change commits. [`rusqlite`] is re-exported
//! for that, so the application and this crate agree on its version.
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

#![deny(missing_docs)]

mod clock;
mod error;
mod millis;
#[cfg(feature = "postgres")]
mod postgres;
pub mod sqlite;
mod store;

#[cfg(feature = "postgres")]
pub use crate::postgres::{
    DEFAULT_SCHEMA as POSTGRES_DEFAULT_SCHEMA, POSTGRES_SCHEMA_VERSION, PostgresStore,
    PostgresStoreBuilder,
};
pub use clock::{Clock, ManualClock, MonotonicTime, SystemClock};
pub use error::{BackendError, Result, StoreError};
/// The SQLite bindings this crate is built on, for [`sqlite::enqueue_in`]:
/// an application that uses this re-export shares the crate's version of
/// `rusqlite` and so can pass its own transactions in.
pub use rusqlite;
pub use sqlite::{SCHEMA_VERSION, SqliteStore, SqliteStoreBuilder};
pub use store::{
    ClaimRequest, ExportSink, FinishedMinute, JobQuery, JobRecord, OutputUpdate, Settled, Store,
    WakeSource, WorkerRecord, WorkerSignal, imported,
};
