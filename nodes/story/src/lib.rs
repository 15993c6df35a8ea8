//! Showrunner's story data, with no model, codec or backend behind it: what each stage produces
//! ([`model`]: the brief and its settings, outline, characters, scenes, shots, keyframes, clips;
//! serde types with stable ids and a JSON Schema each), screenplays in Fountain ([`fountain`]),
//! and the [`slug`] that turns a name into a stable id.

pub mod fountain;
pub mod model;
mod settings;
mod slug;

pub use slug::slug;
