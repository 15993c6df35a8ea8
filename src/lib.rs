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

use showrunner_engine::{BlobStore, Engine, EngineConfig, RecoveryReport, Result, Store, WorkflowDef};
use showrunner_storage::{FsBlobStore, ObjectBlobStore, PgStore, SledStore};

/// Opens an engine over `data` (`data/store` for the sled store, `data/blobs` for blobs),
/// registering `definitions` and recovering every unfinished episode.
pub async fn open(
    data: &Path,
    definitions: impl IntoIterator<Item = WorkflowDef>,
    config: EngineConfig,
) -> Result<(Engine, RecoveryReport)> {
    open_on(data, Places::default(), definitions, config).await
}

/// Where an engine keeps what does not live in its data directory.
#[derive(Debug, Default, Clone, Copy)]
pub struct Places<'a> {
    /// The episodes: a `postgres://` URL (that database, held by this process alone), else the
    /// embedded store in `DATA/store`.
    pub store: Option<&'a str>,
    /// The blobs: an `s3://BUCKET[/PREFIX]` URL (endpoint and credentials from the `AWS_*`
    /// environment), else files in `DATA/blobs`.
    pub blobs: Option<&'a str>,
    /// With `store`: wait while another process holds the database, and take it over when it
    /// ends, instead of being refused.
    pub standby: bool,
}

/// [`open`], with the episodes and the blobs where `places` says.
pub async fn open_on(
    data: &Path,
    places: Places<'_>,
    definitions: impl IntoIterator<Item = WorkflowDef>,
    config: EngineConfig,
) -> Result<(Engine, RecoveryReport)> {
    let store: Arc<dyn Store> = match places.store {
        None => Arc::new(SledStore::open(data.join("store"))?),
        Some(url) if places.standby => Arc::new(PgStore::open_when_free(url)?),
        Some(url) => Arc::new(PgStore::open_exclusive(url)?),
    };
    let blobs: Arc<dyn BlobStore> = match places.blobs {
        None => Arc::new(FsBlobStore::open(data.join("blobs"))?),
        Some(url) => Arc::new(ObjectBlobStore::open(url)?),
    };
    Engine::open(store, blobs, definitions, config).await
}
