//! The stage nodes: each one a `Node` over a backend, with serde-typed input and output.
//!
//! Node versions name the backend model that serves them, so switching a backend changes the
//! workflow's definition version (an episode made with one backend is not silently continued by
//! another).

use std::sync::Arc;

use showrunner_engine::{BlobRef, NodeCtx, NodeError};
use showrunner_media::MediaError;

use crate::backend::{BackendError, Embedder, ImageModel, TextModel, VideoModel};
use showrunner_procedural::embed::HashedEmbedder;
use showrunner_procedural::text::ProceduralText;

/// Declares a stage node over the backends, versioned by the model of its backend `$backend`.
macro_rules! backed_node {
    ($(#[$doc:meta])* $name:ident, $backend:ident) => {
        $(#[$doc])*
        pub struct $name {
            backends: Backends,
            version: String,
        }

        impl $name {
            /// The node over these backends.
            pub fn new(backends: Backends) -> Self {
                let version = version(1, &backends.$backend.generator(0).model);
                Self { backends, version }
            }
        }
    };
}

mod film;
mod render;
mod revise;
mod script;
mod story;

pub use film::{ClipNode, FinalVideoNode};
pub use render::{KeyframeNode, PortraitNode, SceneImageNode};
pub use script::{ScreenplayNode, ScriptCharactersNode, ScriptOutlineNode, ScriptScenesNode};
pub use story::{CharactersNode, OutlineNode, ScenesNode, StoryboardNode};

/// The backends the stage nodes call.
#[derive(Clone)]
pub struct Backends {
    /// Text stages.
    pub text: Arc<dyn TextModel>,
    /// Images.
    pub image: Arc<dyn ImageModel>,
    /// Clips.
    pub video: Arc<dyn VideoModel>,
    /// Embeddings.
    pub embedder: Arc<dyn Embedder>,
    /// Dialogue speech for the clips' audio tracks; `None` leaves the clips silent.
    pub speech: Option<Arc<dyn crate::backend::SpeechModel>>,
    /// True when one of these backends' models runs on a GPU: the stages then hold the
    /// engine's `gpu` resource while they run (limit 1 by default), so GPU work is serialised.
    pub on_gpu: bool,
}

impl Backends {
    /// The embedded defaults: procedural text, images and video, hashed embeddings.
    pub fn procedural() -> Self {
        Self {
            text: Arc::new(ProceduralText),
            image: Arc::new(showrunner_procedural::image::ProceduralImages),
            video: Arc::new(showrunner_procedural::video::ProceduralVideo),
            embedder: Arc::new(HashedEmbedder),
            speech: None,
            on_gpu: false,
        }
    }
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("text", &self.text.generator(0).model)
            .field("image", &self.image.generator(0).model)
            .field("video", &self.video.generator(0).model)
            .field("embedder", &self.embedder.generator().model)
            .field("speech", &self.speech.as_ref().map(|s| s.generator().model))
            .field("on_gpu", &self.on_gpu)
            .finish()
    }
}

/// A media failure as a backend one: bad input stays bad input (not retried).
pub(crate) fn media(e: MediaError) -> BackendError {
    match e {
        MediaError::Invalid(msg) => BackendError::Invalid(msg),
        MediaError::Failed(msg) => BackendError::Failed(msg),
    }
}

/// A backend failure as a node failure: bad requests are permanent, the rest retryable.
pub(crate) fn node_error(e: BackendError) -> NodeError {
    match e {
        BackendError::Invalid(msg) => NodeError::Permanent(msg),
        BackendError::Failed(msg) => NodeError::Retryable(msg),
    }
}

/// Runs blocking backend work (rendering, encoding) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, NodeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NodeError::Permanent(format!("backend task failed: {e}")))?
        .map_err(node_error)
}

/// Stores bytes in the blob store.
pub(crate) async fn put(ctx: &NodeCtx, bytes: Vec<u8>) -> Result<BlobRef, NodeError> {
    ctx.blobs()
        .put(bytes)
        .await
        .map_err(|e| NodeError::Retryable(format!("storing a blob: {e}")))
}

/// Reads a blob from the blob store.
pub(crate) async fn get(ctx: &NodeCtx, blob: BlobRef) -> Result<Vec<u8>, NodeError> {
    ctx.blobs()
        .get(blob)
        .await
        .map_err(|e| NodeError::Retryable(format!("reading blob {blob}: {e}")))
}

/// A node version string: the stage's own version and the model that serves it.
pub(crate) fn version(stage: u32, model: &str) -> String {
    format!("{stage}/{model}")
}
