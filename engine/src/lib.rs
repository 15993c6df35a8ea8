//! Showrunner's engine: durable DAG episodes with gates, versions, stale invalidation and crash
//! recovery.
//!
//! - A [`WorkflowDef`] is built from [`NodeSpec`]s and validated (unique keys, known
//!   dependencies, no cycles, maps fed by lists). Its version hashes its structure.
//! - A [`Node`] is async, serde-typed, and runs with a [`NodeCtx`] (seed, attempt, feedback,
//!   progress, cancellation, blob store).
//! - Each episode is owned by one actor that applies [`Command`]s to the pure [`Episode`] core,
//!   commits the resulting events and snapshots through the [`Store`], and only then streams
//!   events, answers callers and starts runs.
//! - The [`NodeState`] lifecycle is a statig state machine; illegal actions are typed errors.
//! - Outputs are immutable versions with a `current` pointer. An instance's input fingerprint
//!   hashes what it read; when an approved output changes, only the readers whose inputs changed
//!   become stale.
//!
//! ```
//! use async_trait::async_trait;
//! use showrunner_engine::{Gate, Node, NodeCtx, NodeError, NodeSpec, WorkflowDef};
//!
//! struct Outline;
//!
//! #[async_trait]
//! impl Node for Outline {
//!     type Input = serde_json::Value;
//!     type Output = String;
//!     async fn run(&self, input: Self::Input, _ctx: &NodeCtx) -> Result<String, NodeError> {
//!         Ok(format!("an outline of {}", input["episode"]))
//!     }
//! }
//!
//! let def = WorkflowDef::builder("tiny")
//!     .node(NodeSpec::single("outline", Outline).gate(Gate::Human))
//!     .build()
//!     .expect("a valid definition");
//! assert_eq!(def.version().len(), 16);
//! ```

mod actor;
mod collection;
mod command;
mod creation;
mod definition;
mod engine;
mod episode;
mod error;
mod events;
mod fingerprint;
mod idempotency;
mod ids;
mod lifecycle;
mod node;
mod pins;
mod record;
mod recovery;
mod retry;
mod run;
mod scheduler;
mod series;
mod store;
mod subscription;

#[cfg(test)]
mod tests;

pub use collection::UPLOAD_RETENTION;
pub use command::{Changes, Command, Effect, InputSource, Produced, RunSpec};
pub use definition::{
    Escalation, Gate, GateKind, NodeKind, NodeSpec, Read, Resource, RetryPolicy, WorkflowBuilder, WorkflowDef,
};
pub use engine::{Engine, EngineConfig};
pub use episode::Episode;
pub use error::{DefinitionError, EngineError, NodeError, Result, StoreError};
pub use events::{Event, EventKind, Speaker};
pub use fingerprint::{fingerprint, value_hash};
pub use idempotency::{IdempotencyRecord, IdempotencyToken, Outcome, RequestFingerprint};
pub use ids::{ContentHash, EpisodeId, InstanceKey, SeriesId, Timestamp, now_ms};
pub use lifecycle::{LifecycleInput, NodeState};
pub use node::{DynNode, Node, NodeCtx};
pub use record::{
    Author, EpisodeRecord, EpisodeStatus, InstanceRecord, ItemMeta, ReadKey, SeriesRecord, UploadRecord, VersionMeta,
};
pub use recovery::{RecoveryReport, UnknownDefinition};
pub use retry::backoff;
pub use scheduler::{Scheduler, Ticket};
pub use store::{
    BlobRef, BlobStore, Commit, DefinitionUse, EpisodeSnapshot, EpisodeSummary, GcStats, LoadFailure, NewVersion,
    Store, Sweep,
};
pub use subscription::EventStream;
