//! [`SledStore`]: the engine's [`Store`] on sled 0.34, with group commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use showrunner_engine::{
    Commit, DefinitionUse, EpisodeId, EpisodeRecord, EpisodeSnapshot, EpisodeStatus, EpisodeSummary, Event,
    IdempotencyRecord, InstanceKey, InstanceRecord, LoadFailure, SeriesId, SeriesRecord, Store, StoreError,
    UploadRecord, VersionMeta,
};

use crate::group_commit::{CommitStats, DurableFiles, GroupCommit, Op, Visibility, apply, checkpoint};
use crate::journal::Journal;
use crate::keys::{
    DEFINITION, EVENT, FORMAT, HEADER, INDEX, INPUT, INSTANCE, META, SERIES, UPLOAD, VALUE, WORK, episode_key,
    episode_of, event_key, idempotency_key, instance_key, meta_key, series_key, status_byte, upload_key, value_key,
    version_instance,
};
use crate::lock::StoreLock;

/// The store format this build reads and writes: 3, sled with a write-ahead journal and small
/// version values kept beside their metadata. Stores of format 1 (before the journal) and 2
/// (every value under its own key) open as they are and become format 3: this build reads both
/// layouts.
pub const FORMAT_VERSION: u32 = 3;

/// Version values up to this size (encoded) are stored with their metadata, under one key.
const INLINE_VALUE: usize = 512;

/// A version's metadata record: the metadata, then 0x00 and the value when it is inline (JSON
/// never holds a raw 0x00 byte).
fn split_meta(bytes: &[u8]) -> (&[u8], Option<&[u8]>) {
    match bytes.iter().position(|&b| b == 0) {
        Some(at) => (&bytes[..at], Some(&bytes[at + 1..])),
        None => (bytes, None),
    }
}

/// Episodes in a sled database: see the crate docs for the layout and the durability contract.
pub struct SledStore {
    tree: sled::Tree,
    /// Read while loading episodes, so that a group being applied is seen whole or not at all.
    visible: Arc<Visibility>,
    /// The group-commit writer; it holds its own handle on the database, and dropping it lets
    /// the queued commits finish first.
    writer: GroupCommit,
    /// One process per store; dropped last.
    _lock: StoreLock,
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

/// sled's segment size for a new store. sled overwrites the rest of its last segment, and any
/// segment past it, every time it opens, so a store needs about two segments free to open: 8 MiB
/// segments (stores made before issue 11 keep theirs) would not open on a disk with less than
/// 14-18 MB free. Pages over a quarter segment (256 KiB) go to separate files.
const SEGMENT_SIZE: usize = 1 << 20;

/// The segment size of the store at `path`: the one its `conf` file records (sled refuses any
/// other), else [`SEGMENT_SIZE`].
fn segment_size(path: &Path) -> usize {
    std::fs::read_to_string(path.join("conf"))
        .ok()
        .and_then(|conf| {
            conf.lines()
                .find_map(|line| line.strip_prefix("segment_size:"))
                .and_then(|n| n.trim().parse().ok())
        })
        .unwrap_or(SEGMENT_SIZE)
}

/// Opens sled, waiting a moment while another handle of this process lets go of the lock (sled
/// finishes its last writes on its own threads after a store is dropped).
fn open_with_retry(config: &sled::Config) -> sled::Result<sled::Db> {
    let mut tries = 0;
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl SledStore {
    /// Opens (creating if needed) the store at `path`. A store written with another format
    /// version is refused with [`StoreError::UnknownFormat`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let lock = StoreLock::take(path)?;
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(256 << 20)
            .segment_size(segment_size(path))
            // Durability comes from the journal; sled writes a segment back when it fills, and
            // a checkpoint makes its files durable before the journal starts over. No timed
            // flush: sled writing its log every second made the journal's syncs wait behind it
            // (the disk flushes everything written before), ~10 % on a lone commit's latency.
            .flush_every_ms(None);
        let db = open_with_retry(&config).map_err(|e| match e {
            sled::Error::Io(source) => StoreError::Io {
                context: format!("opening the store at {}", path.display()),
                source,
            },
            other => backend(other),
        })?;
        let tree = db.open_tree("showrunner").map_err(backend)?;
        let mut changed = false;
        match tree.get(FORMAT).map_err(backend)? {
            // A new store; or format 1 or 2, whose layouts this build reads: they open as they are.
            None => changed = true,
            Some(found) if matches!(found.as_ref(), b"1" | b"2") => changed = true,
            Some(found) if found.as_ref() == FORMAT_VERSION.to_string().as_bytes() => {}
            Some(found) => {
                return Err(StoreError::UnknownFormat {
                    found: String::from_utf8_lossy(&found).into_owned(),
                    supported: FORMAT_VERSION,
                });
            }
        }
        let visible: Arc<Visibility> = Arc::default();
        let mut files = DurableFiles::open(path)?;
        let journal_path = path.join("journal");
        let (mut journal, records) = Journal::open(&journal_path).map_err(|source| StoreError::Io {
            context: format!("opening the journal {}", journal_path.display()),
            source,
        })?;
        // Writes acknowledged before a crash and not yet in sled's files: apply them again, in
        // order, then make them durable in sled and start the journal over.
        let replayed = records.len();
        for ops in records {
            apply(&tree, &visible, ops)?;
        }
        if changed {
            tree.insert(FORMAT, FORMAT_VERSION.to_string().as_bytes())
                .map_err(backend)?;
        }
        if changed || replayed > 0 {
            checkpoint(&db, &mut files, &mut journal)?;
        }
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed the journal");
        }
        let writer = GroupCommit::start(db, tree.clone(), visible.clone(), files, journal)?;
        Ok(Self {
            tree,
            visible,
            writer,
            _lock: lock,
        })
    }

    /// How many commits were made durable, and with how many flushes.
    pub fn stats(&self) -> CommitStats {
        self.writer.stats()
    }

    /// The tree, once every commit answered so far is applied to it: what reads go through.
    fn settled(&self) -> &sled::Tree {
        self.writer.settle();
        &self.tree
    }

    /// The header, with its input and its event counter filled in.
    fn header(&self, episode: EpisodeId) -> Result<Option<EpisodeRecord>, StoreError> {
        let Some(bytes) = self.tree.get(episode_key(HEADER, episode)).map_err(backend)? else {
            return Ok(None);
        };
        let mut header: EpisodeRecord = decode(&bytes, Some(episode), "episode header")?;
        if let Some(input) = self.tree.get(episode_key(INPUT, episode)).map_err(backend)? {
            header.input = decode(&input, Some(episode), "episode input")?;
        }
        let events = episode_key(EVENT, episode);
        if let Some((key, _)) = self
            .tree
            .scan_prefix(&events)
            .next_back()
            .transpose()
            .map_err(backend)?
        {
            let seq: [u8; 8] = key
                .get(17..25)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| StoreError::Corrupt {
                    episode: Some(episode),
                    what: "an event key without a sequence number".into(),
                })?;
            header.next_seq = header.next_seq.max(u64::from_be_bytes(seq) + 1);
        }
        Ok(Some(header))
    }

    /// The instance snapshots, each with its versions' metadata.
    fn instances(&self, episode: EpisodeId) -> Result<Vec<InstanceRecord>, StoreError> {
        let mut versions: HashMap<InstanceKey, Vec<VersionMeta>> = HashMap::new();
        for entry in self.tree.scan_prefix(episode_key(META, episode)) {
            let (key, bytes) = entry.map_err(backend)?;
            let instance = version_instance(&key).ok_or_else(|| StoreError::Corrupt {
                episode: Some(episode),
                what: "a version key that names no instance".into(),
            })?;
            versions.entry(instance).or_default().push(decode(
                split_meta(&bytes).0,
                Some(episode),
                "version metadata",
            )?);
        }
        self.tree
            .scan_prefix(episode_key(INSTANCE, episode))
            .values()
            .map(|v| {
                let mut record: InstanceRecord = decode(&v.map_err(backend)?, Some(episode), "instance record")?;
                record.versions = versions.remove(&record.key).unwrap_or_default();
                let numbered = record.versions.iter().enumerate().all(|(i, v)| v.n as usize == i + 1);
                if !numbered || record.current.is_some_and(|n| record.version(n).is_none()) {
                    return Err(StoreError::Corrupt {
                        episode: Some(episode),
                        what: format!("the versions of `{}` are incomplete", record.key),
                    });
                }
                Ok(record)
            })
            .collect()
    }

    fn keys_with_prefix(&self, prefix: Vec<u8>) -> Result<Vec<Vec<u8>>, StoreError> {
        self.settled()
            .scan_prefix(prefix)
            .keys()
            .map(|k| k.map(|k| k.to_vec()).map_err(backend))
            .collect()
    }
}

#[async_trait]
impl Store for SledStore {
    async fn commit(&self, mut commit: Commit) -> Result<(), StoreError> {
        let id = commit.episode;
        let mut ops: Vec<Op> =
            Vec::with_capacity(3 + commit.instances.len() + 2 * commit.versions.len() + commit.events.len());
        let mut status = None;
        if let Some(header) = &mut commit.header {
            if header.id != id {
                return Err(StoreError::Backend(format!(
                    "a commit of episode {id} carries the header of {}",
                    header.id
                )));
            }
            let input = std::mem::take(&mut header.input);
            ops.push((episode_key(INPUT, id), Some(encode(&input)?)));
            ops.push((episode_key(HEADER, id), Some(encode(header)?)));
            let mut summary = header.workflow.as_bytes().to_vec();
            summary.push(0);
            summary.extend_from_slice(header.definition_version.as_bytes());
            status = Some((id, Some((status_byte(header.status), summary))));
        }
        if let Some(runnable) = commit.runnable {
            ops.push((episode_key(WORK, id), runnable.then(Vec::new)));
        }
        for record in &commit.instances {
            // Versions are written once, with their values, under their own keys; a record that
            // still carries them (the engine sends none) is written without.
            let encoded = if record.versions.is_empty() {
                encode(record)?
            } else {
                encode(&record.without_versions())?
            };
            ops.push((instance_key(id, &record.key), Some(encoded)));
        }
        for key in &commit.removed {
            ops.push((instance_key(id, key), None));
        }
        for version in &commit.versions {
            let n = version.meta.n;
            let mut meta = encode(&version.meta)?;
            let value = encode(version.value.as_ref())?;
            if value.len() <= INLINE_VALUE {
                meta.push(0);
                meta.extend_from_slice(&value);
            } else {
                ops.push((value_key(id, &version.key, n), Some(value)));
            }
            ops.push((meta_key(id, &version.key, n), Some(meta)));
        }
        for event in &commit.events {
            ops.push((event_key(id, event.seq), Some(encode(event)?)));
        }
        for once in &commit.idempotency {
            ops.push((idempotency_key(&once.key), Some(encode(once)?)));
        }
        self.writer.submit(ops, status).await
    }

    fn summaries(&self, statuses: &[EpisodeStatus]) -> Result<Vec<Result<EpisodeSummary, LoadFailure>>, StoreError> {
        // From the status index, whose entries hold workflow and definition version: no header
        // is decoded, which keeps opening a store of many waiting episodes cheap.
        let statuses = if statuses.is_empty() {
            &EpisodeStatus::ALL[..]
        } else {
            statuses
        };
        let tree = self.settled();
        let mut out = Vec::new();
        for &status in statuses {
            for entry in tree.scan_prefix([INDEX, status_byte(status)]) {
                let (key, summary) = entry.map_err(backend)?;
                let episode = key.get(1..).and_then(episode_of);
                let parsed = episode.zip(std::str::from_utf8(&summary).ok()).and_then(|(id, text)| {
                    let (workflow, version) = text.split_once('\0')?;
                    Some(EpisodeSummary {
                        id,
                        workflow: workflow.to_owned(),
                        definition_version: version.to_owned(),
                        status,
                    })
                });
                out.push(parsed.ok_or_else(|| LoadFailure {
                    episode,
                    error: StoreError::Corrupt {
                        episode,
                        what: "a status index entry without workflow and version".into(),
                    },
                }));
            }
        }
        Ok(out)
    }

    fn definitions_in_use(&self) -> Result<Vec<DefinitionUse>, StoreError> {
        self.settled()
            .scan_prefix([DEFINITION])
            .map(|entry| {
                let (key, count) = entry.map_err(backend)?;
                let corrupt = || StoreError::Corrupt {
                    episode: None,
                    what: "a definition count that does not decode".into(),
                };
                let text = std::str::from_utf8(&key[1..]).map_err(|_| corrupt())?;
                let (workflow, version) = text.split_once('\0').ok_or_else(corrupt)?;
                let count = <[u8; 8]>::try_from(count.as_ref()).map_err(|_| corrupt())?;
                Ok(DefinitionUse {
                    workflow: workflow.to_owned(),
                    version: version.to_owned(),
                    unfinished: u64::from_be_bytes(count),
                })
            })
            .collect()
    }

    fn episodes_with_work(&self) -> Result<Vec<EpisodeId>, StoreError> {
        self.settled()
            .scan_prefix([WORK])
            .keys()
            .map(|k| {
                let k = k.map_err(backend)?;
                episode_of(&k).ok_or_else(|| StoreError::Corrupt {
                    episode: None,
                    what: "a work index key without an episode id".into(),
                })
            })
            .collect()
    }

    fn load_episodes(
        &self,
        statuses: &[EpisodeStatus],
    ) -> Result<Vec<Result<EpisodeSnapshot, LoadFailure>>, StoreError> {
        let mut loaded = Vec::new();
        for summary in self.summaries(statuses)? {
            loaded.push(match summary {
                Err(failure) => Err(failure),
                Ok(summary) => match self.load_episode(summary.id) {
                    Ok(Some(episode)) => Ok(episode),
                    Ok(None) => continue,
                    Err(error) => Err(LoadFailure {
                        episode: Some(summary.id),
                        error,
                    }),
                },
            });
        }
        Ok(loaded)
    }

    fn load_episode(&self, episode: EpisodeId) -> Result<Option<EpisodeSnapshot>, StoreError> {
        self.writer.settle();
        let _whole = self.visible.read().unwrap_or_else(|e| e.into_inner());
        let Some(header) = self.header(episode)? else {
            return Ok(None);
        };
        let instances = self.instances(episode)?;
        Ok(Some(EpisodeSnapshot { header, instances }))
    }

    fn load_header(&self, episode: EpisodeId) -> Result<Option<EpisodeRecord>, StoreError> {
        self.writer.settle();
        let _whole = self.visible.read().unwrap_or_else(|e| e.into_inner());
        self.header(episode)
    }

    fn episodes_with_status(&self, status: EpisodeStatus) -> Result<Vec<EpisodeId>, StoreError> {
        let prefix = [INDEX, status_byte(status)];
        self.settled()
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
        self.settled()
            .range(start..=end)
            .values()
            .take(limit)
            .map(|v| decode(&v.map_err(backend)?, Some(episode), "event"))
            .collect()
    }

    fn version_value(&self, episode: EpisodeId, key: &InstanceKey, n: u32) -> Result<Value, StoreError> {
        let tree = self.settled();
        let missing = || StoreError::NotFound(format!("version {n} of `{key}` in episode {episode}"));
        let meta = tree
            .get(meta_key(episode, key, n))
            .map_err(backend)?
            .ok_or_else(missing)?;
        if let (_, Some(inline)) = split_meta(&meta) {
            return decode(inline, Some(episode), "version value");
        }
        let bytes = tree
            .get(value_key(episode, key, n))
            .map_err(backend)?
            .ok_or_else(missing)?;
        decode(&bytes, Some(episode), "version value")
    }

    async fn delete_episode(&self, episode: EpisodeId) -> Result<(), StoreError> {
        let mut ops: Vec<Op> = Vec::new();
        for prefix in [HEADER, INPUT, WORK, INSTANCE, META, VALUE, EVENT] {
            for key in self.keys_with_prefix(episode_key(prefix, episode))? {
                ops.push((key, None));
            }
        }
        if ops.is_empty() {
            return Err(StoreError::NotFound(format!("episode {episode}")));
        }
        self.writer.submit(ops, Some((episode, None))).await
    }

    async fn put_series(&self, series: &SeriesRecord, once: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
        let mut ops = vec![(series_key(series.id), Some(encode(series)?))];
        if let Some(once) = once {
            ops.push((idempotency_key(&once.key), Some(encode(once)?)));
        }
        self.writer.submit(ops, None).await
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let Some(bytes) = self.settled().get(idempotency_key(key)).map_err(backend)? else {
            return Ok(None);
        };
        decode(&bytes, None, "an idempotency record").map(Some)
    }

    fn series(&self, id: SeriesId) -> Result<Option<SeriesRecord>, StoreError> {
        let Some(bytes) = self.settled().get(series_key(id)).map_err(backend)? else {
            return Ok(None);
        };
        decode(&bytes, None, &format!("series {id}")).map(Some)
    }

    fn all_series(&self) -> Result<Vec<SeriesRecord>, StoreError> {
        self.settled()
            .scan_prefix([SERIES])
            .values()
            .map(|bytes| decode(&bytes.map_err(backend)?, None, "a series record"))
            .collect()
    }

    async fn delete_series(&self, id: SeriesId) -> Result<(), StoreError> {
        self.writer.submit(vec![(series_key(id), None)], None).await
    }

    async fn put_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        let ops = vec![(upload_key(upload.blob, upload.created_at), Some(encode(upload)?))];
        self.writer.submit(ops, None).await
    }

    fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        self.settled()
            .scan_prefix([UPLOAD])
            .values()
            .map(|bytes| decode(&bytes.map_err(backend)?, None, "an upload record"))
            .collect()
    }

    async fn delete_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        let ops = vec![(upload_key(upload.blob, upload.created_at), None)];
        self.writer.submit(ops, None).await
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
    use showrunner_engine::{EventKind, InstanceRecord, NewVersion, now_ms};

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
            series: None,
            owner: None,
            next_seq,
        }
    }

    fn version(n: u32) -> VersionMeta {
        let hash = showrunner_engine::value_hash(&json!({"take": n}));
        VersionMeta {
            n,
            hash,
            fingerprint: hash,
            reads: Vec::new(),
            seed: 1,
            attempt: n,
            feedback: None,
            author: showrunner_engine::Author::Engine,
            created_at: now_ms(),
            score: None,
            items: None,
            picks: Vec::new(),
            blobs: Vec::new(),
        }
    }

    /// Commit `seq` of an episode: version `seq` of one instance, with its value and an event.
    fn commit(id: EpisodeId, status: EpisodeStatus, seq: u64) -> Commit {
        let key = InstanceKey::item("shots", "s1");
        let mut c = Commit::new(id);
        c.header = Some(header(id, status, seq + 1));
        let mut record = InstanceRecord::new(key.clone());
        record.current = Some(seq as u32);
        c.instances.push(record);
        c.versions.push(NewVersion {
            key,
            meta: version(seq as u32),
            value: Arc::new(json!({"take": seq})),
        });
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
        assert!(store.episodes_with_work().expect("work").is_empty());
        assert!(store.events(id, 1, 10).expect("events").is_empty());
        assert!(
            store
                .episodes_with_status(EpisodeStatus::Completed)
                .expect("index")
                .is_empty()
        );
        assert!(matches!(store.delete_episode(id).await, Err(StoreError::NotFound(_))));
    }

    #[tokio::test]
    async fn small_values_ride_with_their_metadata_large_ones_and_format_2_values_stand_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path()).expect("open");
        let id = EpisodeId::generate();
        let key = InstanceKey::item("shots", "s1");
        let large = json!({"text": "x".repeat(2 * INLINE_VALUE)});
        let mut c = commit(id, EpisodeStatus::Active, 1);
        c.versions.push(NewVersion {
            key: key.clone(),
            meta: version(2),
            value: Arc::new(large.clone()),
        });
        c.instances[0].current = Some(2);
        store.commit(c).await.expect("commit");
        let tree = store.settled();
        assert!(
            tree.get(value_key(id, &key, 1)).expect("read").is_none(),
            "small: inline"
        );
        assert!(
            tree.get(value_key(id, &key, 2)).expect("read").is_some(),
            "large: own key"
        );
        // A version written by format 2: plain metadata, the value under its own key.
        tree.insert(meta_key(id, &key, 3), encode(&version(3)).expect("encode"))
            .expect("write");
        tree.insert(value_key(id, &key, 3), encode(&json!("old layout")).expect("encode"))
            .expect("write");
        assert_eq!(store.version_value(id, &key, 1).expect("inline"), json!({"take": 1}));
        assert_eq!(store.version_value(id, &key, 2).expect("own key"), large);
        assert_eq!(store.version_value(id, &key, 3).expect("format 2"), json!("old layout"));
        let loaded = store.load_episode(id).expect("load").expect("exists");
        let ns: Vec<u32> = loaded.instances[0].versions.iter().map(|v| v.n).collect();
        assert_eq!(ns, vec![1, 2, 3], "metadata decodes in both layouts");
        store.delete_episode(id).await.expect("delete");
        assert_eq!(store.settled().scan_prefix(episode_key(VALUE, id)).count(), 0);
        assert_eq!(store.settled().scan_prefix(episode_key(META, id)).count(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_after_an_answered_commit_sees_it() {
        // Commits are answered before sled has them; reads wait for the apply.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SledStore::open(dir.path()).expect("open"));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let id = EpisodeId::generate();
                    for seq in 1..=40u64 {
                        store
                            .commit(commit(id, EpisodeStatus::Active, seq))
                            .await
                            .expect("commit");
                        let events = store.events(id, seq, 10).expect("events");
                        assert_eq!(events.len(), 1, "event {seq} is readable once answered");
                        let loaded = store.load_episode(id).expect("load").expect("exists");
                        assert_eq!(loaded.instances[0].current, Some(seq as u32));
                        assert_eq!(
                            store
                                .version_value(id, &InstanceKey::item("shots", "s1"), seq as u32)
                                .expect("value"),
                            json!({"take": seq})
                        );
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
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

    #[tokio::test]
    async fn journal_records_left_by_a_crash_are_applied_on_open() {
        let dir = tempfile::tempdir().expect("a tempdir");
        let id = EpisodeId::generate();
        drop(SledStore::open(dir.path()).expect("the store"));
        // A record that was synced to the journal but never reached sled's files: what a crash
        // between the two leaves.
        let event = Event {
            episode: id,
            seq: 1,
            at: now_ms(),
            kind: EventKind::EpisodeCompleted,
        };
        {
            let (mut journal, records) = Journal::open(&dir.path().join("journal")).expect("the journal");
            assert!(records.is_empty(), "a clean close leaves the journal empty");
            let ops = vec![(event_key(id, 1), Some(encode(&event).expect("encode")))];
            journal.append(&ops).expect("append");
        }
        let store = SledStore::open(dir.path()).expect("reopened");
        assert_eq!(store.events(id, 1, 10).expect("events"), vec![event.clone()]);
        drop(store);
        let (_, records) = Journal::open(&dir.path().join("journal")).expect("the journal");
        assert!(records.is_empty(), "the replay was checkpointed");
        let store = SledStore::open(dir.path()).expect("reopened again");
        assert_eq!(store.events(id, 1, 10).expect("events"), vec![event]);
    }

    #[tokio::test]
    async fn series_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("a tempdir");
        let (a, b) = {
            let store = SledStore::open(dir.path()).expect("the store");
            let a = SeriesRecord {
                id: SeriesId::generate(),
                title: "Harbour Lights".into(),
                content: json!({"bible": {"world": "a port town"}}),
                revision: 1,
                created_at: now_ms(),
                updated_at: now_ms(),
                owner: None,
            };
            let b = SeriesRecord {
                id: SeriesId::generate(),
                title: "Second".into(),
                owner: Some("ana".into()),
                ..a.clone()
            };
            store.put_series(&a, None).await.expect("put a");
            store.put_series(&b, None).await.expect("put b");
            (a, b)
        };
        let store = SledStore::open(dir.path()).expect("the reopened store");
        let mut both = vec![a.clone(), b.clone()];
        both.sort_by_key(|s| s.id);
        assert_eq!(store.all_series().expect("all"), both, "in id order");
        store.delete_series(a.id).await.expect("delete");
        assert_eq!(store.series(a.id).expect("read"), None);
        assert_eq!(store.series(b.id).expect("read"), Some(b));
    }

    #[tokio::test]
    async fn idempotency_records_land_with_their_write_and_survive_reopening() {
        use showrunner_engine::{IdempotencyRecord, Outcome, RequestFingerprint};

        let dir = tempfile::tempdir().expect("a tempdir");
        let id = EpisodeId::generate();
        let once = |key: &str, outcome| IdempotencyRecord {
            key: key.into(),
            fingerprint: RequestFingerprint {
                method: "POST".into(),
                path: format!("/api/v1/{key}"),
                body_hash: "00".into(),
            },
            at: now_ms(),
            outcome,
        };
        let (approved, created) = {
            let store = SledStore::open(dir.path()).expect("the store");
            assert_eq!(store.idempotency("approve").expect("read"), None);
            let mut c = commit(id, EpisodeStatus::Active, 1);
            let record = c.instances[0].clone();
            let approved = once("approve", Outcome::Instance { episode: id, record });
            c.idempotency.push(approved.clone());
            store.commit(c).await.expect("commit");
            // A read right after the answer sees it, as it sees the commit.
            assert_eq!(store.idempotency("approve").expect("read"), Some(approved.clone()));
            let series = SeriesRecord {
                id: SeriesId::generate(),
                title: "Harbour Lights".into(),
                content: json!({}),
                revision: 1,
                created_at: now_ms(),
                updated_at: now_ms(),
                owner: None,
            };
            let created = once("series", Outcome::Series { record: series.clone() });
            store.put_series(&series, Some(&created)).await.expect("put");
            (approved, created)
        };
        let store = SledStore::open(dir.path()).expect("the reopened store");
        assert_eq!(store.idempotency("approve").expect("read"), Some(approved));
        assert_eq!(store.idempotency("series").expect("read"), Some(created));
        assert_eq!(store.idempotency("other").expect("read"), None);
        assert_eq!(
            store.load_episodes(&[]).expect("load").len(),
            1,
            "no episode made of a key"
        );
    }
}
