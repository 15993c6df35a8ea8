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
//! The code shows the line between the pure and the I/O: `pure/` holds what decides (the
//! [`Episode`] core and its actions, runs, readiness and invalidation; the lifecycle, commands,
//! scheduler, fingerprints, definitions, retry backoff), reading no clock, store or network;
//! `runtime/` holds what acts (the actor per episode, node runs, the [`Engine`] handle, recovery,
//! event subscriptions, episode creation, blob pins and garbage collection). The records, ids,
//! events, errors and the [`Store`] trait they share sit beside both.
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

mod durable;
mod error;
mod events;
mod feed;
mod idempotency;
mod ids;
mod node;
#[cfg(feature = "openapi")]
pub mod openapi;
mod pure;
pub mod queue;
mod record;
mod runtime;
mod series;
mod store;

#[cfg(test)]
mod tests;

pub use durable::{DurableWriteError, write_durably};
pub use error::{DefinitionError, EngineError, NodeError, Result, StoreError, ValueError};
pub use events::{Event, EventKind, Speaker};
pub use feed::{EventFeed, EventWatch};
pub use idempotency::{IdempotencyRecord, IdempotencyToken, Outcome, RequestFingerprint};
pub use ids::{ContentHash, EpisodeId, InstanceKey, SeriesId, Timestamp, now_ms};
pub use node::{DynNode, Node, NodeCtx};
pub use pure::command::{Changes, Command, Effect, InputSource, PREVIOUS, Produced, RunSpec};
pub use pure::definition::{
    Escalation, Gate, GateKind, NodeKind, NodeSpec, Read, Resource, RetryPolicy, TAG_RULE, WorkflowBuilder,
    WorkflowDef, is_tag,
};
pub use pure::episode::Episode;
pub use pure::fingerprint::{fingerprint, value_hash};
pub use pure::lifecycle::{LifecycleInput, NodeState};
pub use pure::retry::backoff;
pub use pure::scheduler::{Scheduler, Ticket};
pub use record::{
    Author, EpisodeRecord, EpisodeStatus, InstanceRecord, ItemMeta, ReadKey, SeriesRecord, UploadRecord, VersionMeta,
};
pub use runtime::collection::UPLOAD_RETENTION;
pub use runtime::engine::{Engine, EngineConfig, Placement};
pub use runtime::holding::Home;
pub use runtime::recovery::{RecoveryReport, UnknownDefinition};
pub use runtime::subscription::EventStream;
pub use runtime::worker::{RunId, Worker, WorkerConfig, WorkerEvent, WorkerLog};
pub use store::{
    BlobRef, BlobStore, Claim, Commit, DefinitionUse, EpisodeSnapshot, EpisodeSummary, GcStats, HoldStats, LoadFailure,
    NewVersion, Store, Sweep,
};
