//! Terrain backgrounds for outdoor scenes over another image backend.

use std::sync::Arc;

use image::RgbImage;

use super::TerrainModel;
use super::render::{Look, Sky, landscape};
use showrunner_backend::{BackendError, BackendResult, ImageModel, View};
use showrunner_story::model::{Character, Generator, Scene, Settings, Shot};
use showrunner_story::rng::Rng;

/// An [`ImageModel`] that draws outdoor scenes (sluglines `EXT.`, `INT./EXT.`) as terrain
/// landscapes and hands everything else (interiors, portraits, keyframes, consistency) to the
/// inner model.
pub struct TerrainImages {
    terrain: Arc<TerrainModel>,
    inner: Arc<dyn ImageModel>,
}

impl TerrainImages {
    /// Terrain for outdoor scenes, `inner` for the rest.
    pub fn new(terrain: Arc<TerrainModel>, inner: Arc<dyn ImageModel>) -> Self {
        TerrainImages { terrain, inner }
    }
}

impl std::fmt::Debug for TerrainImages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerrainImages")
            .field("terrain", &self.terrain.name())
            .field("inner", &self.inner.generator(0).model)
            .finish()
    }
}

/// Whether a slugline heads an outdoor scene: it starts `EXT`, `EXT.`, `INT./EXT.`, `EXT./INT.`
/// or `I/E`, in any case.
pub fn is_outdoor(slugline: &str) -> bool {
    let first = slugline
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(
        first.trim_end_matches('.'),
        "EXT" | "INT./EXT" | "INT/EXT" | "EXT./INT" | "EXT/INT" | "I/E"
    )
}

/// The terrain a scene's words call for: the model's difficulty (how rough) and how it is drawn.
/// Mountains are rough and tall, coasts low with much water, fields flat; a scene that names
/// none of them gets rolling hills.
fn terrain_of(scene: &Scene) -> (u32, Look) {
    const RUGGED: &[&str] = &[
        "mountain",
        "mountains",
        "peak",
        "peaks",
        "cliff",
        "cliffs",
        "ridge",
        "canyon",
        "crag",
        "summit",
        "rocky",
        "volcano",
        "glacier",
        "gorge",
        "pass",
    ];
    const COAST: &[&str] = &[
        "beach",
        "shore",
        "coast",
        "harbour",
        "harbor",
        "bay",
        "lake",
        "sea",
        "island",
        "pier",
        "dock",
        "river",
        "cove",
        "lighthouse",
    ];
    const HILLY: &[&str] = &[
        "hill",
        "hills",
        "valley",
        "forest",
        "woods",
        "moor",
        "highlands",
        "trail",
    ];
    const FLAT: &[&str] = &[
        "field", "fields", "meadow", "plain", "plains", "farm", "park", "garden", "desert",
    ];
    let text = format!("{} {} {}", scene.slugline, scene.location, scene.description).to_ascii_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphabetic()).collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
    let sky = Sky::of_time(&scene.time_of_day);
    let (difficulty, relief, water) = if has(RUGGED) {
        (95, 55.0, 0.05)
    } else if has(COAST) {
        (15, 16.0, 0.42)
    } else if has(HILLY) {
        (50, 28.0, 0.10)
    } else if has(FLAT) {
        (5, 12.0, 0.06)
    } else {
        (35, 24.0, 0.12)
    };
    (difficulty, Look { sky, relief, water })
}

impl ImageModel for TerrainImages {
    /// The inner model's, with the terrain model added: `procedural` + `onnx`,
    /// `procedural-image-1+terrain`.
    fn generator(&self, seed: u64) -> Generator {
        let inner = self.inner.generator(seed);
        Generator {
            backend: format!("{}+onnx", inner.backend),
            model: format!("{}+{}", inner.model, self.terrain.name()),
            seed,
        }
    }

    fn portrait(&self, character: &Character, view: View, settings: &Settings, seed: u64) -> BackendResult<RgbImage> {
        self.inner.portrait(character, view, settings, seed)
    }

    /// Outdoor scenes: the terrain of the scene's seed (the episode's seed and the scene's id)
    /// and words (rough mountains, watery coasts), under the sky of its time of day. Others: the
    /// inner model's.
    fn scene(&self, scene: &Scene, settings: &Settings, seed: u64) -> BackendResult<RgbImage> {
        if !is_outdoor(&scene.slugline) {
            return self.inner.scene(scene, settings, seed);
        }
        Settings::validate_size(settings.width, settings.height).map_err(|e| BackendError::Invalid(e.to_string()))?;
        let (difficulty, look) = terrain_of(scene);
        let terrain_seed = Rng::derive(seed, &scene.id).next_u64();
        let heights = self
            .terrain
            .heightmap(terrain_seed, difficulty)
            .map_err(|e| BackendError::Failed(format!("terrain: {e}")))?;
        Ok(landscape(heights.view(), look, settings.width, settings.height))
    }

    fn keyframe(
        &self,
        shot: &Shot,
        background: &RgbImage,
        cast: &[(&Character, &RgbImage)],
        settings: &Settings,
        seed: u64,
    ) -> BackendResult<RgbImage> {
        self.inner.keyframe(shot, background, cast, settings, seed)
    }

    fn consistency(&self, keyframe: &RgbImage, shot: &Shot, cast: &[(&Character, &RgbImage)]) -> f64 {
        self.inner.consistency(keyframe, shot, cast)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outdoor_sluglines() {
        for outdoor in [
            "EXT. HARBOUR - NIGHT",
            "ext. beach",
            "EXT HILLS",
            "INT./EXT. CAR - DAY",
            "I/E VAN",
        ] {
            assert!(is_outdoor(outdoor), "{outdoor}");
        }
        for indoor in ["INT. KITCHEN - DAY", "EXTRA SCENE", "", "int. ext. hall"] {
            assert!(!is_outdoor(indoor), "{indoor}");
        }
    }

    #[test]
    fn mountains_are_rough_and_coasts_wet() {
        let scene = |slugline: &str, location: &str| Scene {
            id: "s1".into(),
            slugline: slugline.into(),
            location: location.into(),
            time_of_day: slugline.rsplit(' ').next().unwrap_or_default().into(),
            description: String::new(),
            character_ids: vec![],
            script: vec![],
            transition: None,
            generated_by: Generator {
                backend: "test".into(),
                model: "test".into(),
                seed: 0,
            },
        };
        let mountain = terrain_of(&scene("EXT. MOUNTAIN PASS - DAY", "Mountain pass"));
        let forest = terrain_of(&scene("EXT. FOREST - DAY", "Forest"));
        let beach = terrain_of(&scene("EXT. BEACH - NIGHT", "Beach"));
        assert!(
            mountain.0 > forest.0 && forest.0 > beach.0,
            "{mountain:?} {forest:?} {beach:?}"
        );
        assert!(mountain.1.relief > forest.1.relief && beach.1.water > forest.1.water);
        assert_eq!((mountain.1.sky, beach.1.sky), (Sky::Day, Sky::Night));
    }
}
