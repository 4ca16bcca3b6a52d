//! The SQLite schema and its migrations, keyed by `PRAGMA user_version`.
//!
//! A database is recognised by its `application_id`; one with another id
//! and tables of its own is not ours and is left alone, unless the opener
//! said the file is shared with an application. Migrations run in one
//! immediate transaction, so concurrent first openers cannot both apply them.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::{Result, StoreError};

/// Marks a file as a queuectl database ("QCTL").
const APPLICATION_ID: i64 = 0x5143_544c;

/// Each entry moves the schema one version up; its index plus one is the
/// version it produces. Entries are never edited once released.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE jobs (
    seq              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    command          TEXT,
    payload          TEXT,
    state            TEXT NOT NULL CHECK (
                         state IN ('pending', 'processing', 'completed', 'failed', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_retries      INTEGER NOT NULL,
    priority         INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    timeout_secs     INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    exit_code        INTEGER,
    last_error       TEXT,
    stdout           TEXT,
    stderr           TEXT,
    worker_id        TEXT,
    lease_expires_at INTEGER
);

-- Claim order over claimable jobs only: a claim reads the first due entries.
CREATE INDEX jobs_claim_order ON jobs (priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
-- Running jobs by owner and by lease: renewals and rescue touch few rows.
CREATE INDEX jobs_running_owner ON jobs (worker_id) WHERE state = 'processing';
CREATE INDEX jobs_running_lease ON jobs (lease_expires_at) WHERE state = 'processing';
-- Listing one state, most recently updated first.
CREATE INDEX jobs_state_updated ON jobs (state, updated_at);

CREATE TABLE attempts (
    job_seq     INTEGER NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker_id   TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    result      TEXT NOT NULL,
    exit_code   INTEGER,
    error       TEXT
);
CREATE INDEX attempts_by_job ON attempts (job_seq);

-- Counts per state, kept by triggers so that status never scans the jobs.
CREATE TABLE state_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO state_counts (state, n) VALUES
    ('pending', 0), ('processing', 0), ('completed', 0), ('failed', 0), ('dead', 0);

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN
    UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
END;
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN
    UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER jobs_count_update AFTER UPDATE OF state ON jobs
    WHEN OLD.state <> NEW.state BEGIN
    UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE state_counts SET n = n + 1 WHERE state = NEW.state;
END;

CREATE TABLE config (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE workers (
    id             TEXT PRIMARY KEY,
    host           TEXT NOT NULL,
    pid            INTEGER NOT NULL,
    slots          INTEGER NOT NULL,
    running        INTEGER NOT NULL DEFAULT 0,
    started_at     INTEGER NOT NULL,
    heartbeat_at   INTEGER NOT NULL,
    stop_requested INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"#,
    r#"
-- Leases move to the monotonic clock: the boot a lease was taken in and its
-- deadline in milliseconds since that boot. `lease_expires_at` stays, on the
-- wall clock, for people to read. Rescue checks every running job, which
-- `jobs_state_updated` finds, so the wall-clock index goes.
ALTER TABLE jobs ADD COLUMN lease_boot TEXT;
ALTER TABLE jobs ADD COLUMN lease_deadline_ms INTEGER;
DROP INDEX jobs_running_lease;

-- Listing pending or failed jobs in the order they will run, one state at a
-- time: the claim order index mixes the two states, so a page of one of them
-- could step over any number of the other.
CREATE INDEX jobs_waiting_order ON jobs (state, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'failed');
"#,
    r#"
-- A running job names who holds its lease, a worker in one boot, by a small
-- number rather than by some sixty bytes of text: a row that grows much when
-- it is first claimed splits its page, and a table of fresh jobs would take
-- that split on nearly every claim. Only running jobs name an owner. An
-- owner without a boot holds a lease on the wall clock, written before
-- leases moved to the monotonic clock.
-- Jobs do not declare the reference: checking it would cost a search per
-- claimed row, and owners are only deleted once no job names them.
CREATE TABLE lease_owners (
    key       INTEGER PRIMARY KEY,
    worker_id TEXT NOT NULL,
    boot_id   TEXT
);
CREATE UNIQUE INDEX lease_owners_by_name ON lease_owners (worker_id, boot_id);

ALTER TABLE jobs ADD COLUMN lease_owner INTEGER;
INSERT INTO lease_owners (worker_id, boot_id)
    SELECT DISTINCT worker_id, lease_boot FROM jobs
    WHERE state = 'processing' AND worker_id IS NOT NULL;
UPDATE jobs SET lease_owner = (
        SELECT key FROM lease_owners AS owner
        WHERE owner.worker_id = jobs.worker_id AND owner.boot_id IS jobs.lease_boot)
    WHERE state = 'processing' AND worker_id IS NOT NULL;

DROP INDEX jobs_running_owner;
ALTER TABLE jobs DROP COLUMN worker_id;
ALTER TABLE jobs DROP COLUMN lease_boot;
CREATE INDEX jobs_running_owner ON jobs (lease_owner) WHERE state = 'processing';
"#,
];

/// The tables the migrations create; a shared file must not have them yet.
const QUEUE_TABLES: [&str; 6] = [
    "jobs",
    "attempts",
    "state_counts",
    "config",
    "workers",
    "lease_owners",
];

/// The schema version this build writes and the newest it opens.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks that `conn` is a queuectl database this build can use, then brings
/// its schema up to date. Nothing is written to a database that is refused.
///
/// With `shared`, an unmarked file that already holds tables (an
/// application's own database) is accepted and gets the queue's tables
/// beside its own, as long as none of their names is taken.
pub(crate) fn prepare(conn: &mut Connection, path: &Path, shared: bool) -> Result<()> {
    let (app_id, version, tables) = read_header(conn, path)?;
    let unmarked_with_tables = app_id == 0 && tables > 0;
    if app_id != APPLICATION_ID && (app_id != 0 || (tables > 0 && !shared)) {
        let hint = if unmarked_with_tables {
            "; to keep the queue in an application's own database, open it as a shared file"
        } else {
            ""
        };
        return Err(StoreError::NotAQueue {
            path: path.to_owned(),
            reason: format!("it is an SQLite database of another application{hint}"),
        });
    }
    if unmarked_with_tables {
        if let Some(taken) = taken_table_name(conn)? {
            return Err(StoreError::NotAQueue {
                path: path.to_owned(),
                reason: format!("it already has a table named {taken} that is not the queue's"),
            });
        }
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }

    // WAL lets readers run beside the one writer; it is a property of the
    // file, so it is set once here and read back, because SQLite silently
    // keeps the old mode when it cannot switch (for example on some network
    // file systems).
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path.to_owned(),
            reason: format!("the file system refused write-ahead logging (journal mode {mode})"),
        });
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }

    // A migration may rewrite every row of `jobs`, and the statement journal
    // of such a rewrite holds the whole table: here it goes to a temporary
    // file, not to the memory where connections otherwise keep it.
    conn.pragma_update(None, "temp_store", "DEFAULT")?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited for the lock.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.commit()?;
    Ok(())
}

/// Reads the application id, schema version and table count.
///
/// One statement reads all three, so they come from one snapshot: read one
/// by one, they could straddle another process's creation of the schema,
/// and a new queue would look like another application's database (tables,
/// but no application id yet).
fn read_header(conn: &Connection, path: &Path) -> Result<(i64, i64, i64)> {
    conn.query_row(
        "SELECT (SELECT application_id FROM pragma_application_id), \
                (SELECT user_version FROM pragma_user_version), \
                (SELECT count(*) FROM sqlite_schema WHERE type = 'table')",
        [],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )
    .map_err(|err| open_failure(err, path))
}

/// Names the failure of one of the first statements to read a file: a file
/// that is not SQLite at all is not a queue, rather than a driver error.
pub(crate) fn open_failure(err: rusqlite::Error, path: &Path) -> StoreError {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotAQueue {
            path: path.to_owned(),
            reason: "the file is not an SQLite database".into(),
        },
        // Kept as the driver's error, so that opening tries again.
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::from(err)
        }
        _ => StoreError::Open {
            path: path.to_owned(),
            reason: err.to_string(),
        },
    }
}

/// The first of the queue's table names that an unmarked file already uses.
fn taken_table_name(conn: &Connection) -> Result<Option<String>> {
    let mut statement = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') \
         AND name IN (SELECT value FROM json_each(?1)) ORDER BY name LIMIT 1",
    )?;
    let names = serde_json::to_string(&QUEUE_TABLES).unwrap_or_else(|_| "[]".into());
    Ok(statement.query_row([names], |row| row.get(0)).optional()?)
}

/// Checks, on a connection the queue did not open, that its database holds
/// the queue's tables at the schema version this build writes. Reads only.
pub(crate) fn check_current(conn: &Connection) -> Result<()> {
    let path = PathBuf::from(conn.path().unwrap_or_default());
    let (app_id, version, _) = read_header(conn, &path)?;
    if app_id != APPLICATION_ID || version == 0 {
        return Err(StoreError::NotAQueue {
            path,
            reason: "it has no queue tables; open it once with SqliteStore to create them".into(),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path,
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        return Err(StoreError::Open {
            path,
            reason: format!(
                "its queue schema is version {version}, older than this build's \
                 {SCHEMA_VERSION}; open it once with SqliteStore to migrate it"
            ),
        });
    }
    Ok(())
}
