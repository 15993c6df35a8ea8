//! Showrunner's stage data model, inference backends and stage nodes.
//!
//! - [`model`]: what each stage produces (DESIGN §4), serde types with stable ids and a JSON
//!   Schema each.
//! - Backends behind small traits (`TextModel`, `ImageModel`, `VideoModel`, `Embedder`), with the
//!   embedded `procedural` implementations: no weights, deterministic for a seed.
//! - The stage nodes built on them, which the stock workflows assemble.

pub mod backend;
pub mod model;
