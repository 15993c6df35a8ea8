//! What a person's edit must agree with in its episode, beyond its type: ids that must name a
//! scene or a character the episode has, ids that must be unique, a line spoken in a shot that
//! shows its speaker. Each check names the path of the first field that does not agree
//! (`[2].character_ids[0]`), as a type error does.

use std::collections::HashSet;

use showrunner_engine::ValueError;

use crate::model::{Character, Scene, Shot};

fn error(path: String, reason: String) -> ValueError {
    ValueError { path, reason }
}

/// `ids` for a message: at most eight, comma-separated, or "none".
fn listed<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.collect();
    match ids.len() {
        0 => "none".to_owned(),
        n if n > 8 => format!("{}, … ({n} in all)", ids[..8].join(", ")),
        _ => ids.join(", "),
    }
}

/// Each of `ids` (the field at `path` of each) is used once.
fn unique<'a>(ids: impl Iterator<Item = (String, &'a str)>, what: &str) -> Result<(), ValueError> {
    let mut seen = HashSet::new();
    for (path, id) in ids {
        if id.trim().is_empty() {
            return Err(error(path, format!("a {what} needs an id")));
        }
        if !seen.insert(id) {
            return Err(error(path, format!("{what} id `{id}` is used twice")));
        }
    }
    Ok(())
}

/// A cast's ids are unique and not blank.
pub fn check_cast(cast: &[Character]) -> Result<(), ValueError> {
    unique(
        cast.iter()
            .enumerate()
            .map(|(k, c)| (format!("[{k}].id"), c.id.as_str())),
        "character",
    )
}

/// A character id that must be in `cast`.
fn known_character(cast: &[Character], id: &str, path: String) -> Result<(), ValueError> {
    if cast.iter().any(|c| c.id == id) {
        return Ok(());
    }
    Err(error(
        path,
        format!(
            "no character `{id}` in this episode (its characters: {})",
            listed(cast.iter().map(|c| c.id.as_str()))
        ),
    ))
}

/// Scenes have unique ids, and the characters in them and their lines' speakers are in `cast`.
pub fn check_scenes(scenes: &[Scene], cast: &[Character]) -> Result<(), ValueError> {
    unique(
        scenes
            .iter()
            .enumerate()
            .map(|(k, s)| (format!("[{k}].id"), s.id.as_str())),
        "scene",
    )?;
    for (k, scene) in scenes.iter().enumerate() {
        for (j, id) in scene.character_ids.iter().enumerate() {
            known_character(cast, id, format!("[{k}].character_ids[{j}]"))?;
        }
        for (j, line) in scene.script.iter().enumerate() {
            known_character(cast, &line.character_id, format!("[{k}].script[{j}].character_id"))?;
        }
    }
    Ok(())
}

/// Shots have unique ids and a length, belong to one of `scenes`, show characters of `cast`,
/// and every line is spoken by someone the shot shows.
pub fn check_storyboard(shots: &[Shot], scenes: &[Scene], cast: &[Character]) -> Result<(), ValueError> {
    unique(
        shots
            .iter()
            .enumerate()
            .map(|(k, s)| (format!("[{k}].id"), s.id.as_str())),
        "shot",
    )?;
    for (k, shot) in shots.iter().enumerate() {
        if !scenes.iter().any(|s| s.id == shot.scene_id) {
            return Err(error(
                format!("[{k}].scene_id"),
                format!(
                    "no scene `{}` in this episode (its scenes: {})",
                    shot.scene_id,
                    listed(scenes.iter().map(|s| s.id.as_str()))
                ),
            ));
        }
        if !(shot.duration_s.is_finite() && shot.duration_s > 0.0) {
            return Err(error(
                format!("[{k}].duration_s"),
                format!("a shot lasts more than 0 seconds, not {}", shot.duration_s),
            ));
        }
        for (j, id) in shot.character_ids.iter().enumerate() {
            known_character(cast, id, format!("[{k}].character_ids[{j}]"))?;
        }
        for (j, line) in shot.dialogue.iter().enumerate() {
            let path = format!("[{k}].dialogue[{j}].character_id");
            known_character(cast, &line.character_id, path.clone())?;
            if !shot.character_ids.contains(&line.character_id) {
                return Err(error(
                    path,
                    format!(
                        "`{}` speaks in shot `{}` but is not in it: add them to its character_ids",
                        line.character_id, shot.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::{ScriptLine, Transition};

    fn cast() -> Vec<Character> {
        vec![
            fixtures::character("mara", "a face", "tall", "a coat", &[]),
            fixtures::character("ossie", "a face", "short", "a hat", &[]),
        ]
    }

    fn scene(id: &str) -> Scene {
        Scene {
            id: id.into(),
            slugline: "INT. ROOM - DAY".into(),
            location: "Room".into(),
            time_of_day: "day".into(),
            description: String::new(),
            character_ids: fixtures::ids(&["mara"]),
            script: vec![ScriptLine {
                character_id: "mara".into(),
                line: "Hello.".into(),
            }],
            transition: Some(Transition::Cut),
            generated_by: fixtures::generator(),
        }
    }

    fn shot(id: &str) -> Shot {
        Shot {
            scene_id: "scene-1".into(),
            character_ids: fixtures::ids(&["mara"]),
            dialogue: vec![ScriptLine {
                character_id: "mara".into(),
                line: "Hello.".into(),
            }],
            ..fixtures::shot(id)
        }
    }

    #[test]
    fn a_storyboard_that_agrees_with_its_episode_passes() {
        let shots = [shot("a"), shot("b")];
        assert_eq!(check_storyboard(&shots, &[scene("scene-1")], &cast()), Ok(()));
        assert_eq!(check_scenes(&[scene("scene-1")], &cast()), Ok(()));
        assert_eq!(check_cast(&cast()), Ok(()));
    }

    #[test]
    fn each_disagreement_names_its_field() {
        let scenes = [scene("scene-1")];
        let check = |shots: &[Shot]| check_storyboard(shots, &scenes, &cast()).expect_err("refused");
        let mut nobody = shot("a");
        nobody.character_ids = fixtures::ids(&["mara", "nobody"]);
        let e = check(&[shot("x"), nobody]);
        assert_eq!(e.path, "[1].character_ids[1]");
        assert!(
            e.reason.contains("no character `nobody`") && e.reason.contains("mara, ossie"),
            "{e}"
        );
        let mut elsewhere = shot("a");
        elsewhere.scene_id = "scene-9".into();
        assert_eq!(check(&[elsewhere]).path, "[0].scene_id");
        let mut unseen = shot("a");
        unseen.dialogue[0].character_id = "ossie".into();
        let e = check(&[unseen]);
        assert_eq!(e.path, "[0].dialogue[0].character_id");
        assert!(e.reason.contains("not in it"), "{e}");
        assert_eq!(check(&[shot("a"), shot("a")]).path, "[1].id");
        let mut still = shot("a");
        still.duration_s = 0.0;
        assert_eq!(check(&[still]).path, "[0].duration_s");
        let mut ghost = scene("scene-1");
        ghost.script[0].character_id = "ghost".into();
        assert_eq!(
            check_scenes(&[ghost], &cast()).expect_err("refused").path,
            "[0].script[0].character_id"
        );
        let mut twins = cast();
        twins[1].id = "mara".into();
        assert_eq!(check_cast(&twins).expect_err("refused").path, "[1].id");
    }
}
