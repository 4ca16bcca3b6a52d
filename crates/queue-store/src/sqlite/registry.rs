//! The shared settings and the registry of worker processes.

use queue_core::{ConfigKey, QueueConfig, Synchronous, Timestamp, WorkerId};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::rows::{to_millis, worker_from_row};
use crate::{Result, StoreError, WorkerRecord, WorkerSignal};

/// Reads the stored settings over the defaults. A stored value that no
/// longer parses (written by another version) is reported, not ignored.
pub(super) fn config(conn: &Connection) -> Result<QueueConfig> {
    let mut statement = conn.prepare_cached("SELECT key, value FROM config")?;
    let mut rows = statement.query([])?;
    let mut config = QueueConfig::default();
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let value: String = row.get(1)?;
        // Keys this build does not know belong to a newer version; skip them.
        let Ok(key) = key.parse::<ConfigKey>() else {
            continue;
        };
        config
            .set(key, &value)
            .map_err(|err| StoreError::Corrupt(format!("stored setting: {err}")))?;
    }
    Ok(config)
}

/// The stored `synchronous` setting alone, which connections need before
/// anything else is read.
pub(super) fn synchronous(conn: &Connection) -> Result<Option<Synchronous>> {
    let key = ConfigKey::Synchronous;
    let value: Option<String> = conn
        .prepare_cached("SELECT value FROM config WHERE key = ?1")?
        .query_row([key.as_str()], |row| row.get(0))
        .optional()?;
    let Some(value) = value else {
        return Ok(None);
    };
    let mut config = QueueConfig::default();
    config
        .set(key, &value)
        .map_err(|err| StoreError::Corrupt(format!("stored setting: {err}")))?;
    Ok(Some(config.synchronous))
}

pub(super) fn set_config(tx: &Transaction<'_>, key: ConfigKey, value: &str) -> Result<QueueConfig> {
    let mut config = config(tx)?;
    config.set(key, value)?;
    // Store the normalised form, so `config get` shows what will be used.
    tx.prepare_cached(
        "INSERT INTO config (key, value) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key.as_str(), config.get(key)])?;
    Ok(config)
}

pub(super) fn register(tx: &Transaction<'_>, worker: &WorkerRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO workers (id, host, pid, slots, running, started_at, heartbeat_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        worker.id.as_str(),
        worker.host,
        worker.pid,
        worker.slots,
        worker.running,
        to_millis(worker.started_at),
        to_millis(worker.heartbeat_at),
    ])?;
    Ok(())
}

pub(super) fn heartbeat(
    tx: &Transaction<'_>,
    worker: &WorkerId,
    running: u32,
    now: Timestamp,
) -> Result<WorkerSignal> {
    let stop: Option<bool> = tx
        .prepare_cached(
            "UPDATE workers SET heartbeat_at = ?2, running = ?3 WHERE id = ?1 \
             RETURNING stop_requested",
        )?
        .query_row(params![worker.as_str(), to_millis(now), running], |row| {
            row.get(0)
        })
        .optional()?;
    // A worker missing from the registry was removed by an operator tidying
    // up; it is not asked to stop by that.
    Ok(WorkerSignal {
        stop_requested: stop.unwrap_or(false),
    })
}

pub(super) fn unregister(tx: &Transaction<'_>, worker: &WorkerId) -> Result<()> {
    tx.prepare_cached("DELETE FROM workers WHERE id = ?1")?
        .execute([worker.as_str()])?;
    Ok(())
}

pub(super) fn workers(conn: &Connection) -> Result<Vec<WorkerRecord>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, host, pid, slots, running, started_at, heartbeat_at, stop_requested \
         FROM workers ORDER BY started_at DESC, id",
    )?;
    let mut rows = statement.query([])?;
    let mut workers = Vec::new();
    while let Some(row) = rows.next()? {
        workers.push(worker_from_row(row)?);
    }
    Ok(workers)
}

pub(super) fn request_stop(tx: &Transaction<'_>) -> Result<usize> {
    Ok(tx
        .prepare_cached("UPDATE workers SET stop_requested = 1")?
        .execute([])?)
}
