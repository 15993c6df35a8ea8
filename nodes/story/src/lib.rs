//! Showrunner's story data, with no model, codec or backend behind it: what each stage produces
//! ([`model`]: the brief and its settings, outline, characters, scenes, shots, keyframes, clips;
//! serde types with stable ids and a JSON Schema each), screenplays in Fountain ([`fountain`]),
//! what a regenerate's [`notes`] ask as the rules read them, the [`plan`] of an episode's cast, scenes and shots that every text backend shares, the
//! seeded [`rng`] every generator draws from (the same seed gives the same story everywhere), and
//! the [`slug`] that turns a name into a stable id.

pub mod facts;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod fountain;
pub mod model;
pub mod notes;
pub mod plan;
pub mod references;
pub mod rng;
pub mod seed;
pub mod series;
mod settings;
mod slug;

pub use slug::slug;

pub mod stock;
pub mod transition;
