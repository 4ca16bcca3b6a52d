//! The shared settings and the registry of worker processes.

use queue_core::{ConfigKey, QueueConfig, Timestamp, WorkerId};

use super::connection::{Session, Tx};
use super::rows::{to_int, to_millis, worker_from_row};
use crate::{Result, StoreError, WorkerRecord, WorkerSignal};

/// Reads the stored settings over the defaults. A stored value that no
/// longer parses (written by another version) is reported, not ignored.
pub(super) fn config(session: &mut dyn Session) -> Result<QueueConfig> {
    let rows = session.query("SELECT key, value FROM config", &[])?;
    let mut config = QueueConfig::default();
    for row in rows {
        let key: String = row.try_get(0)?;
        let value: String = row.try_get(1)?;
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

pub(super) fn set_config(tx: &mut Tx<'_>, key: ConfigKey, value: &str) -> Result<QueueConfig> {
    let mut config = config(tx)?;
    config.set(key, value)?;
    // Store the normalised form, so `config get` shows what will be used.
    tx.execute(
        "INSERT INTO config (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key.as_str(), &config.get(key)],
    )?;
    Ok(config)
}

pub(super) fn register(session: &mut dyn Session, worker: &WorkerRecord) -> Result<()> {
    session.execute(
        "INSERT INTO workers (id, host, pid, slots, running, started_at, heartbeat_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &worker.id.as_str(),
            &worker.host,
            &i64::from(worker.pid),
            &to_int(worker.slots),
            &to_int(worker.running),
            &to_millis(worker.started_at),
            &to_millis(worker.heartbeat_at),
        ],
    )?;
    Ok(())
}

pub(super) fn heartbeat(
    session: &mut dyn Session,
    worker: &WorkerId,
    running: u32,
    now: Option<Timestamp>,
) -> Result<WorkerSignal> {
    let sql = format!(
        "UPDATE workers SET heartbeat_at = coalesce($2::bigint, {}), running = $3 \
         WHERE id = $1 RETURNING stop_requested",
        super::DB_NOW_MS
    );
    let stop = session.query_opt(
        &sql,
        &[&worker.as_str(), &now.map(to_millis), &to_int(running)],
    )?;
    // A worker missing from the registry was removed by an operator tidying
    // up; it is not asked to stop by that.
    let stop_requested = match stop {
        Some(row) => row.try_get(0)?,
        None => false,
    };
    Ok(WorkerSignal { stop_requested })
}

pub(super) fn unregister(session: &mut dyn Session, worker: &WorkerId) -> Result<()> {
    session.execute("DELETE FROM workers WHERE id = $1", &[&worker.as_str()])?;
    Ok(())
}

pub(super) fn workers(session: &mut dyn Session) -> Result<Vec<WorkerRecord>> {
    let rows = session.query(
        "SELECT id, host, pid, slots, running, started_at, heartbeat_at, stop_requested \
         FROM workers ORDER BY started_at DESC, id",
        &[],
    )?;
    rows.iter().map(worker_from_row).collect()
}

pub(super) fn request_stop(session: &mut dyn Session) -> Result<usize> {
    let asked = session.execute("UPDATE workers SET stop_requested = true", &[])?;
    Ok(usize::try_from(asked).unwrap_or(usize::MAX))
}
