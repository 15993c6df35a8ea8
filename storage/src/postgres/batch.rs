//! Group commit: the commits waiting at one moment, of different episodes, written in one
//! transaction with one statement per table (rows passed as arrays and `unnest`ed), so that
//! they share one round trip per table and one WAL flush.

use std::collections::HashSet;

use showrunner_engine::{Commit, StoreError};
use tokio_postgres::Transaction;

use super::backend;
use super::records::{encode, instance_text};

/// An episode's header row.
struct HeaderRow {
    id: String,
    status: &'static str,
    workflow: String,
    definition: String,
    header: Vec<u8>,
}

/// A version's row.
struct VersionRow {
    episode: String,
    key: String,
    n: i32,
    meta: Vec<u8>,
    value: Vec<u8>,
}

/// The rows of a group of commits, table by table.
#[derive(Default)]
pub(super) struct Batch {
    /// The episodes in the group (one commit each).
    episodes: Vec<String>,
    headers: Vec<HeaderRow>,
    work_on: Vec<String>,
    work_off: Vec<String>,
    /// (episode, instance key, record).
    instances: Vec<(String, String, Vec<u8>)>,
    /// (episode, instance key).
    removed: Vec<(String, String)>,
    versions: Vec<VersionRow>,
    /// (episode, sequence number, event).
    events: Vec<(String, i64, Vec<u8>)>,
    /// (key, record).
    idempotency: Vec<(String, Vec<u8>)>,
}

impl Batch {
    /// Whether the group already has a commit of `commit`'s episode (whose rows would meet its
    /// own in one statement): such a commit waits for the next group.
    pub(super) fn has_episode(&self, commit: &Commit) -> bool {
        self.episodes.contains(&commit.episode.to_string())
    }

    /// The episodes the group writes events of, but those in `fenced` (not written).
    pub(super) fn episodes_with_events(&self, fenced: &HashSet<String>) -> Vec<String> {
        let mut episodes: Vec<String> = self
            .events
            .iter()
            .map(|(episode, _, _)| episode)
            .filter(|e| !fenced.contains(*e))
            .cloned()
            .collect();
        episodes.dedup();
        episodes
    }

    /// Whether the group holds an idempotency key of `commit`.
    pub(super) fn has_key_of(&self, commit: &Commit) -> bool {
        commit
            .idempotency
            .iter()
            .any(|o| self.idempotency.iter().any(|(key, _)| *key == o.key))
    }

    /// Adds a commit's rows; refused (nothing added) when a record does not encode.
    pub(super) fn add(&mut self, commit: &Commit) -> Result<(), StoreError> {
        let mut rows = Batch::default();
        let id = commit.episode.to_string();
        rows.episodes.push(id.clone());
        if let Some(header) = &commit.header {
            if header.id != commit.episode {
                return Err(StoreError::Backend(format!(
                    "a commit of episode {} carries the header of {}",
                    commit.episode, header.id
                )));
            }
            rows.headers.push(HeaderRow {
                id: id.clone(),
                status: header.status.name(),
                workflow: header.workflow.clone(),
                definition: header.definition_version.clone(),
                header: encode(header)?,
            });
        }
        match commit.runnable {
            Some(true) => rows.work_on.push(id.clone()),
            Some(false) => rows.work_off.push(id.clone()),
            None => {}
        }
        for record in &commit.instances {
            // Versions are written once, with their values, in their own rows.
            let encoded = if record.versions.is_empty() {
                encode(record)?
            } else {
                encode(&record.without_versions())?
            };
            let key = instance_text(&record.key)?;
            match rows.instances.iter_mut().find(|(_, k, _)| *k == key) {
                Some(row) => row.2 = encoded,
                None => rows.instances.push((id.clone(), key, encoded)),
            }
        }
        for key in &commit.removed {
            rows.removed.push((id.clone(), instance_text(key)?));
        }
        for version in &commit.versions {
            rows.versions.push(VersionRow {
                episode: id.clone(),
                key: instance_text(&version.key)?,
                n: i32::try_from(version.meta.n)
                    .map_err(|_| StoreError::Backend(format!("version number {} is too large", version.meta.n)))?,
                meta: encode(&version.meta)?,
                value: encode(version.value.as_ref())?,
            });
        }
        for event in &commit.events {
            let seq = i64::try_from(event.seq)
                .map_err(|_| StoreError::Backend(format!("event {} is out of range", event.seq)))?;
            rows.events.push((id.clone(), seq, encode(event)?));
        }
        for once in &commit.idempotency {
            rows.idempotency.push((once.key.clone(), encode(once)?));
        }
        self.episodes.extend(rows.episodes);
        self.headers.extend(rows.headers);
        self.work_on.extend(rows.work_on);
        self.work_off.extend(rows.work_off);
        self.instances.extend(rows.instances);
        self.removed.extend(rows.removed);
        self.versions.extend(rows.versions);
        self.events.extend(rows.events);
        self.idempotency.extend(rows.idempotency);
        Ok(())
    }

    /// Writes every row in the caller's transaction: removals before upserts, as within one
    /// commit (a commit never removes and writes the same instance).
    pub(super) async fn write(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if !self.headers.is_empty() {
            let h = &self.headers;
            tx.execute(
                "INSERT INTO episodes (id, status, workflow, definition_version, header)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[])
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, workflow = EXCLUDED.workflow,
                     definition_version = EXCLUDED.definition_version, header = EXCLUDED.header",
                &[
                    &column(h, |r| r.id.as_str()),
                    &column(h, |r| r.status),
                    &column(h, |r| r.workflow.as_str()),
                    &column(h, |r| r.definition.as_str()),
                    &column(h, |r| r.header.as_slice()),
                ],
            )
            .await
            .map_err(backend)?;
        }
        if !self.work_on.is_empty() {
            tx.execute(
                "INSERT INTO work (episode) SELECT * FROM unnest($1::text[]) ON CONFLICT DO NOTHING",
                &[&self.work_on],
            )
            .await
            .map_err(backend)?;
        }
        if !self.work_off.is_empty() {
            tx.execute("DELETE FROM work WHERE episode = ANY($1)", &[&self.work_off])
                .await
                .map_err(backend)?;
        }
        let r = &self.removed;
        if !r.is_empty() {
            tx.execute(
                "DELETE FROM instances i USING unnest($1::text[], $2::text[]) AS r(episode, key)
                 WHERE i.episode = r.episode AND i.key = r.key",
                &[&column(r, |r| r.0.as_str()), &column(r, |r| r.1.as_str())],
            )
            .await
            .map_err(backend)?;
        }
        let i = &self.instances;
        if !i.is_empty() {
            tx.execute(
                "INSERT INTO instances (episode, key, record)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[])
                 ON CONFLICT (episode, key) DO UPDATE SET record = EXCLUDED.record",
                &[
                    &column(i, |r| r.0.as_str()),
                    &column(i, |r| r.1.as_str()),
                    &column(i, |r| r.2.as_slice()),
                ],
            )
            .await
            .map_err(backend)?;
        }
        let v = &self.versions;
        if !v.is_empty() {
            tx.execute(
                "INSERT INTO versions (episode, key, n, meta, value)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::bytea[], $5::bytea[])
                 ON CONFLICT (episode, key, n) DO UPDATE SET meta = EXCLUDED.meta, value = EXCLUDED.value",
                &[
                    &column(v, |r| r.episode.as_str()),
                    &column(v, |r| r.key.as_str()),
                    &column(v, |r| r.n),
                    &column(v, |r| r.meta.as_slice()),
                    &column(v, |r| r.value.as_slice()),
                ],
            )
            .await
            .map_err(backend)?;
        }
        let e = &self.events;
        if !e.is_empty() {
            tx.execute(
                "INSERT INTO events (episode, seq, event)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::bytea[])
                 ON CONFLICT (episode, seq) DO UPDATE SET event = EXCLUDED.event",
                &[
                    &column(e, |r| r.0.as_str()),
                    &column(e, |r| r.1),
                    &column(e, |r| r.2.as_slice()),
                ],
            )
            .await
            .map_err(backend)?;
        }
        let o = &self.idempotency;
        if !o.is_empty() {
            tx.execute(
                "INSERT INTO idempotency (key, record) SELECT * FROM unnest($1::text[], $2::bytea[])
                 ON CONFLICT (key) DO UPDATE SET record = EXCLUDED.record",
                &[&column(o, |r| r.0.as_str()), &column(o, |r| r.1.as_slice())],
            )
            .await
            .map_err(backend)?;
        }
        Ok(())
    }
}

/// One column of a table's rows, as an array parameter.
fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}
