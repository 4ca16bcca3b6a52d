//! Times as stored: integer milliseconds since the Unix epoch, UTC.
//!
//! Both backends keep times this way, so they sort and index as numbers and a
//! job copied from one backend to the other keeps every time exactly.

use chrono::TimeZone;
use queue_core::Timestamp;

use crate::StoreError;

pub(crate) fn to_millis(time: Timestamp) -> i64 {
    time.timestamp_millis()
}

pub(crate) fn from_millis(millis: i64) -> Result<Timestamp, StoreError> {
    chrono::Utc
        .timestamp_millis_opt(millis)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("time {millis} ms is out of range")))
}
