//! The one error type of the storage layer.

use std::path::PathBuf;

use queue_core::{ConfigError, JobId, SpecError, TransitionError};

/// A boxed error from a database driver.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed. Nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A job with this id is already stored.
    #[error("a job with id {0} already exists")]
    Duplicate(JobId),
    /// No job has this id.
    #[error("no job with id {0}")]
    NotFound(JobId),
    /// The job is not in a state that allows the operation.
    #[error("job {id}: {source}")]
    WrongState {
        /// The job.
        id: JobId,
        /// The refused transition.
        #[source]
        source: TransitionError,
    },
    /// One spec of a batch is invalid; the batch was refused whole.
    #[error("job {}: {source}", index + 1)]
    InvalidSpec {
        /// The spec's position in the batch, from 0.
        index: usize,
        /// What is wrong with it.
        #[source]
        source: SpecError,
    },
    /// A configuration key or value was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The receiver of an export failed; the export stopped there.
    #[error("export stopped: {0}")]
    Sink(#[source] BackendError),
    /// The database was made by a newer version of queuectl.
    #[error(
        "database {} has schema version {found}, newer than this queuectl supports \
         ({supported}); upgrade queuectl",
        path.display()
    )]
    TooNew {
        /// The database: a file, or a PostgreSQL URL without its password.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// The file exists but is not a queuectl database.
    #[error("{} is not a queuectl database: {reason}", path.display())]
    NotAQueue {
        /// The file, or a PostgreSQL URL without its password.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The database could not be opened or created.
    #[error("cannot open database {}: {reason}", path.display())]
    Open {
        /// The path tried, or a PostgreSQL URL without its password.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },
    /// Stored data that this build cannot read.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database driver failed.
    #[error("database error: {0}")]
    Backend(#[source] BackendError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

#[cfg(feature = "postgres")]
impl From<postgres::Error> for StoreError {
    fn from(err: postgres::Error) -> Self {
        StoreError::Backend(Box::new(err))
    }
}

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Reads a job state as a backend stored it. Any other text means the
/// database was changed behind the queue's back.
pub(crate) fn stored_state(text: &str) -> Result<queue_core::JobState, StoreError> {
    text.parse()
        .map_err(|err: queue_core::UnknownState| StoreError::Corrupt(err.to_string()))
}
