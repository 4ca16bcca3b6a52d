//! Identifiers of jobs and of the workers that own them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest id a job may have, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid job id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id was empty or only white space.
    #[error("job id is empty")]
    Empty,
    /// The id was longer than [`MAX_ID_LEN`] bytes.
    #[error("job id is {len} bytes long; the limit is {MAX_ID_LEN}")]
    TooLong {
        /// The length that was given.
        len: usize,
    },
    /// The id held white space or a control character.
    #[error("job id {id:?} contains white space or a control character")]
    BadCharacter {
        /// The id that was given.
        id: String,
    },
}

/// The name of a job, unique in its queue.
///
/// Callers may choose ids; otherwise [`JobId::generate`] makes a UUIDv7, whose
/// text sorts by creation time. Ids are printable and free of white space so
/// that they can be typed and pasted in a shell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// Checks and wraps a caller-chosen id.
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(IdError::Empty);
        }
        if id.len() > MAX_ID_LEN {
            return Err(IdError::TooLong { len: id.len() });
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(IdError::BadCharacter { id });
        }
        Ok(Self(id))
    }

    /// A fresh, time-ordered id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JobId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for JobId {
    type Error = IdError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

/// The name of one worker pool (normally one process) that claims jobs.
///
/// It is stamped on every job the worker claims; every later write about the
/// attempt must present it, so a worker that lost a job cannot touch it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(String);

impl WorkerId {
    /// A fresh id for a worker on `host` running as process `pid`.
    pub fn generate(host: &str, pid: u32) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("{host}:{pid}:{}", &unique[..8]))
    }

    /// Wraps an id that was read back from storage.
    pub fn from_stored(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_plain_id() {
        assert_eq!(JobId::new("job-1").unwrap().as_str(), "job-1");
    }

    #[test]
    fn rejects_empty_long_and_spaced_ids() {
        assert_eq!(JobId::new(""), Err(IdError::Empty));
        assert_eq!(JobId::new("  "), Err(IdError::Empty));
        assert!(matches!(
            JobId::new("a".repeat(129)),
            Err(IdError::TooLong { len: 129 })
        ));
        assert!(matches!(
            JobId::new("a b"),
            Err(IdError::BadCharacter { .. })
        ));
        assert!(matches!(
            JobId::new("a\u{7}"),
            Err(IdError::BadCharacter { .. })
        ));
    }

    #[test]
    fn generated_ids_are_valid_and_distinct() {
        let a = JobId::generate();
        let b = JobId::generate();
        assert_ne!(a, b);
        assert!(JobId::new(a.as_str()).is_ok());
    }

    #[test]
    fn deserializing_checks_the_id() {
        assert!(serde_json::from_str::<JobId>("\"\"").is_err());
        assert_eq!(
            serde_json::from_str::<JobId>("\"x\"").unwrap().as_str(),
            "x"
        );
    }
}
