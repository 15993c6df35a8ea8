//! [`SledStore`]: the engine's [`Store`] on sled 0.34, with group commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use showrunner_engine::{
    Commit, ContentHash, DefinitionUse, EpisodeId, EpisodeRecord, EpisodeSnapshot, EpisodeStatus, EpisodeSummary,
    Event, IdempotencyRecord, InstanceKey, InstanceRecord, LoadFailure, SeriesId, SeriesRecord, Store, StoreError,
    UploadRecord, VersionMeta,
};

use crate::group_commit::{CommitStats, DurableFiles, GroupCommit, Op, Visibility, apply, checkpoint};
use crate::journal::Journal;
use crate::keys::{
    DEFINITION, EVENT, FORMAT, HEADER, INDEX, INPUT, INSTANCE, META, SERIES, UPLOAD, VALUE, WORK, episode_key,
    episode_of, event_key, idempotency_key, index_key, instance_key, meta_key, series_key, status_byte, upload_key,
    upload_prefix, value_key, version_instance,
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

    fn episodes_page(
        &self,
        statuses: &[EpisodeStatus],
        before: Option<EpisodeId>,
        limit: usize,
    ) -> Result<Vec<(EpisodeId, EpisodeStatus)>, StoreError> {
        let statuses = if statuses.is_empty() {
            &EpisodeStatus::ALL[..]
        } else {
            statuses
        };
        let tree = self.settled();
        let mut page = Vec::new();
        for &status in statuses {
            let byte = status_byte(status);
            let end = match before {
                Some(before) => index_key(byte, before),
                None => vec![INDEX, byte + 1],
            };
            for key in tree.range(vec![INDEX, byte]..end).keys().rev().take(limit) {
                let key = key.map_err(backend)?;
                let id = episode_of(&key[1..]).ok_or_else(|| StoreError::Corrupt {
                    episode: None,
                    what: "a status index key without an episode id".into(),
                })?;
                page.push((id, status));
            }
        }
        // Newest first across the statuses; an episode whose status changed while the index was
        // read is listed once.
        page.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        page.dedup_by_key(|(id, _)| *id);
        page.truncate(limit);
        Ok(page)
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
        let ops = vec![(upload_key(upload), Some(encode(upload)?))];
        self.writer.submit(ops, None).await
    }

    fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        self.settled()
            .scan_prefix([UPLOAD])
            .values()
            .map(|bytes| decode(&bytes.map_err(backend)?, None, "an upload record"))
            .collect()
    }

    fn uploads_of(&self, blob: ContentHash) -> Result<Vec<UploadRecord>, StoreError> {
        self.settled()
            .scan_prefix(upload_prefix(blob))
            .values()
            .map(|bytes| decode(&bytes.map_err(backend)?, None, "an upload record"))
            .collect()
    }

    async fn delete_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        let ops = vec![(upload_key(upload), None)];
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
mod tests;
