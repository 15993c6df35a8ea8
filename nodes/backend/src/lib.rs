//! The backend traits the stage nodes call (DESIGN §5). Each backend is chosen by
//! configuration; `procedural` is the embedded default.
//!
//! Image and video work is CPU-bound and blocking: the traits are synchronous, and the stage
//! nodes call them on the blocking pool.

use std::sync::Arc;

use async_trait::async_trait;
use image::RgbImage;
use showrunner_engine::NodeCtx;
use showrunner_story::model::{Brief, Character, Generator, Outline, Scene, Settings, Shot};
use showrunner_story::notes::Stage;
use tokio_util::sync::CancellationToken;

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

impl From<showrunner_story::plan::PlanError> for BackendError {
    fn from(e: showrunner_story::plan::PlanError) -> Self {
        BackendError::Invalid(e.0)
    }
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

/// Where a backend reports how far a long call is: a fraction in `[0, 1]` and a message.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Fn(f32, String) + Send + Sync>>);

impl Progress {
    /// Reports to `sink`.
    pub fn new(sink: impl Fn(f32, String) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(sink)))
    }

    /// Reports `fraction` (clamped to `[0, 1]`) with `message`; nothing when no one listens.
    pub fn report(&self, fraction: f32, message: impl Into<String>) {
        if let Some(sink) = &self.0 {
            sink(fraction.clamp(0.0, 1.0), message.into());
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(sink)"
        } else {
            "Progress(none)"
        })
    }
}

/// What a text call gets besides its stage inputs: the regenerate's feedback, the seed, where
/// progress goes and when to stop.
#[derive(Debug, Clone, Default)]
pub struct TextRequest {
    /// The feedback of the last regenerate, if any.
    pub feedback: Option<String>,
    /// The run's seed: the same seed gives the same text.
    pub seed: u64,
    /// Progress reports (streamed tokens, for a model).
    pub progress: Progress,
    /// Fires when the run is cancelled.
    pub cancel: CancellationToken,
}

impl TextRequest {
    /// A request with `seed`, no feedback, no progress.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// The same request with `feedback`.
    pub fn with_feedback(mut self, feedback: Option<&str>) -> Self {
        self.feedback = feedback.map(str::to_owned);
        self
    }

    /// The request of a node run: its feedback, seed, progress and cancellation.
    pub fn of_run(ctx: &NodeCtx) -> Self {
        let reporter = ctx.clone();
        Self {
            feedback: ctx.feedback().map(str::to_owned),
            seed: ctx.seed(),
            progress: Progress::new(move |fraction, message| reporter.progress(fraction, message)),
            cancel: ctx.cancellation().clone(),
        }
    }

    /// The feedback, as a `&str`.
    pub fn feedback(&self) -> Option<&str> {
        self.feedback.as_deref()
    }
}

/// Writes the text stages.
#[async_trait]
pub trait TextModel: Send + Sync {
    /// Who makes the text, for the outputs' metadata.
    fn generator(&self, seed: u64) -> Generator;
    /// The clauses of a regenerate's `note` this backend cannot act on at `stage`, as written.
    /// A model that takes the whole note as a constraint (the default) reads all of it.
    fn unread(&self, _stage: Stage, _note: &str) -> Vec<String> {
        Vec::new()
    }
    /// The outline of an idea.
    async fn outline(&self, brief: &Brief, request: &TextRequest) -> BackendResult<Outline>;
    /// The cast of an outline.
    async fn characters(
        &self,
        brief: &Brief,
        outline: &Outline,
        request: &TextRequest,
    ) -> BackendResult<Vec<Character>>;
    /// The scenes of an outline with its cast.
    async fn scenes(
        &self,
        brief: &Brief,
        outline: &Outline,
        characters: &[Character],
        request: &TextRequest,
    ) -> BackendResult<Vec<Scene>>;
    /// The shots of the scenes; the settings' target duration decides their number and lengths.
    async fn storyboard(
        &self,
        brief: &Brief,
        scenes: &[Scene],
        characters: &[Character],
        request: &TextRequest,
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

/// The cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Mono audio: samples in `[-1, 1]` at a sample rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    /// The samples.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

impl Speech {
    /// How long it lasts, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// Speaks text.
pub trait SpeechModel: Send + Sync {
    /// Who speaks, for the outputs' metadata.
    fn generator(&self) -> Generator;
    /// `text` spoken at `pace`: 1 is the voice's own pace, 1.25 a quarter faster (the same
    /// speech in 80% of the time). Text with nothing to say gives no samples.
    fn speak(&self, text: &str, pace: f32) -> BackendResult<Speech>;
}
