//! The embedded default backends: no weights, deterministic for a seed, fast, and named
//! `procedural` in every output's metadata.

pub mod embed;
pub mod image;
pub mod raster;
pub mod text;
