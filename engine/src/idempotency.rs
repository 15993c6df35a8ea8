//! Idempotent actions: a caller's key stored in the same durable commit as the action it named,
//! with what the action produced, so that a retry after any crash finds the first outcome
//! instead of acting again.
//!
//! Why in the commit: an answer stored apart from the action leaves a window (the action
//! durable, its answer not yet) in which a crash turns the retry into a second action, typically
//! refused (`cannot approve outline while it is approved`) or, for a create, a second episode.
//! With the [`IdempotencyRecord`] written by the very commit that makes the action durable,
//! either both are on disk or neither is.
//!
//! The engine does not check keys itself: the caller (the HTTP layer) looks the key up with
//! [`crate::Engine::idempotent`] before acting, and serialises requests of one key, so that a
//! key is acted on at most once.

use serde::{Deserialize, Serialize};

use crate::ids::{EpisodeId, Timestamp};
use crate::record::{InstanceRecord, SeriesRecord};
use crate::store::EpisodeSnapshot;

/// What identifies a request under a key: a key reused with another request is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestFingerprint {
    /// The request's method (`POST`).
    pub method: String,
    /// The request's path.
    pub path: String,
    /// blake3 of the request body, hex.
    pub body_hash: String,
}

/// An action's idempotency key and the request it came with, given to the engine with the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyToken {
    /// The key as stored: a hash of the caller's key (never the key itself), at most 64 ASCII
    /// characters in practice.
    pub key: String,
    /// The request.
    pub fingerprint: RequestFingerprint,
}

/// What an action produced, as stored with its key: enough to answer the request again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// An action on one instance (approve, regenerate, edit, select, revert): the instance as
    /// the action left it.
    Instance {
        /// The episode.
        episode: EpisodeId,
        /// The instance right after the action, with its versions.
        record: InstanceRecord,
    },
    /// A new episode (created or forked), as its creating commit wrote it.
    Created {
        /// The new episode.
        snapshot: EpisodeSnapshot,
    },
    /// An action on a whole episode (cancel): the episode right after it.
    Episode {
        /// The episode.
        snapshot: EpisodeSnapshot,
    },
    /// A new series, as written.
    Series {
        /// The series.
        record: SeriesRecord,
    },
}

/// A key, the request it came with and the outcome of its action: written in the action's own
/// commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The key (see [`IdempotencyToken::key`]).
    pub key: String,
    /// The request.
    pub fingerprint: RequestFingerprint,
    /// When the action was made.
    pub at: Timestamp,
    /// What it produced.
    pub outcome: Outcome,
}

impl IdempotencyRecord {
    /// The record of `token`'s action, made at `at` with `outcome`.
    pub fn new(token: IdempotencyToken, at: Timestamp, outcome: Outcome) -> Self {
        Self {
            key: token.key,
            fingerprint: token.fingerprint,
            at,
            outcome,
        }
    }
}
