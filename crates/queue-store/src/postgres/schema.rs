//! The PostgreSQL schema and its migrations, keyed by `schema_version`.
//!
//! A queue lives in one PostgreSQL schema (`queuectl` unless told otherwise),
//! created on first use. Migrations run in one transaction under an advisory
//! lock, so concurrent first openers on many hosts apply them once. A schema
//! that holds tables but no version is not ours and is left alone; one whose
//! version is newer than this build is refused before anything is written.

use super::connection::{Session, Tx, quote_ident};
use crate::{Result, StoreError};

/// Each entry moves the schema one version up; its index plus one is the
/// version it produces. Entries are never edited once released.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE schema_version (
    version integer NOT NULL
);
INSERT INTO schema_version (version) VALUES (0);

-- Times are integer milliseconds since the Unix epoch, UTC, as on SQLite.
CREATE TABLE jobs (
    seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               text NOT NULL UNIQUE,
    kind             text NOT NULL,
    command          text,
    payload          jsonb,
    state            text NOT NULL CHECK (
                         state IN ('pending', 'processing', 'completed', 'failed', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    max_retries      integer NOT NULL,
    priority         integer NOT NULL,
    run_at           bigint NOT NULL,
    timeout_secs     bigint NOT NULL,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    started_at       bigint,
    finished_at      bigint,
    exit_code        integer,
    last_error       text,
    stdout           text,
    stderr           text,
    worker_id        text,
    lease_expires_at bigint
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
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_seq     bigint NOT NULL REFERENCES jobs (seq) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    worker_id   text NOT NULL,
    started_at  bigint NOT NULL,
    finished_at bigint NOT NULL,
    result      text NOT NULL,
    exit_code   integer,
    error       text
);
CREATE INDEX attempts_by_job ON attempts (job_seq, seq);

-- Changes to the counts per state, appended by statement-level triggers and
-- summed when read. Writers only ever insert here, so concurrent claims and
-- settles never wait for one another on a counter row; `compact_counts`
-- folds the rows back into one per state now and then.
CREATE TABLE state_counts (
    state text NOT NULL,
    n     bigint NOT NULL
);

CREATE FUNCTION jobs_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_counts (state, n)
        SELECT state, count(*) FROM new_rows GROUP BY state;
    RETURN NULL;
END $$;
CREATE FUNCTION jobs_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_counts (state, n)
        SELECT state, -count(*) FROM old_rows GROUP BY state;
    RETURN NULL;
END $$;
CREATE FUNCTION jobs_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_counts (state, n)
        SELECT state, sum(delta) FROM (
            SELECT state, -1 AS delta FROM old_rows
            UNION ALL
            SELECT state, 1 AS delta FROM new_rows
        ) AS moved
        GROUP BY state HAVING sum(delta) <> 0;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_insert();
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_delete();
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION jobs_count_update();

CREATE TABLE config (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE workers (
    id             text PRIMARY KEY,
    host           text NOT NULL,
    pid            bigint NOT NULL,
    slots          integer NOT NULL,
    running        integer NOT NULL DEFAULT 0,
    started_at     bigint NOT NULL,
    heartbeat_at   bigint NOT NULL,
    stop_requested boolean NOT NULL DEFAULT false
);
"#];

/// The PostgreSQL schema version this build writes and the newest it opens.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Checks that `schema` holds a queue this build can use, creating or
/// migrating it as needed. `name` says which database, for errors.
pub(super) fn prepare(tx: &mut Tx<'_>, schema: &str, name: &str) -> Result<()> {
    // Every opener of this schema queues here, so one creates it and the
    // others find it done.
    tx.query(
        "SELECT pg_advisory_xact_lock(hashtext('queuectl.migrate.' || $1::text))",
        &[&schema],
    )?;
    let exists = tx
        .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[&schema])?
        .is_some();
    let version = if exists {
        read_version(tx, schema, name)?
    } else {
        tx.batch(&format!("CREATE SCHEMA {}", quote_ident(schema)))?;
        0
    };
    if version > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: name.into(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
        tx.batch(migration)?;
        let version = index as i32 + 1;
        tx.execute("UPDATE schema_version SET version = $1", &[&version])?;
    }
    Ok(())
}

/// The stored version, 0 for an empty schema; a schema with tables of its
/// own and no version is refused.
fn read_version(tx: &mut Tx<'_>, schema: &str, name: &str) -> Result<i64> {
    let tables: i64 = tx
        .query(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )?
        .first()
        .map_or(0, |row| row.get(0));
    let has_version = tx
        .query_opt(
            "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'schema_version'",
            &[&schema],
        )?
        .is_some();
    if !has_version {
        if tables > 0 {
            return Err(StoreError::NotAQueue {
                path: name.into(),
                reason: format!("schema {schema} holds tables of another application"),
            });
        }
        return Ok(0);
    }
    let version: Option<i32> = tx
        .query_opt("SELECT max(version) FROM schema_version", &[])?
        .and_then(|row| row.get(0));
    Ok(i64::from(version.unwrap_or(0)))
}
