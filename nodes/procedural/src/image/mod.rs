//! The procedural image backend: character sheets, scene backgrounds and keyframes drawn with
//! `candle-core` tensors on the CPU (see [`crate::raster`]). No weights, deterministic for a
//! seed, fast, and named `procedural` in every output's metadata.
//!
//! - A character's look (palette, build, hair, props) comes from its text alone: the same
//!   character always looks the same, and clothing text changes clothing pixels only.
//! - A character whose description names another kind of being (a robot, a whale, a fox, an
//!   owl) is drawn as one, wearing its outfit as a scarf or panels (the `being` module).
//! - Portraits stand on a flat backdrop ([`BACKDROP`]), which keyframes key out to compose the
//!   figure over a scene.
//! - Keyframes and consistency scores share one placement function, so a score compares each
//!   portrait with exactly the pixels where it was drawn.

mod animal;
mod being;
#[cfg(test)]
mod being_tests;
mod consistency;
mod exterior;
mod face;
mod interior;
mod keyframe;
mod look;
mod portrait;
mod props;
mod robot;
mod scene;
mod sea;
#[cfg(test)]
mod tests;
mod weather;
mod words;

use image::RgbImage;
use showrunner_backend::{BackendError, BackendResult, ImageModel, View};
use showrunner_story::model::{Character, Generator, Scene, Settings, Shot};

use crate::raster::Rgb;
use consistency::consistency_score;
use keyframe::render_keyframe;
use portrait::render_portrait;
use scene::render_scene;

/// The model name in every output's metadata.
pub const MODEL: &str = "procedural-image-1";
/// Portrait width in pixels, whatever the settings.
pub const PORTRAIT_WIDTH: u32 = 256;
/// Portrait height in pixels, whatever the settings.
pub const PORTRAIT_HEIGHT: u32 = 384;
/// The portraits' flat backdrop colour, keyed out when a figure is composed into a keyframe.
pub const BACKDROP: Rgb = Rgb(0.74, 0.85, 0.84);
pub(super) const INK: Rgb = Rgb(0.13, 0.11, 0.13);
pub(super) const OUTLINE: f32 = 1.6;

/// The embedded default image backend: images drawn with tensor ops, no weights, deterministic
/// for a seed.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProceduralImages;

impl ImageModel for ProceduralImages {
    fn generator(&self, seed: u64) -> Generator {
        Generator {
            backend: "procedural".into(),
            model: MODEL.into(),
            seed,
        }
    }

    fn portrait(&self, character: &Character, view: View, _settings: &Settings, seed: u64) -> BackendResult<RgbImage> {
        render_portrait(character, view, seed).map_err(failed)
    }

    fn scene(&self, scene: &Scene, settings: &Settings, seed: u64) -> BackendResult<RgbImage> {
        let (w, h) = frame_size(settings)?;
        render_scene(scene, w, h, seed).map_err(failed)
    }

    fn keyframe(
        &self,
        shot: &Shot,
        background: &RgbImage,
        cast: &[(&Character, &RgbImage)],
        settings: &Settings,
        seed: u64,
    ) -> BackendResult<RgbImage> {
        let (w, h) = frame_size(settings)?;
        if background.width() == 0 || background.height() == 0 {
            return Err(BackendError::Invalid("the background image is empty".into()));
        }
        let in_shot = |c: &Character| shot.character_ids.contains(&c.id);
        if cast
            .iter()
            .any(|(c, p)| in_shot(c) && (p.width() == 0 || p.height() == 0))
        {
            return Err(BackendError::Invalid(format!(
                "shot {}: a portrait image is empty",
                shot.id
            )));
        }
        render_keyframe(shot, background, cast, (w, h), seed).map_err(failed)
    }

    /// Colour-histogram intersection between each placed character's portrait and the keyframe
    /// pixels where [`ImageModel::keyframe`] draws it, averaged; 1 when no character is placed, 0
    /// when the images cannot be read.
    fn consistency(&self, keyframe: &RgbImage, shot: &Shot, cast: &[(&Character, &RgbImage)]) -> f64 {
        consistency_score(keyframe, shot, cast).unwrap_or(0.0)
    }
}

fn failed(e: candle_core::Error) -> BackendError {
    BackendError::Failed(format!("procedural image: {e}"))
}

/// The settings' frame size, checked ([`Settings::validate_size`]).
fn frame_size(settings: &Settings) -> BackendResult<(usize, usize)> {
    Settings::validate_size(settings.width, settings.height).map_err(|e| BackendError::Invalid(e.to_string()))?;
    Ok((settings.width as usize, settings.height as usize))
}
