//! queue-worker
#![allow(missing_docs)]
mod handler;
pub use handler::{CancelToken, Execution, Handler, JobContext};
