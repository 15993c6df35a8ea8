//! Regenerates with a note that change only what the note asks. When a regenerate's note states
//! facts the rules read ([`showrunner_story::facts`]: a character's age or clothing, a newly named
//! character, the time of day, the weather, the place) and the stage's inputs have not changed,
//! the version being regenerated (the engine's [`PREVIOUS`](showrunner_engine::PREVIOUS)) is
//! revised in place: everything else stays exactly as it was. Any other note goes to the text
//! backend, which writes a new version with the note as a constraint.

use showrunner_procedural::text::describe;
use showrunner_story::facts::{Facts, move_scene, read, without_weather};
use showrunner_story::model::{Brief, Character, Generator, Scene};
use showrunner_story::slug;

/// `previous` revised by `note`, or `None` when the note states nothing of a character.
pub fn revise_cast(brief: &Brief, previous: &[Character], note: &str, seed: u64) -> Option<Vec<Character>> {
    let said = read(note, None);
    let names: Vec<&str> = previous.iter().map(|c| c.name.as_str()).collect();
    // The note states something of someone (an age, clothing, a kind, a trait), or names someone
    // new; a note that only names a character ("Mara should be grumpier") is the backend's.
    let new_name = |p: &showrunner_story::facts::Person| {
        p.name
            .as_deref()
            .is_some_and(|n| !names.iter().any(|known| slug(known) == slug(n)))
    };
    // What `notes` counts as read at the characters stage: a kind only with a name.
    let states = |p: &showrunner_story::facts::Person| {
        p.age.is_some()
            || p.clothing.is_some()
            || p.occupation.is_some()
            || !p.traits.is_empty()
            || (p.kind.is_some() && p.name.is_some())
    };
    if !said.people.iter().any(|p| states(p) || new_name(p)) {
        return None;
    }
    let mut cast = previous.to_vec();
    for person in &said.people {
        let Some(name) = &person.name else { continue };
        if names.iter().any(|n| slug(n) == slug(name)) {
            continue;
        }
        cast.push(newcomer(name, seed));
    }
    Facts::of_brief(brief).with_note(Some(note)).apply_cast(&mut cast);
    // Only what the note stated changes: the brief's facts were already applied to `previous`,
    // so re-applying them leaves the rest as it was.
    Some(cast)
}

/// A newly named character, drawn by the procedural describer.
pub fn newcomer(name: &str, seed: u64) -> Character {
    let generator = Generator {
        backend: "procedural".into(),
        model: showrunner_procedural::text::MODEL.into(),
        seed,
    };
    describe(name, "a newcomer", None, seed, generator)
}

/// `previous` revised by `note`, or `None` when the note states no time, weather or place.
pub fn revise_scenes(previous: &[Scene], note: &str) -> Option<Vec<Scene>> {
    let said = read(note, None);
    if said.time_of_day.is_none() && said.weather.is_none() && said.place.is_none() {
        return None;
    }
    let mut scenes = previous.to_vec();
    if said.place.is_some() {
        for (k, scene) in scenes.iter_mut().enumerate() {
            if let Some((location, interior)) = said.location(k) {
                move_scene(scene, location, interior);
            }
        }
    }
    if said.weather.is_some() {
        // A new weather replaces the old one's opening.
        for scene in &mut scenes {
            scene.description = without_weather(&scene.description).to_owned();
        }
    }
    // Only what the note states: the brief's facts were applied to `previous` already, and a
    // person may have edited a scene since (its place was moved above when the note names one).
    Facts {
        people: Vec::new(),
        place: None,
        ..said
    }
    .apply_scenes(&mut scenes);
    Some(scenes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use showrunner_story::fixtures;
    use showrunner_story::model::Settings;

    fn brief() -> Brief {
        Brief {
            idea: Some("a lighthouse keeper vanishes".into()),
            script: None,
            settings: Settings::default(),
            series: None,
        }
    }

    #[test]
    fn only_notes_that_state_something_are_revised_here() {
        let mut mara = fixtures::character("mara", "round face", "tall", "a coat", &[]);
        mara.name = "Mara".into();
        let cast = vec![mara];
        assert_eq!(
            revise_cast(&brief(), &cast, "Mara should be grumpier", 1),
            None,
            "the backend's"
        );
        let older = revise_cast(&brief(), &cast, "make Mara older", 1).expect("revised");
        assert!(older[0].static_features.face.starts_with("old"), "{older:?}");
        let joined = revise_cast(&brief(), &cast, "add a fox named Pip", 1).expect("revised");
        assert_eq!(joined.len(), 2);
        assert_eq!(joined[1].name, "Pip");
        assert!(joined[1].static_features.body.starts_with("a fox"), "{joined:?}");
    }
}
