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

use showrunner_engine::{BlobStore, Engine, EngineConfig, Placement, RecoveryReport, Result, Store, WorkflowDef};
use showrunner_storage::{FsBlobStore, ObjectBlobStore, PgRunQueue, PgStore, SledStore};

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
#[derive(Debug, Clone, Copy)]
pub struct Places<'a> {
    /// The episodes: a `postgres://` URL (that database, shared with the other engine
    /// processes on it), else the embedded store in `DATA/store`.
    pub store: Option<&'a str>,
    /// The blobs: an `s3://BUCKET[/PREFIX]` URL (endpoint and credentials from the `AWS_*`
    /// environment), else files in `DATA/blobs`.
    pub blobs: Option<&'a str>,
    /// With `store`: how long this process counts as alive without renewing its lease (see
    /// [`PgStore::open_member`]); when it dies, the others take its episodes over after this
    /// long.
    pub lease: std::time::Duration,
    /// With `store`: the episodes' runs go to the database's run queue, for workers to perform
    /// (see [`showrunner_engine::queue`]), rather than run in this process.
    pub queue: bool,
}

impl Default for Places<'_> {
    fn default() -> Self {
        Self {
            store: None,
            blobs: None,
            lease: std::time::Duration::from_secs(10),
            queue: false,
        }
    }
}

/// [`open`], with the episodes and the blobs where `places` says.
pub async fn open_on(
    data: &Path,
    places: Places<'_>,
    definitions: impl IntoIterator<Item = WorkflowDef>,
    mut config: EngineConfig,
) -> Result<(Engine, RecoveryReport)> {
    let store: Arc<dyn Store> = match places.store {
        None => Arc::new(SledStore::open(data.join("store"))?),
        Some(url) => {
            let store = Arc::new(PgStore::open_member(url, places.lease)?);
            if places.queue {
                config.runs = Placement::Queue(Arc::new(PgRunQueue::new(store.clone())));
            }
            store
        }
    };
    let blobs = open_blobs(data, places.blobs)?;
    Engine::open(store, blobs, definitions, config).await
}

/// The blob store `url` names (`s3://BUCKET[/PREFIX]`, with the `AWS_*` environment), else the
/// files in `DATA/blobs`.
pub fn open_blobs(data: &Path, url: Option<&str>) -> Result<Arc<dyn BlobStore>> {
    Ok(match url {
        None => Arc::new(FsBlobStore::open(data.join("blobs"))?),
        Some(url) => Arc::new(ObjectBlobStore::open(url)?),
    })
}
