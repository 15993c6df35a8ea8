//! The text side of a keyframe's consistency: does the shot's description describe the
//! characters it shows? The keyframe quality gate reads it together with the image side (how well
//! the drawn characters match their portraits, [`crate::backend::ImageModel::consistency`]).
//!
//! - The shot reads as its `visual_desc` and `first_frame_desc`; a character as its name, face,
//!   body, clothing and props ([`shot_text`], [`character_text`]).
//! - Each character's score is the cosine of the two embeddings mapped from `[-1, 1]` to
//!   `[0, 1]` (`(1 + cos) / 2`: unrelated text sits near one half); the shot's is the mean over
//!   its characters ([`text_consistency`]).
//! - The gate's score is the mean of the image and the text scores ([`combined`]). A mean, not
//!   the minimum: the embedder only ranks texts (MiniLM puts a matching pair near 0.7–0.8 and an
//!   unrelated one near 0.5), so as a veto it would fail every keyframe whose shot is written
//!   tersely; as half the score it lowers a keyframe whose shot is about something else below
//!   one whose shot describes its characters.

use crate::backend::{BackendResult, Embedder};
use crate::model::{Character, Shot};
use showrunner_procedural::embed::cosine;

/// What the shot says we see: its visual description and its first frame.
pub fn shot_text(shot: &Shot) -> String {
    format!("{}. {}", shot.visual_desc.trim(), shot.first_frame_desc.trim())
}

/// What a character looks like: name, face, body, clothing and props.
pub fn character_text(character: &Character) -> String {
    let mut parts = vec![
        character.name.trim(),
        character.static_features.face.trim(),
        character.static_features.body.trim(),
        character.dynamic_features.clothing.trim(),
    ];
    parts.extend(character.dynamic_features.props.iter().map(|p| p.trim()));
    parts.retain(|p| !p.is_empty());
    parts.join(", ")
}

/// How well the shot's description matches the descriptions of `characters` (the ones it
/// shows), in `[0, 1]`: the mean over the characters of `(1 + cos) / 2`. `None` when it shows
/// nobody. One call to the embedder for the shot and all its characters.
pub fn text_consistency(embedder: &dyn Embedder, shot: &Shot, characters: &[&Character]) -> BackendResult<Option<f64>> {
    if characters.is_empty() {
        return Ok(None);
    }
    let mut texts = vec![shot_text(shot)];
    texts.extend(characters.iter().map(|c| character_text(c)));
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&refs)?;
    let Some((shot_vector, character_vectors)) = vectors.split_first() else {
        return Ok(None);
    };
    let scores: Vec<f64> = character_vectors
        .iter()
        .map(|v| to_unit(cosine(shot_vector, v)))
        .collect();
    Ok((!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64))
}

/// The keyframe's score for the quality gate: the mean of the image and the text scores, or the
/// image score alone when there is no text score.
pub fn combined(image: f64, text: Option<f64>) -> f64 {
    match text {
        Some(text) => (image + text) / 2.0,
        None => image,
    }
}

/// A cosine in `[-1, 1]` as a score in `[0, 1]`.
fn to_unit(cos: f32) -> f64 {
    ((1.0 + f64::from(cos)) / 2.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Generator;
    use showrunner_procedural::embed::HashedEmbedder;
    use showrunner_story::fixtures;

    fn generator() -> Generator {
        Generator {
            backend: "test".into(),
            model: "test".into(),
            seed: 0,
        }
    }

    fn character(id: &str, name: &str, face: &str, clothing: &str, props: &[&str]) -> Character {
        Character {
            name: name.into(),
            personality: "calm".into(),
            ..fixtures::character(id, face, "tall", clothing, props)
        }
    }

    fn shot(visual: &str, first_frame: &str, ids: &[&str]) -> Shot {
        Shot {
            scene_id: "s1".into(),
            visual_desc: visual.into(),
            first_frame_desc: first_frame.into(),
            motion_desc: "static".into(),
            character_ids: fixtures::ids(ids),
            ..fixtures::shot("s1-shot-1")
        }
    }

    #[test]
    fn texts_name_what_is_seen() {
        let mara = character(
            "mara",
            "Mara",
            "round face, freckles",
            "a red raincoat",
            &["a lantern", " "],
        );
        assert_eq!(
            character_text(&mara),
            "Mara, round face, freckles, tall, a red raincoat, a lantern"
        );
        let s = shot(" Medium of mara ", "mara, night", &["mara"]);
        assert_eq!(shot_text(&s), "Medium of mara. mara, night");
    }

    #[test]
    fn a_shot_describing_its_character_scores_higher() {
        let mara = character("mara", "Mara", "round face, freckles", "a red raincoat", &["a lantern"]);
        let about = shot(
            "Mara in her red raincoat raises the lantern",
            "Mara, freckles lit by the lantern",
            &["mara"],
        );
        let elsewhere = shot("Waves break on the empty pier", "grey sea, gulls", &["mara"]);
        let score = |s: &Shot| {
            text_consistency(&HashedEmbedder, s, &[&mara])
                .expect("embed")
                .expect("a score")
        };
        let (good, bad) = (score(&about), score(&elsewhere));
        assert!((0.0..=1.0).contains(&good) && (0.0..=1.0).contains(&bad));
        assert!(good > bad + 0.1, "about {good}, elsewhere {bad}");
    }

    #[test]
    fn nobody_in_shot_has_no_text_score_and_the_image_score_stands() {
        let s = shot("An empty street", "rain", &[]);
        assert_eq!(text_consistency(&HashedEmbedder, &s, &[]).expect("embed"), None);
        assert_eq!(combined(0.8, None), 0.8);
        assert_eq!(combined(0.8, Some(0.6)), 0.7);
    }

    #[test]
    fn a_keyframe_stored_before_the_scores_were_kept_apart_still_loads() {
        let stored = serde_json::json!({
            "shot": shot("Medium of mara", "mara, night", &["mara"]),
            "image": format!("blob:{}", "0".repeat(64)),
            "consistency": 0.83,
            "generated_by": generator(),
        });
        let keyframe: crate::model::Keyframe = serde_json::from_value(stored).expect("an old keyframe loads");
        assert_eq!(keyframe.consistency, 0.83);
        assert_eq!((keyframe.image_consistency, keyframe.text_consistency), (None, None));
        let written = serde_json::to_value(&keyframe).expect("json");
        assert!(written.get("text_consistency").is_none(), "{written}");
    }

    #[test]
    fn cosines_map_into_the_unit_interval() {
        assert_eq!(to_unit(1.0), 1.0);
        assert_eq!(to_unit(-1.0), 0.0);
        assert_eq!(to_unit(0.0), 0.5);
        assert_eq!(to_unit(1.5), 1.0);
    }
}
