//! The `onnx` backends (DESIGN §5): ONNX graphs on ONNX Runtime through `ort`, with the runtime
//! loaded at run time ([`runtime`]) from the model registry's `onnxruntime` install or
//! `ORT_DYLIB_PATH`.
//!
//! - [`MiniLmEmbedder`]: sentence embeddings behind the [`showrunner_backend::Embedder`] trait.
//! - [`session`]: a graph's session on a [`Device`] (`auto | cpu | cuda[:N]`).
//! - [`TerrainModel`]: terrain heightmaps, drawn as landscape backgrounds for outdoor scenes by
//!   [`TerrainImages`] behind the [`showrunner_backend::ImageModel`] trait.
//!
//! ```no_run
//! use showrunner_backend::Embedder;
//! use showrunner_onnx::{Device, MiniLmEmbedder};
//! use showrunner_models::Registry;
//!
//! let registry = Registry::new("showrunner-data/models");
//! let embedder = MiniLmEmbedder::from_registry(&registry, "minilm-l6", Device::Cpu)?;
//! let vectors = embedder.embed(&["looks good", "redo the outline"])?;
//! assert_eq!(vectors[0].len(), 384);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod device;
mod minilm;
pub mod runtime;
pub mod speech;
pub mod terrain;

use std::path::PathBuf;

pub use device::session;
pub use minilm::{DEFAULT_MAX_TOKENS, MAX_BATCH, MINILM_MODEL, MiniLmEmbedder};
pub use runtime::Runtime;
pub use showrunner_models::{Device, Placement};
pub use terrain::{TERRAIN_MODEL, TerrainImages, TerrainModel};

use showrunner_models::RegistryError;

/// An `onnx` backend failure.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The model or the runtime is not installed, or is corrupt.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// ONNX Runtime did not load: not a library, a version older than 1.31, another platform.
    #[error("ONNX Runtime did not load from {}: {message} (install it with `showrunner models install onnxruntime`, or point ORT_DYLIB_PATH at libonnxruntime 1.31 or later)", library.display())]
    Runtime {
        /// The library file tried.
        library: PathBuf,
        /// Why.
        message: String,
    },
    /// A graph did not load into a session.
    #[error("the ONNX model {} did not load: {message}", model.display())]
    Session {
        /// The graph file.
        model: PathBuf,
        /// Why.
        message: String,
    },
    /// The device asked for cannot be used.
    #[error("device {device} is not usable: {reason}")]
    Device {
        /// The device.
        device: Device,
        /// Why.
        reason: String,
    },
    /// The tokenizer did not load or failed on a text.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A run failed or returned what the backend did not expect.
    #[error("inference: {0}")]
    Inference(String),
}
