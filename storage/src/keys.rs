//! The key layout of the one sled tree: events, snapshots, values and index entries of every
//! episode, with one prefix byte per kind.
//!
//! ```text
//! m format                                   → format version (ASCII)
//! h <episode:16>                             → episode header without its input (JSON)
//! x <episode:16>                             → episode input (JSON)
//! w <episode:16>                             → ()  the episode has work for the runner
//! t <episode:16>                             → status byte (what the status index holds now)
//! s <status:1> <episode:16>                  → workflow 0x00 definition version (status index)
//! d <workflow> 0x00 <definition version>     → unfinished episodes of that definition (u64 BE)
//! i <episode:16> <node> 0x00 <item>          → instance snapshot (JSON)
//! n <episode:16> <node> 0x00 <item> 0x00 <n:4 BE> → version metadata (JSON), then 0x00 and the
//!                                              version value (JSON) when that is small
//! v <episode:16> <node> 0x00 <item> 0x00 <n:4 BE> → version value (JSON), when not inline
//! e <episode:16> <seq:8 BE>                  → event (JSON)
//! r <series:16>                              → series record (JSON)
//! u <blob:32> <created_at:8 BE> <owner>       → upload record (JSON)
//! k <key hash>                               → idempotency record (JSON): a request's key, the
//!                                              request and its action's outcome, written by the
//!                                              commit that made the action durable
//! ```
//! Versions are immutable, so their metadata is written once under its own key and an instance
//! snapshot stays small however many versions it has. A small value (a blob reference, a short
//! text) rides with its metadata: one key less per version, which is what a transition costs in
//! sled; large values keep their own key so that loading an episode does not read them. The
//! header is written only when it changes; its event counter is rebuilt from the last event key
//! on load.
//!
//! Episode ids are ULIDs in big-endian bytes, so episodes sort by creation time and a prefix
//! scan finds everything of one episode. Node keys cannot hold 0x00 (the engine allows only
//! `[A-Za-z0-9_-]`), so the separator is unambiguous; a missing item is an empty string.

use showrunner_engine::{ContentHash, EpisodeId, EpisodeStatus, InstanceKey, SeriesId, UploadRecord};
use ulid_bytes::{from_bytes, to_bytes};

pub(crate) const FORMAT: &[u8] = b"mformat";
pub(crate) const HEADER: u8 = b'h';
pub(crate) const INPUT: u8 = b'x';
pub(crate) const WORK: u8 = b'w';
pub(crate) const META: u8 = b'n';
pub(crate) const STATUS: u8 = b't';
pub(crate) const INDEX: u8 = b's';
pub(crate) const DEFINITION: u8 = b'd';
pub(crate) const INSTANCE: u8 = b'i';
pub(crate) const VALUE: u8 = b'v';
pub(crate) const EVENT: u8 = b'e';
pub(crate) const SERIES: u8 = b'r';
pub(crate) const UPLOAD: u8 = b'u';
pub(crate) const IDEMPOTENCY: u8 = b'k';

mod ulid_bytes {
    use showrunner_engine::EpisodeId;

    pub fn to_bytes(id: EpisodeId) -> [u8; 16] {
        u128::from(id.0).to_be_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<EpisodeId> {
        let arr: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
        Some(EpisodeId(u128::from_be_bytes(arr).into()))
    }
}

/// `prefix` + episode.
pub(crate) fn episode_key(prefix: u8, episode: EpisodeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(prefix);
    k.extend_from_slice(&to_bytes(episode));
    k
}

/// The key of a series record.
/// The key of one upload record: the same blob uploaded twice has two.
pub(crate) fn upload_key(upload: &UploadRecord) -> Vec<u8> {
    let owner = upload.owner.as_deref().unwrap_or_default();
    let mut k = Vec::with_capacity(41 + owner.len());
    k.extend_from_slice(&upload_prefix(upload.blob));
    k.extend_from_slice(&upload.created_at.to_be_bytes());
    // Two owners uploading the same bytes in the same millisecond keep a record each.
    k.extend_from_slice(owner.as_bytes());
    k
}

/// The prefix of every upload record of `blob`.
pub(crate) fn upload_prefix(blob: ContentHash) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(UPLOAD);
    k.extend_from_slice(&blob.0);
    k
}

pub(crate) fn series_key(series: SeriesId) -> Vec<u8> {
    let mut k = Vec::with_capacity(17);
    k.push(SERIES);
    k.extend_from_slice(&u128::from(series.0).to_be_bytes());
    k
}

/// The key of an idempotency record.
pub(crate) fn idempotency_key(key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(IDEMPOTENCY);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The episode id inside a key that starts with a one-byte prefix.
pub(crate) fn episode_of(key: &[u8]) -> Option<EpisodeId> {
    from_bytes(key.get(1..)?)
}

pub(crate) fn status_byte(status: EpisodeStatus) -> u8 {
    match status {
        EpisodeStatus::Active => b'a',
        EpisodeStatus::Paused => b'p',
        EpisodeStatus::Completed => b'c',
        EpisodeStatus::Failed => b'f',
        EpisodeStatus::Cancelled => b'x',
    }
}

/// The key of a definition's count of unfinished episodes; `summary` is `workflow 0x00 version`.
pub(crate) fn definition_key(summary: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + summary.len());
    k.push(DEFINITION);
    k.extend_from_slice(summary);
    k
}

pub(crate) fn index_key(status: u8, episode: EpisodeId) -> Vec<u8> {
    let mut k = Vec::with_capacity(18);
    k.push(INDEX);
    k.push(status);
    k.extend_from_slice(&to_bytes(episode));
    k
}

fn push_instance(k: &mut Vec<u8>, key: &InstanceKey) {
    k.extend_from_slice(key.node.as_bytes());
    k.push(0);
    k.extend_from_slice(key.item.as_deref().unwrap_or("").as_bytes());
}

pub(crate) fn instance_key(episode: EpisodeId, key: &InstanceKey) -> Vec<u8> {
    let mut k = episode_key(INSTANCE, episode);
    push_instance(&mut k, key);
    k
}

pub(crate) fn value_key(episode: EpisodeId, key: &InstanceKey, n: u32) -> Vec<u8> {
    version_key(VALUE, episode, key, n)
}

pub(crate) fn meta_key(episode: EpisodeId, key: &InstanceKey, n: u32) -> Vec<u8> {
    version_key(META, episode, key, n)
}

/// The instance a version key (value or metadata) belongs to.
pub(crate) fn version_instance(key: &[u8]) -> Option<InstanceKey> {
    let rest = key.get(17..)?;
    let rest = rest.get(..rest.len().checked_sub(5)?)?;
    let split = rest.iter().position(|&b| b == 0)?;
    let node = std::str::from_utf8(&rest[..split]).ok()?;
    let item = std::str::from_utf8(&rest[split + 1..]).ok()?;
    Some(InstanceKey {
        node: node.to_owned(),
        item: (!item.is_empty()).then(|| item.to_owned()),
    })
}

fn version_key(prefix: u8, episode: EpisodeId, key: &InstanceKey, n: u32) -> Vec<u8> {
    let mut k = episode_key(prefix, episode);
    push_instance(&mut k, key);
    k.push(0);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

pub(crate) fn event_key(episode: EpisodeId, seq: u64) -> Vec<u8> {
    let mut k = episode_key(EVENT, episode);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}
