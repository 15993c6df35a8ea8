//! Showrunner's embedded default backends: no weights, deterministic for a seed, fast, and named
//! `procedural` in every output's metadata.
//!
//! - [`text`]: [`ProceduralText`](text::ProceduralText), outlines, casts, scenes and storyboards
//!   from templates over the brief and the shared [`plan`](showrunner_story::plan).
//! - [`image`]: [`ProceduralImages`](image::ProceduralImages), portraits, scene images and
//!   keyframes drawn on a [`raster`] canvas.
//! - [`video`]: [`ProceduralVideo`](video::ProceduralVideo), a keyframe animated by its shot's
//!   camera movement.
//! - [`embed`]: [`HashedEmbedder`](embed::HashedEmbedder), bag-of-words embeddings.

pub mod embed;
pub mod image;
pub mod raster;
pub mod text;
pub mod video;
