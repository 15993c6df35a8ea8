//! [`SledStore`]: the engine's [`Store`] on sled 0.34, with group commit.

use std::path::Path;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use showrunner_engine::{
    Commit, EpisodeId, EpisodeRecord, EpisodeSnapshot, EpisodeStatus, Event, InstanceKey, InstanceRecord, LoadFailure,
    Store, StoreError,
};

use crate::group_commit::{CommitStats, GroupCommit, Op};
use crate::keys::{
    EVENT, FORMAT, HEADER, INDEX, INSTANCE, VALUE, episode_key, episode_of, event_key, instance_key, status_byte,
    value_key,
};

/// The store format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Episodes in a sled database: see the crate docs for the layout and the durability contract.
pub struct SledStore {
    tree: sled::Tree,
    /// The group-commit writer; it holds its own handle on the database, and dropping it lets
    /// the queued commits finish first.
    writer: GroupCommit,
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

fn decode<T: DeserializeOwned>(bytes: &[u8], episode: Option<EpisodeId>, what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        episode,
        what: format!("{what}: {e}"),
    })
}

impl SledStore {
    /// Opens (creating if needed) the store at `path`. A store written with another format
    /// version is refused with [`StoreError::UnknownFormat`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(256 << 20)
            // Durability comes from the explicit flush of each group commit.
            .flush_every_ms(None)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(source) => StoreError::Io {
                    context: format!("opening the store at {}", path.display()),
                    source,
                },
                other => backend(other),
            })?;
        let tree = db.open_tree("showrunner").map_err(backend)?;
        match tree.get(FORMAT).map_err(backend)? {
            None => {
                tree.insert(FORMAT, FORMAT_VERSION.to_string().as_bytes())
                    .map_err(backend)?;
                db.flush().map_err(backend)?;
            }
            Some(found) if found.as_ref() == FORMAT_VERSION.to_string().as_bytes() => {}
            Some(found) => {
                return Err(StoreError::UnknownFormat {
                    found: String::from_utf8_lossy(&found).into_owned(),
                    supported: FORMAT_VERSION,
                });
            }
        }
        let writer = GroupCommit::start(db, tree.clone())?;
        Ok(Self { tree, writer })
    }

    /// How many commits were made durable, and with how many flushes.
    pub fn stats(&self) -> CommitStats {
        self.writer.stats()
    }

    fn header(&self, episode: EpisodeId) -> Result<Option<EpisodeRecord>, StoreError> {
        self.tree
            .get(episode_key(HEADER, episode))
            .map_err(backend)?
            .map(|bytes| decode(&bytes, Some(episode), "episode header"))
            .transpose()
    }

    fn instances(&self, episode: EpisodeId) -> Result<Vec<InstanceRecord>, StoreError> {
        self.tree
            .scan_prefix(episode_key(INSTANCE, episode))
            .values()
            .map(|v| decode(&v.map_err(backend)?, Some(episode), "instance record"))
            .collect()
    }

    fn keys_with_prefix(&self, prefix: Vec<u8>) -> Result<Vec<Vec<u8>>, StoreError> {
        self.tree
            .scan_prefix(prefix)
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(backend))
            .collect()
    }
}

#[async_trait]
impl Store for SledStore {
    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        let id = commit.episode;
        let mut ops: Vec<Op> =
            Vec::with_capacity(1 + commit.instances.len() + commit.values.len() + commit.events.len());
        let mut status = None;
        if let Some(header) = &commit.header {
            if header.id != id {
                return Err(StoreError::Backend(format!(
                    "a commit of episode {id} carries the header of {}",
                    header.id
                )));
            }
            ops.push((episode_key(HEADER, id), Some(encode(header)?)));
            status = Some((id, Some(status_byte(header.status))));
        }
        for record in &commit.instances {
            ops.push((instance_key(id, &record.key), Some(encode(record)?)));
        }
        for key in &commit.removed {
            ops.push((instance_key(id, key), None));
        }
        for (key, n, value) in &commit.values {
            ops.push((value_key(id, key, *n), Some(encode(value.as_ref())?)));
        }
        for event in &commit.events {
            ops.push((event_key(id, event.seq), Some(encode(event)?)));
        }
        self.writer.submit(ops, status).await
    }

    fn load_episodes(
        &self,
        statuses: &[EpisodeStatus],
    ) -> Result<Vec<Result<EpisodeSnapshot, LoadFailure>>, StoreError> {
        let wanted = |s: EpisodeStatus| statuses.is_empty() || statuses.contains(&s);
        // Headers first, then every instance record in one ordered scan, matched by episode.
        let mut loaded: Vec<Result<EpisodeSnapshot, LoadFailure>> = Vec::new();
        let mut position = std::collections::HashMap::new();
        for entry in self.tree.scan_prefix([HEADER]) {
            let (key, bytes) = entry.map_err(backend)?;
            let episode = episode_of(&key);
            match decode::<EpisodeRecord>(&bytes, episode, "episode header") {
                Ok(header) if wanted(header.status) => {
                    position.insert(header.id, loaded.len());
                    loaded.push(Ok(EpisodeSnapshot {
                        header,
                        instances: Vec::new(),
                    }));
                }
                Ok(_) => {}
                Err(error) => loaded.push(Err(LoadFailure { episode, error })),
            }
        }
        for entry in self.tree.scan_prefix([INSTANCE]) {
            let (key, bytes) = entry.map_err(backend)?;
            let Some(episode) = episode_of(&key) else { continue };
            let Some(&at) = position.get(&episode) else { continue };
            let Ok(snapshot) = &mut loaded[at] else { continue };
            match decode::<InstanceRecord>(&bytes, Some(episode), "instance record") {
                Ok(record) => snapshot.instances.push(record),
                Err(error) => {
                    loaded[at] = Err(LoadFailure {
                        episode: Some(episode),
                        error,
                    })
                }
            }
        }
        Ok(loaded)
    }

    fn load_episode(&self, episode: EpisodeId) -> Result<Option<EpisodeSnapshot>, StoreError> {
        let Some(header) = self.header(episode)? else {
            return Ok(None);
        };
        let instances = self.instances(episode)?;
        Ok(Some(EpisodeSnapshot { header, instances }))
    }

    fn episodes_with_status(&self, status: EpisodeStatus) -> Result<Vec<EpisodeId>, StoreError> {
        let prefix = [INDEX, status_byte(status)];
        self.tree
            .scan_prefix(prefix)
            .keys()
            .map(|k| {
                let k = k.map_err(backend)?;
                episode_of(&k[1..]).ok_or_else(|| StoreError::Corrupt {
                    episode: None,
                    what: "a status index key without an episode id".into(),
                })
            })
            .collect()
    }

    fn events(&self, episode: EpisodeId, from_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let start = event_key(episode, from_seq);
        let end = event_key(episode, u64::MAX);
        self.tree
            .range(start..=end)
            .values()
            .take(limit)
            .map(|v| decode(&v.map_err(backend)?, Some(episode), "event"))
            .collect()
    }

    fn version_value(&self, episode: EpisodeId, key: &InstanceKey, n: u32) -> Result<Value, StoreError> {
        let bytes = self
            .tree
            .get(value_key(episode, key, n))
            .map_err(backend)?
            .ok_or_else(|| StoreError::NotFound(format!("version {n} of `{key}` in episode {episode}")))?;
        decode(&bytes, Some(episode), "version value")
    }

    async fn delete_episode(&self, episode: EpisodeId) -> Result<(), StoreError> {
        let mut ops: Vec<Op> = Vec::new();
        for prefix in [HEADER, INSTANCE, VALUE, EVENT] {
            for key in self.keys_with_prefix(episode_key(prefix, episode))? {
                ops.push((key, None));
            }
        }
        if ops.is_empty() {
            return Err(StoreError::NotFound(format!("episode {episode}")));
        }
        self.writer.submit(ops, Some((episode, None))).await
    }
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("format", &FORMAT_VERSION)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use showrunner_engine::{EventKind, InstanceRecord, now_ms};

    use super::*;

    fn header(id: EpisodeId, status: EpisodeStatus, next_seq: u64) -> EpisodeRecord {
        EpisodeRecord {
            id,
            workflow: "w".into(),
            definition_version: "v".into(),
            input: json!({"idea": "x"}),
            seed: 1,
            status,
            created_at: now_ms(),
            forked_from: None,
            next_seq,
        }
    }

    fn commit(id: EpisodeId, status: EpisodeStatus, seq: u64) -> Commit {
        let key = InstanceKey::item("shots", "s1");
        let mut c = Commit::new(id);
        c.header = Some(header(id, status, seq + 1));
        c.instances.push(InstanceRecord::new(key.clone()));
        c.values.push((key, seq as u32, Arc::new(json!({"take": seq}))));
        c.events.push(Event {
            episode: id,
            seq,
            at: now_ms(),
            kind: EventKind::EpisodeCompleted,
        });
        c
    }

    #[tokio::test]
    async fn commits_round_trip_and_the_status_index_follows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path()).expect("open");
        let id = EpisodeId::generate();
        store
            .commit(commit(id, EpisodeStatus::Active, 1))
            .await
            .expect("commit");
        assert_eq!(
            store.episodes_with_status(EpisodeStatus::Active).expect("index"),
            vec![id]
        );
        store
            .commit(commit(id, EpisodeStatus::Completed, 2))
            .await
            .expect("commit");
        assert!(
            store
                .episodes_with_status(EpisodeStatus::Active)
                .expect("index")
                .is_empty()
        );
        assert_eq!(
            store.episodes_with_status(EpisodeStatus::Completed).expect("index"),
            vec![id]
        );

        let loaded = store.load_episode(id).expect("load").expect("exists");
        assert_eq!(loaded.header.next_seq, 3);
        assert_eq!(
            loaded.instances.len(),
            1,
            "one snapshot record per instance, replaced in place"
        );
        let events = store.events(id, 1, 10).expect("events");
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(store.events(id, 2, 10).expect("events").len(), 1);
        assert_eq!(
            store
                .version_value(id, &InstanceKey::item("shots", "s1"), 2)
                .expect("value"),
            json!({"take": 2})
        );
        assert!(matches!(
            store.version_value(id, &InstanceKey::single("nope"), 1),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(store.load_episodes(&[EpisodeStatus::Active]).expect("load").len(), 0);
        assert_eq!(store.load_episodes(&[]).expect("load").len(), 1);

        store.delete_episode(id).await.expect("delete");
        assert!(store.load_episode(id).expect("load").is_none());
        assert!(store.events(id, 1, 10).expect("events").is_empty());
        assert!(
            store
                .episodes_with_status(EpisodeStatus::Completed)
                .expect("index")
                .is_empty()
        );
        assert!(matches!(store.delete_episode(id).await, Err(StoreError::NotFound(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_flushes_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ids: Vec<EpisodeId> = (0..200).map(|_| EpisodeId::generate()).collect();
        {
            let store = Arc::new(SledStore::open(dir.path()).expect("open"));
            let tasks: Vec<_> = ids
                .iter()
                .map(|&id| {
                    let store = store.clone();
                    tokio::spawn(async move { store.commit(commit(id, EpisodeStatus::Active, 1)).await })
                })
                .collect();
            for task in tasks {
                task.await.expect("task").expect("commit");
            }
            let stats = store.stats();
            assert_eq!(stats.commits, 200);
            assert!(stats.flushes < 200, "flushes are shared: {stats:?}");
        }
        // Everything acknowledged is there after reopening.
        let store = SledStore::open(dir.path()).expect("reopen");
        let loaded = store.load_episodes(&[]).expect("load");
        assert_eq!(loaded.len(), 200);
        assert!(loaded.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn a_header_of_another_episode_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path()).expect("open");
        let mut c = commit(EpisodeId::generate(), EpisodeStatus::Active, 1);
        c.header = Some(header(EpisodeId::generate(), EpisodeStatus::Active, 2));
        assert!(store.commit(c).await.is_err());
        assert!(
            store.load_episodes(&[]).expect("load").is_empty(),
            "nothing was written"
        );
    }
}
