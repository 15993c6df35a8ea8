//! Showrunner: a durable workflow engine for AI video production.
//!
//! This facade re-exports the crates — [`engine`] (definitions, nodes, gates, versions,
//! invalidation, recovery, events), [`storage`] (the sled and PostgreSQL stores and the blob
//! store), [`story`]
//! (the stage data model), [`backend`] (the backend traits), [`nodes`] (the stage nodes),
//! [`media`] (codecs and formats), [`procedural`] (the embedded backends), [`models`] (the
//! model registry), [`onnx`] and [`llm`] (the local-model backends) and [`workflows`]
//! (idea2video, script2video) — and wires them: [`open`] an engine over one data directory,
//! and [`setup`] the backends a configuration names.

use std::path::Path;
use std::sync::Arc;

pub mod setup;

pub use showrunner_backend as backend;
pub use showrunner_engine as engine;
pub use showrunner_llm as llm;
pub use showrunner_media as media;
pub use showrunner_models as models;
pub use showrunner_nodes as nodes;
pub use showrunner_onnx as onnx;
pub use showrunner_procedural as procedural;
pub use showrunner_storage as storage;
pub use showrunner_story as story;
pub use showrunner_workflows as workflows;

use showrunner_engine::{Engine, EngineConfig, RecoveryReport, Result, Store, WorkflowDef};
use showrunner_storage::{FsBlobStore, PgStore, SledStore};

/// Opens an engine over `data` (`data/store` for the sled store, `data/blobs` for blobs),
/// registering `definitions` and recovering every unfinished episode.
pub async fn open(
    data: &Path,
    definitions: impl IntoIterator<Item = WorkflowDef>,
    config: EngineConfig,
) -> Result<(Engine, RecoveryReport)> {
    open_on(data, None, definitions, config).await
}

/// [`open`], with the episodes in the PostgreSQL database at `store` (a `postgres://` URL)
/// when given, held by this process alone; the blobs stay in `data/blobs`.
pub async fn open_on(
    data: &Path,
    store: Option<&str>,
    definitions: impl IntoIterator<Item = WorkflowDef>,
    config: EngineConfig,
) -> Result<(Engine, RecoveryReport)> {
    let store: Arc<dyn Store> = match store {
        None => Arc::new(SledStore::open(data.join("store"))?),
        Some(url) => Arc::new(PgStore::open_exclusive(url)?),
    };
    let blobs = Arc::new(FsBlobStore::open(data.join("blobs"))?);
    Engine::open(store, blobs, definitions, config).await
}
