//! The seams to persistence that the engine owns: the episode [`Store`] and the [`BlobStore`].
//!
//! Implementations live outside the engine (`showrunner-storage` has the sled one). The contract
//! that makes crash recovery work:
//! - [`Store::commit`] is atomic (events, snapshot records and version values of one commit land
//!   together or not at all) and durable when it resolves: the engine streams events and answers
//!   clients only after that.
//! - [`BlobStore::put`] is durable when it resolves, so a blob is on disk before the commit that
//!   references it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::StoreError;
use crate::events::Event;
use crate::feed::EventFeed;
use crate::idempotency::IdempotencyRecord;
use crate::ids::{ContentHash, EpisodeId, InstanceKey, SeriesId};
use crate::record::{EpisodeRecord, EpisodeStatus, InstanceRecord, SeriesRecord, UploadRecord, VersionMeta};

/// One atomic, durable write of an episode's changes.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The episode written.
    pub episode: EpisodeId,
    /// The episode's header, when it changed (always on creation).
    pub header: Option<EpisodeRecord>,
    /// Instance snapshot records to write (each replaces the stored one), without their
    /// versions: a version is written once, in `versions`, so a snapshot stays small however
    /// many versions the instance has.
    pub instances: Vec<InstanceRecord>,
    /// Instances to delete (map items whose source list dropped them).
    pub removed: Vec<InstanceKey>,
    /// New versions to write: metadata and value.
    pub versions: Vec<NewVersion>,
    /// Events to append, with consecutive sequence numbers following the stored ones.
    pub events: Vec<Event>,
    /// Whether the episode has work for the runner after this commit (an instance ready,
    /// running or waiting to retry), when that changed: such episodes are resumed when the engine
    /// opens, the others load when first used.
    pub runnable: Option<bool>,
    /// The idempotency keys of the actions this commit makes durable, with their outcomes:
    /// written with the actions, so that a key is on disk exactly when its action is.
    pub idempotency: Vec<IdempotencyRecord>,
    /// The claim the episode is written under ([`Store::claim`]): a shared store refuses the
    /// commit when another process has claimed the episode since.
    pub claim: Claim,
}

/// What a store several processes share counts of this process's claims (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HoldStats {
    /// Claims that went through.
    pub claims: u64,
    /// Of those, claims that took an episode from another process (it had died or paused).
    pub takeovers: u64,
    /// Commits refused because another process had claimed their episode since.
    pub refused_commits: u64,
    /// Seconds spent in claims, all together (with `claims`, the mean claim latency).
    pub claim_seconds: f64,
}

/// The epoch under which this process holds an episode of a store several processes share
/// ([`Store::claim`]); every claim of an episode moves its epoch on, which fences off the
/// commits of the claims before it. Zero in a store of one process's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claim(pub u64);

impl Commit {
    /// An empty commit for `episode`.
    pub fn new(episode: EpisodeId) -> Self {
        Self {
            episode,
            header: None,
            instances: Vec::new(),
            removed: Vec::new(),
            versions: Vec::new(),
            events: Vec::new(),
            runnable: None,
            idempotency: Vec::new(),
            claim: Claim::default(),
        }
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.header.is_none()
            && self.instances.is_empty()
            && self.removed.is_empty()
            && self.versions.is_empty()
            && self.events.is_empty()
            && self.idempotency.is_empty()
    }
}

/// A version written by a commit: its metadata and its value.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The instance.
    pub key: InstanceKey,
    /// The version's metadata (its number is `meta.n`).
    pub meta: VersionMeta,
    /// Its value.
    pub value: Arc<Value>,
}

/// An episode as stored (and as the engine shows it): its header and its instance snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeSnapshot {
    /// The header.
    pub header: EpisodeRecord,
    /// Every instance's snapshot.
    pub instances: Vec<InstanceRecord>,
}

/// What the engine needs of an episode before it loads it: its identity, workflow and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeSummary {
    /// The episode.
    pub id: EpisodeId,
    /// Its workflow's name.
    pub workflow: String,
    /// The definition version it was created under.
    pub definition_version: String,
    /// Its status.
    pub status: EpisodeStatus,
}

/// A workflow definition version that unfinished episodes were created under, with how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionUse {
    /// The workflow's name.
    pub workflow: String,
    /// The definition version.
    pub version: String,
    /// Unfinished (active, paused, failed) episodes created under it.
    pub unfinished: u64,
}

/// An episode whose records do not load; the others load regardless.
#[derive(Debug)]
pub struct LoadFailure {
    /// The episode, when its id could be read.
    pub episode: Option<EpisodeId>,
    /// What went wrong.
    pub error: StoreError,
}

/// Durable storage of episodes: an append-only event log per episode, a snapshot record per node
/// instance, version values, and an index of episodes by status.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The shortest grace a blob collection over this store may use. Several processes that
    /// share a store cannot see the blobs the others have just written for commits not made
    /// yet, so a shared store collects only blobs older than this; zero for a store of one
    /// process's own, whose engine pins those blobs itself.
    fn min_collection_grace(&self) -> Duration {
        Duration::ZERO
    }

    /// Where this process hears of the events that other processes commit to this store, so
    /// that it streams episodes they write; `None` for a store no other process writes (the
    /// engine's own channels tell it everything).
    fn event_feed(&self) -> Option<&dyn EventFeed> {
        None
    }

    /// What blob collection must keep for runs queued for workers (see [`crate::queue`]): the
    /// blobs their reported results name, and the age of the oldest run still in the queue
    /// (the blobs its worker wrote are younger). Nothing for a store with no queue.
    fn queued_blobs(&self) -> Result<(Vec<ContentHash>, Option<Duration>), StoreError> {
        Ok((Vec::new(), None))
    }

    /// Takes `episode` for this process before it writes the episode (and again whenever it
    /// loads it anew): in a store several processes share, one live process writes an episode
    /// at a time, and a commit of an episode this process does not hold (another took it over)
    /// is refused. `Err(StoreError::Elsewhere)` names the live process that holds it; a
    /// store of one process's own always gives it.
    async fn claim(&self, episode: EpisodeId) -> Result<Claim, StoreError> {
        let _ = episode;
        Ok(Claim::default())
    }

    /// Episodes with work for the runner that no live process holds (the one that held them
    /// died): the engine claims them and resumes their work. Always empty in a store of one
    /// process's own, whose engine resumes all work when it opens.
    fn unheld_work(&self) -> Result<Vec<EpisodeId>, StoreError> {
        Ok(Vec::new())
    }

    /// True once after this process's hold on its episodes lapsed (it could not show it was
    /// alive in time: paused, cut off), so that another may have taken any of them over: the
    /// engine lets every episode in memory go, and claims each again on its next use.
    fn hold_lapsed(&self) -> bool {
        false
    }

    /// Gives up every episode this process holds in a shared store and marks it gone, so that
    /// the other processes take its episodes at once (a clean stop); nothing for a store of
    /// one process's own.
    async fn release_all(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// What this process's claims came to, in a store several processes share; `None` in a
    /// store of one process's own.
    fn hold_stats(&self) -> Option<HoldStats> {
        None
    }

    /// Records where this process's HTTP API answers, so that the other processes on a shared
    /// store send requests for the episodes it holds there; false (nothing recorded) for a
    /// store of one process's own.
    async fn advertise(&self, url: &str) -> Result<bool, StoreError> {
        let _ = url;
        Ok(false)
    }

    /// Writes `commit` atomically; resolves once it is durable. Concurrent commits share flushes.
    /// A commit without a header keeps the stored one; the event counter is rebuilt from the
    /// log on load, so the header is written only when it changes.
    async fn commit(&self, commit: Commit) -> Result<(), StoreError>;

    /// The summaries of the episodes whose status is in `statuses` (all when empty), without
    /// loading their instances.
    fn summaries(&self, statuses: &[EpisodeStatus]) -> Result<Vec<Result<EpisodeSummary, LoadFailure>>, StoreError>;

    /// The definition versions unfinished episodes were created under, with their counts: what
    /// opening the engine checks against the registered definitions without reading every
    /// episode.
    fn definitions_in_use(&self) -> Result<Vec<DefinitionUse>, StoreError>;

    /// The episodes whose last commit said they have work for the runner.
    fn episodes_with_work(&self) -> Result<Vec<EpisodeId>, StoreError>;

    /// Loads every episode whose status is in `statuses` (all episodes when empty). An episode
    /// whose records are corrupt is returned as a [`LoadFailure`] and does not stop the others.
    /// The default loads each of [`Store::summaries`] with [`Store::load_episode`].
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
                    // Deleted since the listing.
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

    /// Loads one episode; `None` when it does not exist.
    fn load_episode(&self, episode: EpisodeId) -> Result<Option<EpisodeSnapshot>, StoreError>;

    /// One episode's header, without its instances; `None` when it does not exist. The
    /// default loads the whole episode: implementations read the header alone.
    fn load_header(&self, episode: EpisodeId) -> Result<Option<EpisodeRecord>, StoreError> {
        Ok(self.load_episode(episode)?.map(|e| e.header))
    }

    /// The ids of the episodes with this status, from the status index.
    fn episodes_with_status(&self, status: EpisodeStatus) -> Result<Vec<EpisodeId>, StoreError>;

    /// A page of the status index: up to `limit` episodes whose status is in `statuses` (any
    /// status when empty), newest first (by id), each with its status, starting after the
    /// episode `before` when given. Reads about `limit` index entries per status, whatever the
    /// number of episodes.
    fn episodes_page(
        &self,
        statuses: &[EpisodeStatus],
        before: Option<EpisodeId>,
        limit: usize,
    ) -> Result<Vec<(EpisodeId, EpisodeStatus)>, StoreError>;

    /// Up to `limit` events of `episode` with sequence numbers from `from_seq` on, in order.
    fn events(&self, episode: EpisodeId, from_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// The value of version `n` of an instance.
    fn version_value(&self, episode: EpisodeId, key: &InstanceKey, n: u32) -> Result<Value, StoreError>;

    /// Deletes an episode with its log, snapshots and values; resolves once durable.
    async fn delete_episode(&self, episode: EpisodeId) -> Result<(), StoreError>;

    /// Writes a series record (replacing the stored one) and, in the same atomic write, the
    /// idempotency record of the action that made it, if any; resolves once durable.
    async fn put_series(&self, series: &SeriesRecord, once: Option<&IdempotencyRecord>) -> Result<(), StoreError>;

    /// Replaces a series record if the stored one is still at revision `previous`; `false`
    /// (nothing written) when another write came first or the series is gone. Resolves once
    /// durable. The default reads and then writes, which holds for a store one process writes,
    /// whose engine makes its series writes one at a time; a store several processes share
    /// does both under the record's lock.
    async fn replace_series(&self, series: &SeriesRecord, previous: u32) -> Result<bool, StoreError> {
        match self.series(series.id)? {
            Some(stored) if stored.revision == previous => {
                self.put_series(series, None).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The idempotency record stored under `key` by a commit or a series write; `None` when no
    /// action was made durable with that key.
    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// One series; `None` when it does not exist.
    fn series(&self, id: SeriesId) -> Result<Option<SeriesRecord>, StoreError>;

    /// Every series, in id order (creation order, to the millisecond).
    fn all_series(&self) -> Result<Vec<SeriesRecord>, StoreError>;

    /// Deletes a series; resolves once durable. Its episodes keep the copy they were made with.
    async fn delete_series(&self, id: SeriesId) -> Result<(), StoreError>;

    /// Records an upload; resolves once durable. Uploading the same blob again adds a record.
    async fn put_upload(&self, upload: &UploadRecord) -> Result<(), StoreError>;

    /// Every upload record.
    fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError>;

    /// The upload records of one blob (one per upload of it).
    fn uploads_of(&self, blob: ContentHash) -> Result<Vec<UploadRecord>, StoreError>;

    /// Deletes this record of an upload (not a later upload of the same blob); resolves once
    /// durable.
    async fn delete_upload(&self, upload: &UploadRecord) -> Result<(), StoreError>;
}

/// A reference to a blob, as it appears inside node outputs: the string `blob:<64 hex digits>`.
/// The engine finds these strings in every stored version to know which blobs are live.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRef(pub ContentHash);

impl BlobRef {
    const PREFIX: &'static str = "blob:";

    /// Parses `blob:<hex>`.
    pub fn parse(s: &str) -> Option<Self> {
        s.strip_prefix(Self::PREFIX).and_then(ContentHash::from_hex).map(Self)
    }

    /// Every blob referenced anywhere inside `value`.
    pub fn find_all(value: &Value) -> Vec<ContentHash> {
        fn walk(v: &Value, out: &mut Vec<ContentHash>) {
            match v {
                Value::String(s) => {
                    if let Some(b) = BlobRef::parse(s) {
                        out.push(b.0);
                    }
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                Value::Object(o) => o.values().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(value, &mut out);
        out.sort();
        out.dedup();
        out
    }
}

impl std::fmt::Display for BlobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.0)
    }
}

impl Serialize for BlobRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BlobRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("expected `blob:<64 hex digits>`"))
    }
}

/// What a blob collection removed and kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcStats {
    /// Blobs deleted.
    pub removed: usize,
    /// Blobs kept (live, or too young to judge).
    pub kept: usize,
}

/// Content-addressed storage for large outputs (images, clips, videos), shared by versions and
/// episodes.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` and returns their reference; durable when it resolves. Storing bytes that
    /// are already there is cheap and returns the same reference.
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError>;

    /// Reads a blob.
    async fn get(&self, blob: BlobRef) -> Result<Vec<u8>, StoreError>;

    /// True when the blob is stored.
    async fn contains(&self, blob: BlobRef) -> Result<bool, StoreError>;

    /// Offers every blob older than `grace` to `sweep`, which deletes the ones nothing needs
    /// (see [`Sweep`]); a blob already gone is not an error.
    async fn collect(&self, sweep: Arc<dyn Sweep>, grace: Duration) -> Result<GcStats, StoreError>;
}

/// The engine's side of a collection: decides, blob by blob, whether it may go.
pub trait Sweep: Send + Sync {
    /// Calls `remove` when `blob` may be deleted, holding what keeps a concurrent put from
    /// pinning it meanwhile; returns whether it was removed.
    fn sweep(&self, blob: ContentHash, remove: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<bool, StoreError>;
}
