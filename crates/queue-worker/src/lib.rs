//! Runs queued jobs: handlers, shell commands and the worker pool.
//!
//! A [`Handler`] runs one kind of job. [`ShellHandler`] runs shell commands in
//! their own process group, with a time limit that kills the whole tree and a
//! bounded tail of their output. [`WorkerPool`] claims due jobs from any
//! [`queue_store::Store`] and runs them on a fixed number of threads, renewing
//! leases while they run and settling their outcomes in batches.
//!
//! This crate parses no arguments and prints nothing; it reports through
//! `tracing` events.
//!
//! ```
//! use std::sync::Arc;
//! use queue_core::{JobSpec, JobState};
//! use queue_store::{SqliteStore, Store};
//! use queue_worker::{ShellHandler, WorkerPool};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);
//! let ids = store.enqueue(vec![JobSpec::shell("echo hello")])?;
//!
//! let pool = WorkerPool::builder(store.clone())
//!     .handler(queue_core::SHELL_KIND, ShellHandler::new())
//!     .concurrency(4)
//!     .start()?;
//! pool.handle().shutdown_when_idle();
//! pool.join()?;
//!
//! let job = store.job(&ids[0])?.unwrap();
//! assert_eq!(job.state, JobState::Completed);
//! assert_eq!(job.stdout.as_deref(), Some("hello\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod capture;
mod handler;
mod pool;
mod reap;
mod shell;

pub use handler::{CancelToken, Execution, Handler, JobContext};
pub use pool::{PoolBuilder, PoolError, PoolHandle, PoolSummary, WorkerPool};
pub use reap::become_subreaper;
pub use shell::ShellHandler;
