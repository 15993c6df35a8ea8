//! Showrunner's stage nodes: the outline, characters, scenes, storyboard, images, clips and
//! final video of the stock workflows, on the backends in [`Backends`](stages::Backends).
//!
//! - [`stages`]: the stage nodes, which the stock workflows assemble, and [`stages::Backends`],
//!   the backends they call (the embedded `procedural` ones by default).
//! - [`consistency`]: how well a keyframe keeps its characters, for the quality gate.
//! - [`dialogue`]: a shot's lines spoken and laid into one audio track.
//!
//! The types they read and write come from `showrunner-story` ([`model`], [`fountain`]) and the
//! traits they call from `showrunner-backend` ([`backend`]), re-exported here so a workflow
//! author needs this one crate.

pub mod consistency;
pub mod dialogue;
pub mod stages;

pub use showrunner_backend as backend;
pub use showrunner_story::{fountain, model};
