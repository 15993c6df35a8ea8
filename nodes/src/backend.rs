//! The backend traits the stage nodes call (DESIGN §5). Each backend is chosen by
//! configuration; `procedural` is the embedded default.
//!
//! Image and video work is CPU-bound and blocking: the traits are synchronous, and the stage
//! nodes call them on the blocking pool.

use async_trait::async_trait;
use image::RgbImage;

use crate::model::{Brief, Character, Generator, Outline, Scene, Settings, Shot};

/// A backend failure.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The request cannot be served as given (bad settings, an empty cast): retrying won't help.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend failed; retrying may help.
    #[error("{0}")]
    Failed(String),
}

/// Result alias for backends.
pub type BackendResult<T> = Result<T, BackendError>;

/// The view of a portrait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    /// Facing the camera.
    Front,
    /// In profile.
    Side,
    /// From behind.
    Back,
}

impl View {
    /// All three views, in sheet order.
    pub const ALL: [View; 3] = [View::Front, View::Side, View::Back];
}

/// Writes the text stages.
#[async_trait]
pub trait TextModel: Send + Sync {
    /// Who makes the text, for the outputs' metadata.
    fn generator(&self, seed: u64) -> Generator;
    /// The outline of an idea; `feedback` comes from a regenerate.
    async fn outline(&self, brief: &Brief, feedback: Option<&str>, seed: u64) -> BackendResult<Outline>;
    /// The cast of an outline.
    async fn characters(
        &self,
        brief: &Brief,
        outline: &Outline,
        feedback: Option<&str>,
        seed: u64,
    ) -> BackendResult<Vec<Character>>;
    /// The scenes of an outline with its cast.
    async fn scenes(
        &self,
        brief: &Brief,
        outline: &Outline,
        characters: &[Character],
        feedback: Option<&str>,
        seed: u64,
    ) -> BackendResult<Vec<Scene>>;
    /// The shots of the scenes; the settings' target duration decides their number and lengths.
    async fn storyboard(
        &self,
        brief: &Brief,
        scenes: &[Scene],
        characters: &[Character],
        feedback: Option<&str>,
        seed: u64,
    ) -> BackendResult<Vec<Shot>>;
}

/// Makes the images.
pub trait ImageModel: Send + Sync {
    /// Who makes the images, for the outputs' metadata.
    fn generator(&self, seed: u64) -> Generator;
    /// One view of a character's portrait sheet. The three views share the character's palette
    /// and features.
    fn portrait(&self, character: &Character, view: View, settings: &Settings, seed: u64) -> BackendResult<RgbImage>;
    /// A scene's background.
    fn scene(&self, scene: &Scene, settings: &Settings, seed: u64) -> BackendResult<RgbImage>;
    /// A shot's keyframe: the shot's characters (each with their front portrait) composed over
    /// the scene's background at the shot's framing.
    fn keyframe(
        &self,
        shot: &Shot,
        background: &RgbImage,
        cast: &[(&Character, &RgbImage)],
        settings: &Settings,
        seed: u64,
    ) -> BackendResult<RgbImage>;
    /// How well the characters in a keyframe match their portraits, in `[0, 1]`.
    fn consistency(&self, keyframe: &RgbImage, shot: &Shot, cast: &[(&Character, &RgbImage)]) -> f64;
}

/// Animates keyframes into frames.
pub trait VideoModel: Send + Sync {
    /// Who makes the clips, for the outputs' metadata.
    fn generator(&self, seed: u64) -> Generator;
    /// The frames of a shot's clip, from its keyframe, following the shot's camera movement;
    /// `round(duration_s * fps)` frames at the settings' size.
    fn clip(&self, keyframe: &RgbImage, shot: &Shot, settings: &Settings) -> BackendResult<Vec<RgbImage>>;
}

/// Turns text into vectors.
pub trait Embedder: Send + Sync {
    /// Who embeds, for the outputs' metadata.
    fn generator(&self) -> Generator;
    /// One unit-length vector per text.
    fn embed(&self, texts: &[&str]) -> BackendResult<Vec<Vec<f32>>>;
}
