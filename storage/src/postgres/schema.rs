//! The database schema: numbered migrations embedded in the binary, applied in order when a
//! store opens (under an advisory lock, so processes opening at once apply each one once), and a
//! database migrated past this build's last one refused.

use deadpool_postgres::Object;
use showrunner_engine::StoreError;

use super::backend;

/// The schema version this build reads and writes: the number of its migrations.
pub const SCHEMA_VERSION: u32 = 7;

/// An arbitrary key for `pg_advisory_xact_lock`, held while migrating.
const MIGRATION_LOCK: i64 = 0x5348_4f57_5255_4e00;

/// Each migration's SQL; migration `n` is at index `n - 1`. Records are JSON bytes in `bytea`
/// columns, decoded by the same serde types as the sled store's.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    r#"
CREATE TABLE episodes (
    id text PRIMARY KEY,
    status text NOT NULL,
    workflow text NOT NULL,
    definition_version text NOT NULL,
    header bytea NOT NULL
);
CREATE INDEX episodes_by_status ON episodes (status, id);
CREATE TABLE work (episode text PRIMARY KEY);
CREATE TABLE instances (
    episode text NOT NULL,
    key text NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (episode, key)
);
CREATE TABLE versions (
    episode text NOT NULL,
    key text NOT NULL,
    n integer NOT NULL,
    meta bytea NOT NULL,
    value bytea NOT NULL,
    PRIMARY KEY (episode, key, n)
);
CREATE TABLE events (
    episode text NOT NULL,
    seq bigint NOT NULL,
    event bytea NOT NULL,
    PRIMARY KEY (episode, seq)
);
CREATE TABLE series (id text PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE idempotency (key text PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE uploads (
    blob text NOT NULL,
    created_at bigint NOT NULL,
    owner text NOT NULL,
    record bytea NOT NULL,
    PRIMARY KEY (blob, created_at, owner)
);
"#,
    r#"
CREATE TABLE engine_owner (
    id integer PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL,
    pid integer,
    since timestamptz NOT NULL
);
INSERT INTO engine_owner (id, epoch, pid, since) VALUES (1, 0, NULL, now());
"#,
    // Several engines at once: each process a member, each episode leased to one at a time.
    r#"
DROP TABLE engine_owner;
CREATE TABLE engine_process (
    id text PRIMARY KEY,
    pid integer,
    url text,
    started timestamptz NOT NULL,
    renewed timestamptz NOT NULL
);
CREATE TABLE episode_lease (
    episode text PRIMARY KEY,
    process text NOT NULL,
    epoch bigint NOT NULL
);
CREATE INDEX episode_lease_by_process ON episode_lease (process);
"#,
    // Claims take their epochs from one sequence, so that no epoch is given twice (an episode
    // deleted and claimed again included).
    r#"
CREATE SEQUENCE IF NOT EXISTS lease_epoch;
SELECT setval('lease_epoch', GREATEST((SELECT max(epoch) FROM episode_lease), 0) + 1);
"#,
    // The queue of node runs that workers take (see the `queue` module).
    r#"
CREATE TABLE run_queue (
    episode text NOT NULL,
    key text NOT NULL,
    attempt integer NOT NULL,
    definition text NOT NULL,
    resource text NOT NULL,
    tags text[] NOT NULL,
    run bytea NOT NULL,
    state text NOT NULL,
    delivery integer NOT NULL DEFAULT 0,
    worker text,
    lease_until timestamptz,
    result bytea,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (episode, key)
);
CREATE INDEX run_queue_waiting ON run_queue (resource, queued_at) WHERE state <> 'reported';
CREATE INDEX run_queue_reported ON run_queue (episode) WHERE state = 'reported';
CREATE TABLE run_turn (episode text PRIMARY KEY, taken_at timestamptz NOT NULL);
"#,
    // How far a run on a worker got.
    r#"
ALTER TABLE run_queue
    ADD COLUMN progress real,
    ADD COLUMN progress_message text,
    ADD COLUMN progress_seq integer NOT NULL DEFAULT 0;
"#,
    // The workers, as they say they are alive, and what each can take.
    r#"
CREATE TABLE worker_process (
    id text PRIMARY KEY,
    pid integer NOT NULL,
    tags text[] NOT NULL,
    resources text[] NOT NULL,
    slots text NOT NULL,
    definitions text[] NOT NULL,
    lease_ms bigint NOT NULL,
    seen_at timestamptz NOT NULL
);
"#,
];

/// Brings the database to [`SCHEMA_VERSION`]; refuses one already past it.
pub(super) async fn migrate(mut client: Object) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS showrunner_schema (version integer PRIMARY KEY)")
        .await
        .map_err(backend)?;
    let found: Option<i32> = tx
        .query_one("SELECT max(version) FROM showrunner_schema", &[])
        .await
        .map_err(backend)?
        .get(0);
    let found = u32::try_from(found.unwrap_or(0)).map_err(|_| StoreError::Corrupt {
        episode: None,
        what: "a negative schema version".into(),
    })?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::UnknownFormat {
            found: found.to_string(),
            supported: SCHEMA_VERSION,
        });
    }
    for (n, sql) in (1..).zip(MIGRATIONS).skip(found as usize) {
        tx.batch_execute(sql).await.map_err(backend)?;
        tx.execute("INSERT INTO showrunner_schema (version) VALUES ($1)", &[&n])
            .await
            .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)
}
