//! queue-worker
#![allow(missing_docs)]
mod capture;
mod handler;
mod shell;
pub use handler::{CancelToken, Execution, Handler, JobContext};
pub use shell::ShellHandler;
