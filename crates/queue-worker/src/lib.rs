//! Runs queued jobs: handlers, shell commands and the worker pool, and the
//! client an application enqueues with.
//!
//! This is the crate to embed a durable job queue in a Rust application:
//! jobs survive crashes of the application, run on threads of a
//! [`WorkerPool`] in the same process (or in another process on the same
//! queue, such as `queuectl worker start`), retry with backoff and end in a
//! dead-letter queue when they keep failing. Nothing runs outside the
//! process but SQLite, compiled in.
//!
//! - A [`Handler`] runs one kind of job. Most applications register typed
//!   handlers instead: [`PoolBuilder::typed`] takes a closure over a payload
//!   type that is decoded from the job before it runs, and a type can
//!   implement [`TypedHandler`]. Either returns a [`JobError`] to ask for a
//!   retry with backoff, a retry after a given delay, or none at all. A
//!   panicking handler becomes a failed attempt with the panic's message.
//! - Each handler gets a [`JobContext`]: the job's id, attempt and payload,
//!   and a [`CancelToken`] that fires when the pool shuts down or loses the
//!   job's lease.
//! - A [`Client`] enqueues jobs, one or a batch, with every option of the
//!   command line. To enqueue in the application's own SQLite transaction,
//!   see [`queue_store::sqlite::enqueue_in`].
//! - [`PoolBuilder::on_event`] delivers a [`JobEvent`] for each start,
//!   success, retry, death and release, to log, count or alert.
//! - [`ShellHandler`] runs shell commands in their own process group, with a
//!   time limit that kills the whole tree and a bounded tail of their output;
//!   it is how `queuectl` runs jobs, through the same API.
//!
//! [`WorkerPool`] claims due jobs from any [`queue_store::Store`] and runs
//! them on a fixed number of threads, renewing leases while they run and
//! settling their outcomes in batches.
//!
//! This crate parses no arguments and prints nothing; it reports through
//! `tracing` events and [`JobEvent`]s.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use queue_core::JobState;
//! use queue_store::{SqliteStore, Store};
//! use queue_worker::{JobContext, JobError, JobEvent, WorkerPool};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Welcome {
//!     user_id: u64,
//! }
//!
//! let dir = tempfile::tempdir()?;
//! let store = Arc::new(SqliteStore::open(dir.path().join("queue.db"))?);
//!
//! let finished = Arc::new(Mutex::new(Vec::new()));
//! let seen = finished.clone();
//! let pool = WorkerPool::builder(store.clone())
//!     .typed("welcome", |ctx: &JobContext, job: Welcome| {
//!         if job.user_id == 0 {
//!             return Err(JobError::permanent("no such user"));
//!         }
//!         if ctx.attempt() == 1 && job.user_id == 2 {
//!             return Err(JobError::retry_after(Duration::from_secs(60), "mail server busy"));
//!         }
//!         Ok(())
//!     })
//!     .concurrency(2)
//!     .on_event(move |event| {
//!         if let JobEvent::Completed { attempt, .. } = event {
//!             seen.lock().unwrap().push(attempt.job_id.clone());
//!         }
//!     })
//!     .start()?;
//!
//! let client = pool.client();
//! let first = client.enqueue("welcome", &Welcome { user_id: 1 })?;
//! let nobody = client.enqueue("welcome", &Welcome { user_id: 0 })?;
//! let busy = client.enqueue("welcome", &Welcome { user_id: 2 })?;
//!
//! pool.handle().shutdown_when_idle();
//! pool.join()?;
//! assert_eq!(store.job(&first)?.unwrap().state, JobState::Completed);
//! assert_eq!(store.job(&nobody)?.unwrap().state, JobState::Dead);
//! // Due again in a minute; a pool that stops when idle leaves it queued.
//! assert_eq!(store.job(&busy)?.unwrap().state, JobState::Failed);
//! assert_eq!(*finished.lock().unwrap(), [first]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Shell jobs work the same way, with [`ShellHandler`] registered for
//! [`queue_core::SHELL_KIND`]:
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

#![deny(missing_docs)]

mod capture;
mod client;
mod events;
mod handler;
mod live;
mod pool;
mod reap;
mod shell;
mod typed;

pub use client::Client;
pub use events::{AttemptRef, EVENT_BUFFER, JobEvent};
pub use handler::{CancelToken, Execution, Handler, JobContext};
pub use pool::{PoolBuilder, PoolError, PoolHandle, PoolSummary, WorkerPool};
pub use reap::become_subreaper;
pub use shell::ShellHandler;
pub use typed::{JobError, TypedHandler};
