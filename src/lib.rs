//! Showrunner: a durable workflow engine for AI video production.
//!
//! This facade re-exports the crates — [`engine`] (definitions, nodes, gates, versions,
//! invalidation, recovery, events), [`storage`] (the sled store and the blob store), [`nodes`]
//! (the stage data model, backends and stage nodes) and [`workflows`] (idea2video,
//! script2video) — and offers [`open`] to wire them over one data directory.

use std::path::Path;
use std::sync::Arc;

pub use showrunner_engine as engine;
pub use showrunner_nodes as nodes;
pub use showrunner_storage as storage;
pub use showrunner_workflows as workflows;

use showrunner_engine::{Engine, EngineConfig, RecoveryReport, Result, WorkflowDef};
use showrunner_storage::{FsBlobStore, SledStore};

/// Opens an engine over `data` (`data/store` for the sled store, `data/blobs` for blobs),
/// registering `definitions` and recovering every unfinished episode.
pub async fn open(
    data: &Path,
    definitions: impl IntoIterator<Item = WorkflowDef>,
    config: EngineConfig,
) -> Result<(Engine, RecoveryReport)> {
    let store = Arc::new(SledStore::open(data.join("store"))?);
    let blobs = Arc::new(FsBlobStore::open(data.join("blobs"))?);
    Engine::open(store, blobs, definitions, config).await
}
