//! Where the queue lives: choosing and opening the database.

use std::path::{Path, PathBuf};

use anyhow::Context;
use queue_store::SqliteStore;

/// The database the user named, or the default in the user's data directory
/// (created on first use).
pub(crate) fn resolve(db: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = db {
        return Ok(path.to_owned());
    }
    let dirs = directories::ProjectDirs::from("", "", "queuectl")
        .context("cannot find a home directory for the default database; pass --db PATH")?;
    let dir = dirs.data_dir();
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    Ok(dir.join("queue.db"))
}

pub(crate) fn open(db: Option<&Path>) -> anyhow::Result<SqliteStore> {
    let path = resolve(db)?;
    Ok(SqliteStore::open(path)?)
}
