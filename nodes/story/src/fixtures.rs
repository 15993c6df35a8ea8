//! Sample records for tests and benches (the `fixtures` feature): a shot and a character with
//! every field filled with something plain, to adjust with struct update syntax —
//! `Shot { duration_s: 3.0, ..fixtures::shot("s1") }` — so that a test names only what it is
//! about.

use crate::model::{Angle, Camera, Character, DynamicFeatures, Generator, Movement, Shot, ShotType, StaticFeatures};

/// The generator of the fixtures: backend and model `test`, seed 0.
pub fn generator() -> Generator {
    Generator {
        backend: "test".into(),
        model: "test".into(),
        seed: 0,
    }
}

/// Owned ids from string slices, for `character_ids`.
pub fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// Shot `id` of scene `scene-1`: medium, eye level, static, 2 s, seed 1, with no one in it and
/// nothing described.
pub fn shot(id: &str) -> Shot {
    Shot {
        id: id.into(),
        scene_id: "scene-1".into(),
        camera: Camera {
            shot_type: ShotType::Medium,
            angle: Angle::EyeLevel,
            movement: Movement::Static,
        },
        duration_s: 2.0,
        visual_desc: String::new(),
        dialogue: Vec::new(),
        first_frame_desc: String::new(),
        last_frame_desc: None,
        motion_desc: String::new(),
        character_ids: Vec::new(),
        seed: 1,
        transition: None,
        generated_by: generator(),
    }
}

/// The protagonist `id`, named after its id, with the look given (face, body, clothing, props)
/// and everything else plain.
pub fn character(id: &str, face: &str, body: &str, clothing: &str, props: &[&str]) -> Character {
    Character {
        id: id.into(),
        name: id.into(),
        role: "the protagonist".into(),
        static_features: StaticFeatures {
            face: face.into(),
            body: body.into(),
        },
        dynamic_features: DynamicFeatures {
            clothing: clothing.into(),
            props: ids(props),
        },
        personality: String::new(),
        voice: None,
        reference_images: Vec::new(),
        generated_by: generator(),
    }
}
