//! Where the queue lives: choosing and opening the database.
//!
//! A `postgres://` or `postgresql://` URL names a PostgreSQL queue shared by
//! many hosts; anything else is the path of an SQLite file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use queue_store::{PostgresStore, SqliteStore, Store};

/// A queue database the user can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Database {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL server, by URL.
    Postgres(String),
}

impl Database {
    /// The database `--db` names, or the default file in the user's data
    /// directory (created on first use).
    pub(crate) fn choose(db: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(db) = db {
            let url = db.to_str().filter(|text| {
                text.starts_with("postgres://") || text.starts_with("postgresql://")
            });
            return Ok(match url {
                Some(url) => Database::Postgres(url.to_owned()),
                None => Database::File(db.to_owned()),
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "queuectl")
            .context("cannot find a home directory for the default database; pass --db PATH")?;
        let dir = dirs.data_dir();
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data directory {}", dir.display()))?;
        Ok(Database::File(dir.join("queue.db")))
    }

    /// Opens the queue, creating or migrating it as needed, and names it for
    /// people: the file's path, or the URL without its password.
    pub(crate) fn open(&self) -> anyhow::Result<(Arc<dyn Store>, String)> {
        Ok(match self {
            Database::File(path) => {
                let store = SqliteStore::open(path)?;
                let name = store.path().display().to_string();
                (Arc::new(store), name)
            }
            Database::Postgres(url) => {
                let store = PostgresStore::open(url.as_str())?;
                let name = store.name().to_owned();
                (Arc::new(store), name)
            }
        })
    }
}

/// Opens the queue `--db` names.
pub(crate) fn open(db: Option<&Path>) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Database::choose(db)?.open()?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_postgres_and_paths_choose_files() {
        let cases = [
            ("postgres://u@h/db", true),
            ("postgresql://u@h:5433/db?schema=q", true),
            ("./postgres://x", false),
            ("queue.db", false),
            ("/var/lib/postgres/queue.db", false),
        ];
        for (text, postgres) in cases {
            let chosen = Database::choose(Some(Path::new(text))).unwrap();
            assert_eq!(matches!(chosen, Database::Postgres(_)), postgres, "{text}");
        }
    }
}
