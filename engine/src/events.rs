//! Events: every transition of an episode, numbered per episode.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{ContentHash, EpisodeId, InstanceKey, Timestamp};
use crate::pure::definition::GateKind;

/// One event of an episode's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The episode.
    pub episode: EpisodeId,
    /// Its sequence number within the episode, from 1, without gaps.
    pub seq: u64,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type")]
pub enum EventKind {
    /// The episode was created (or forked from another).
    EpisodeCreated {
        /// The workflow's name.
        workflow: String,
        /// Its definition version.
        definition_version: String,
        /// The episode it was forked from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Ulid))]
        forked_from: Option<EpisodeId>,
    },
    /// A map node's item set changed with its source list.
    ItemsChanged {
        /// The map node.
        node: String,
        /// Item ids added.
        added: Vec<String>,
        /// Item ids removed.
        removed: Vec<String>,
    },
    /// An instance's inputs are approved; it is queued.
    NodeReady {
        /// The instance.
        key: InstanceKey,
    },
    /// An instance lost an approved input before it ran; it waits again.
    NodeBlocked {
        /// The instance.
        key: InstanceKey,
    },
    /// A run started.
    NodeStarted {
        /// The instance.
        key: InstanceKey,
        /// Its attempt number.
        attempt: u32,
    },
    /// A running node reported progress.
    NodeProgress {
        /// The instance.
        key: InstanceKey,
        /// The attempt reporting.
        attempt: u32,
        /// Done so far, in `[0, 1]`.
        fraction: f32,
        /// What it is doing.
        message: String,
    },
    /// A run produced a version.
    NodeProduced {
        /// The instance.
        key: InstanceKey,
        /// The new version.
        version: u32,
        /// Its content hash.
        #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Hash))]
        hash: ContentHash,
        /// Its quality score, behind a quality gate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        score: Option<f64>,
        /// What the run said about its work (a note it could not act on), for the person.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remarks: Vec<String>,
    },
    /// A run failed.
    NodeFailed {
        /// The instance.
        key: InstanceKey,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
        /// When it is retried; left out (`None`) when it failed for good.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Timestamp))]
        retry_at: Option<Timestamp>,
    },
    /// A run was stopped before it finished (crash, pause, timeout); it runs again.
    NodeInterrupted {
        /// The instance.
        key: InstanceKey,
        /// The attempt stopped.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// A gate waits for a person.
    GateOpened {
        /// The instance.
        key: InstanceKey,
        /// The gate.
        gate: GateKind,
        /// The version (or, for candidates, versions) to judge.
        versions: Vec<u32>,
    },
    /// A version was approved.
    Approved {
        /// The instance.
        key: InstanceKey,
        /// The version.
        version: u32,
        /// True when a gate passed it on its own.
        automatic: bool,
    },
    /// A candidate was picked.
    Selected {
        /// The instance.
        key: InstanceKey,
        /// The version picked.
        version: u32,
    },
    /// A new run was asked for.
    RegenerateRequested {
        /// The instance.
        key: InstanceKey,
        /// The feedback for it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(nullable = false))]
        feedback: Option<String>,
        /// True when a quality gate asked.
        automatic: bool,
    },
    /// A person stored their own version.
    Edited {
        /// The instance.
        key: InstanceKey,
        /// The new version.
        version: u32,
    },
    /// The current pointer moved back.
    Reverted {
        /// The instance.
        key: InstanceKey,
        /// The version now current.
        version: u32,
    },
    /// An input changed under an instance's output.
    MarkedStale {
        /// The instance.
        key: InstanceKey,
        /// The input that changed.
        because: InstanceKey,
    },
    /// The episode was paused.
    EpisodePaused,
    /// The episode was resumed.
    EpisodeResumed,
    /// Every instance is approved.
    EpisodeCompleted,
    /// An instance failed for good.
    EpisodeFailed {
        /// The instance.
        key: InstanceKey,
    },
    /// The episode went back to work (an edit or regenerate after it completed or failed).
    EpisodeReopened,
    /// The episode was cancelled.
    EpisodeCancelled,
    /// A line of the episode's conversation: a person's chat message or the assistant's reply.
    Message {
        /// Who wrote it.
        author: Speaker,
        /// The text.
        text: String,
        /// What the line did or understood (intent, action, instance), for clients.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        data: Value,
    },
}

/// Who wrote a line of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// A person, through a client.
    User,
    /// The assistant answering them.
    Assistant,
}

impl EventKind {
    /// The instance the event is about, if any.
    pub fn key(&self) -> Option<&InstanceKey> {
        match self {
            EventKind::NodeReady { key }
            | EventKind::NodeBlocked { key }
            | EventKind::NodeStarted { key, .. }
            | EventKind::NodeProgress { key, .. }
            | EventKind::NodeProduced { key, .. }
            | EventKind::NodeFailed { key, .. }
            | EventKind::NodeInterrupted { key, .. }
            | EventKind::GateOpened { key, .. }
            | EventKind::Approved { key, .. }
            | EventKind::Selected { key, .. }
            | EventKind::RegenerateRequested { key, .. }
            | EventKind::Edited { key, .. }
            | EventKind::Reverted { key, .. }
            | EventKind::MarkedStale { key, .. }
            | EventKind::EpisodeFailed { key } => Some(key),
            _ => None,
        }
    }
}
