//! The records the engine persists: episode headers, instance snapshots and version metadata.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{ContentHash, EpisodeId, InstanceKey, SeriesId, Timestamp};
use crate::pure::lifecycle::NodeState;

/// Where an episode stands as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EpisodeStatus {
    /// Work is scheduled or waits at a gate.
    Active,
    /// Nothing new starts until resumed.
    Paused,
    /// Every instance is approved.
    Completed,
    /// An instance failed for good; a person must regenerate or edit it.
    Failed,
    /// Cancelled; nothing runs again.
    Cancelled,
}

impl EpisodeStatus {
    /// Every status.
    pub const ALL: [EpisodeStatus; 5] = [
        EpisodeStatus::Active,
        EpisodeStatus::Paused,
        EpisodeStatus::Completed,
        EpisodeStatus::Failed,
        EpisodeStatus::Cancelled,
    ];

    /// A short lower-case name; also the status index's key.
    pub fn name(&self) -> &'static str {
        match self {
            EpisodeStatus::Active => "active",
            EpisodeStatus::Paused => "paused",
            EpisodeStatus::Completed => "completed",
            EpisodeStatus::Failed => "failed",
            EpisodeStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the episode is done with: completed or cancelled (a failed or paused one may go
    /// on).
    pub fn is_finished(&self) -> bool {
        matches!(self, EpisodeStatus::Completed | EpisodeStatus::Cancelled)
    }
}

/// An episode's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// The episode's id.
    pub id: EpisodeId,
    /// The workflow's name.
    pub workflow: String,
    /// The definition version the episode was created under.
    pub definition_version: String,
    /// The episode's input (an idea, a script, settings), given to every node under `"episode"`.
    pub input: Value,
    /// The seed every node seed derives from.
    pub seed: u64,
    /// Where the episode stands.
    pub status: EpisodeStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// The episode it was forked from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<EpisodeId>,
    /// The series it belongs to, if any (its content was copied into the input at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesId>,
    /// Who the episode belongs to (the user or team of the API key that created or forked it);
    /// `None` for episodes made without an owner (the CLI, a keyless server) and those stored
    /// before owners existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The sequence number the next event gets.
    pub next_seq: u64,
}

/// Who made a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Author {
    /// A node run.
    Engine,
    /// A person's edit.
    User,
}

/// An upstream output an instance read: a whole node, or one item of a map or list node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReadKey {
    /// The node read.
    pub node: String,
    /// The item read; `None` for the whole node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
}

/// One item of a list output: its stable id, its content hash, and the ids it points at for the
/// item reads of the map nodes fed by the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMeta {
    /// The item's stable id.
    pub id: String,
    /// The hash of the item's canonical JSON.
    pub hash: ContentHash,
    /// For each JSON pointer used by an item read, the ids found there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picks: Vec<(String, Vec<String>)>,
}

/// An immutable version of an instance's output. The value itself is stored apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionMeta {
    /// The version number, from 1.
    pub n: u32,
    /// The hash of the value's canonical JSON.
    pub hash: ContentHash,
    /// The hash of the node version and the inputs the version was made from.
    pub fingerprint: ContentHash,
    /// The inputs it was made from, with their hashes at the time.
    pub reads: Vec<(ReadKey, ContentHash)>,
    /// The seed of the run (0 for a person's edit).
    pub seed: u64,
    /// The attempt that made it (0 for a person's edit).
    pub attempt: u32,
    /// The regenerate feedback the run had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// Who made it.
    pub author: Author,
    /// When.
    pub created_at: Timestamp,
    /// The quality score, for a node behind a `Quality` gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// What the run said about its work (a note it could not act on), for the person.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remarks: Vec<String>,
    /// The items, when the value is a list that feeds a map node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<ItemMeta>>,
    /// The ids the value itself points at, for item reads of map nodes fed by this map node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub picks: Vec<(String, Vec<String>)>,
    /// The blobs the value references.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<ContentHash>,
}

/// A node instance's snapshot: its lifecycle state, attempts, versions and current pointer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// Which instance.
    pub key: InstanceKey,
    /// Its lifecycle state.
    pub state: NodeState,
    /// Runs started so far (crashed ones included).
    pub attempts: u32,
    /// Consecutive failed runs, for the retry policy.
    pub failures: u32,
    /// Quality-gate regenerations since the last person's action.
    pub quality_tries: u32,
    /// Regenerations asked for; each one changes the seed.
    pub generation: u32,
    /// The feedback of the last regenerate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// Every version, oldest first.
    pub versions: Vec<VersionMeta>,
    /// The current version's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u32>,
    /// The version approved last, with the generation it was approved at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<(u32, u32)>,
    /// The versions offered by a `Candidates` gate, waiting for a pick.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<u32>,
    /// The inputs the latest run started from, with their hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<(ReadKey, ContentHash)>,
    /// The last failure's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl InstanceRecord {
    /// A new instance, blocked, with no versions.
    pub fn new(key: InstanceKey) -> Self {
        Self {
            key,
            state: NodeState::initial(),
            attempts: 0,
            failures: 0,
            quality_tries: 0,
            generation: 0,
            feedback: None,
            versions: Vec::new(),
            current: None,
            approved: None,
            candidates: Vec::new(),
            inputs: Vec::new(),
            last_error: None,
        }
    }

    /// The snapshot without its versions: what a commit writes (versions are written once, on
    /// their own).
    pub fn without_versions(&self) -> Self {
        Self {
            key: self.key.clone(),
            state: self.state,
            attempts: self.attempts,
            failures: self.failures,
            quality_tries: self.quality_tries,
            generation: self.generation,
            feedback: self.feedback.clone(),
            versions: Vec::new(),
            current: self.current,
            approved: self.approved,
            candidates: self.candidates.clone(),
            inputs: self.inputs.clone(),
            last_error: self.last_error.clone(),
        }
    }

    /// The current version's metadata.
    pub fn current_version(&self) -> Option<&VersionMeta> {
        self.current.and_then(|n| self.version(n))
    }

    /// Version `n`'s metadata.
    pub fn version(&self, n: u32) -> Option<&VersionMeta> {
        self.versions.get(n.checked_sub(1)? as usize)
    }

    /// The current version's hash, when the instance is approved.
    pub fn approved_hash(&self) -> Option<ContentHash> {
        if self.state.is_approved() {
            self.current_version().map(|v| v.hash)
        } else {
            None
        }
    }
}

/// A series: what its episodes share (a bible, a cast), stored on its own and copied into each
/// episode's input when the episode is created, so that later changes never alter an episode
/// behind its approvals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRecord {
    /// The series' id.
    pub id: SeriesId,
    /// Its title.
    pub title: String,
    /// What episodes share, as the workflows read it (for the stock workflows: a bible and
    /// characters). Episodes see it under `"series"` in their input.
    pub content: Value,
    /// Bumped by every update, from 1; an update names the revision it was made from.
    pub revision: u32,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Who the series belongs to (the user or team of the API key that created it); `None` for
    /// series made without an owner and those stored before owners existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_stored_before_owners_existed_load_without_one() {
        let episode: EpisodeRecord = serde_json::from_value(json!({
            "id": "01J0000000000000000000000Z", "workflow": "w", "definition_version": "v",
            "input": {}, "seed": 1, "status": "Active", "created_at": 5, "next_seq": 1,
        }))
        .expect("an old header");
        assert_eq!(episode.owner, None);
        let series: SeriesRecord = serde_json::from_value(json!({
            "id": "01J0000000000000000000000Z", "title": "t", "content": {}, "revision": 1,
            "created_at": 5, "updated_at": 5,
        }))
        .expect("an old series");
        assert_eq!(series.owner, None);
        let owned = SeriesRecord {
            owner: Some("ana".into()),
            ..series
        };
        let back: SeriesRecord = serde_json::from_value(serde_json::to_value(&owned).expect("JSON")).expect("back");
        assert_eq!(back.owner.as_deref(), Some("ana"));
    }
}

/// An uploaded blob (a reference image), recorded so that a client that was told it is stored
/// can still name it in a series for a while although nothing references it yet: garbage
/// collection keeps an upload for [`crate::UPLOAD_RETENTION`] whatever the grace it is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The blob.
    pub blob: ContentHash,
    /// When it was uploaded.
    pub created_at: Timestamp,
    /// Who uploaded it (the owner of the API key), when keys have owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}
