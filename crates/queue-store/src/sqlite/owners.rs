//! Lease owners: the small numbers by which running jobs name the worker
//! that holds them and the boot its lease was taken in.
//!
//! A job row stores only the number (see the schema for why). Owners are
//! made on demand inside the writing transaction, so a number is never used
//! outside the transaction that read it, and one that no running job names
//! may be deleted at any time.

use rusqlite::{OptionalExtension, Transaction, params};

use crate::Result;

/// Finds the owner that is worker `?1` in boot `?2`.
pub(super) const FIND: &str = "SELECT key FROM lease_owners WHERE worker_id = ?1 AND boot_id = ?2";

/// Deletes every owner that no running job names and whose worker is no
/// longer registered. A registered worker keeps its owner while it idles, so
/// that its empty claims do not make the row again after every rescue.
/// Owners are few (one per worker and boot), so reading them all costs
/// little.
pub(super) const PRUNE: &str = "DELETE FROM lease_owners \
     WHERE NOT EXISTS (SELECT 1 FROM jobs \
             WHERE state = 'processing' AND lease_owner = lease_owners.key) \
       AND NOT EXISTS (SELECT 1 FROM workers WHERE workers.id = lease_owners.worker_id)";

/// The number of `worker` holding leases in `boot`, made if it is new.
pub(super) fn key(tx: &Transaction<'_>, worker: &str, boot: &str) -> Result<i64> {
    let found = tx
        .prepare_cached(FIND)?
        .query_row(params![worker, boot], |row| row.get(0))
        .optional()?;
    if let Some(key) = found {
        return Ok(key);
    }
    tx.prepare_cached("INSERT INTO lease_owners (worker_id, boot_id) VALUES (?1, ?2)")?
        .execute(params![worker, boot])?;
    Ok(tx.last_insert_rowid())
}

/// Deletes the owners that no running job names any more. Rescue runs it,
/// and every worker rescues now and then, so owners do not pile up.
pub(super) fn prune(tx: &Transaction<'_>) -> Result<usize> {
    Ok(tx.prepare_cached(PRUNE)?.execute([])?)
}
