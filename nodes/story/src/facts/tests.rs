//! Facts read from ideas, notes and screenplays, and applied to casts and scenes.

use super::*;
use crate::fixtures;
use crate::fountain::parse;

fn lead(text: &str) -> Person {
    read(text, None).people.into_iter().next().unwrap_or_default()
}

/// A daytime scene in a park, where two meet.
fn park() -> crate::model::Scene {
    crate::model::Scene {
        id: "scene-1".into(),
        slugline: "EXT. PARK - DAY".into(),
        location: "Park".into(),
        time_of_day: "day".into(),
        description: "They meet.".into(),
        character_ids: Vec::new(),
        script: Vec::new(),
        transition: None,
        generated_by: fixtures::generator(),
    }
}

#[test]
fn an_idea_states_its_lead_time_weather_and_place() {
    let facts = read("a shy robot baker who loses her recipe the night before the fair", None);
    let p = &facts.people[0];
    assert_eq!(p.kind.as_deref(), Some("robot"));
    assert_eq!(p.occupation.as_deref(), Some("baker"));
    assert_eq!(p.traits, ["shy"]);
    assert_eq!(p.pronoun, Some(Pronoun::She));
    assert_eq!(p.name, None);
    assert_eq!(facts.time_of_day, Some("night"));

    let whale = read("a whale in a storm", None);
    assert_eq!(whale.people[0].kind.as_deref(), Some("whale"));
    assert_eq!(whale.weather, Some("storm"));
    assert_eq!(
        whale.place.map(|p| p.location),
        Some("OPEN SEA"),
        "a whale's story is at sea"
    );

    let keeper = read("an old lighthouse keeper named Elias watches the sea at dawn", None);
    let p = &keeper.people[0];
    assert_eq!((p.name.as_deref(), p.age.as_deref()), (Some("Elias"), Some("old")));
    assert_eq!(keeper.time_of_day, Some("dawn"));
    assert_eq!(keeper.place.map(|p| p.location), Some("LIGHTHOUSE"));

    let two = read("Mara and Tobias race across the city", None);
    assert_eq!(two.names(), ["Mara", "Tobias"]);
    assert_eq!(two.place.map(|p| p.location), Some("CITY STREET"));

    let named = read(
        "a whale named Old Tom sings to a 17-year-old girl in a yellow raincoat",
        None,
    );
    assert_eq!(named.people[0].name.as_deref(), Some("Old Tom"));
    assert_eq!(named.people[0].clothing.as_deref(), Some("a yellow raincoat"));
    assert_eq!(lead("The 70-year-old baker bakes").age.as_deref(), Some("70"));
    assert!(read("", None).people.is_empty());
}

#[test]
fn a_screenplay_states_each_characters_introduction() {
    let play = parse(
        "EXT. PIER - NIGHT\n\nRain. LEO (17), soaked hoodie, runs. AGNES in a yellow oilskin follows. She shouts.\n\n\
         CLEOPATRA watches.\n\nLEO\nWait!\n\nAGNES\nNo.\n",
    )
    .expect("parses");
    let facts = Facts::of_screenplay(&play);
    let leo = facts.person("LEO", false).expect("Leo");
    assert_eq!(leo.age.as_deref(), Some("17"));
    assert_eq!(leo.clothing.as_deref(), Some("a soaked hoodie"));
    let agnes = facts.person("Agnes", false).expect("Agnes");
    assert_eq!(agnes.clothing.as_deref(), Some("a yellow oilskin"));
    assert_eq!(agnes.pronoun, Some(Pronoun::She));
    assert_eq!(facts.time_of_day, None, "the headings say when");
}

#[test]
fn a_note_changes_only_what_it_states() {
    let facts = read("a whale in a storm", None).with_note(Some("at night, and make the hero older"));
    assert_eq!(facts.time_of_day, Some("night"));
    assert_eq!(facts.weather, Some("storm"), "kept");
    assert_eq!(facts.people[0].age.as_deref(), Some("old"));
    assert_eq!(facts.people[0].kind.as_deref(), Some("whale"), "kept");
    let scarf = read("Mara and Tobias", None).with_note(Some("Tobias should wear a blue scarf"));
    assert_eq!(
        scarf.person("Tobias", false).and_then(|p| p.clothing.as_deref()),
        Some("a blue scarf")
    );
    assert_eq!(scarf.person("Mara", true).and_then(|p| p.clothing.as_deref()), None);
}

#[test]
fn facts_reach_the_cast_and_the_scenes() {
    let facts = read(
        "a shy robot baker named Pip in a green apron bakes at dawn while snow falls",
        None,
    );
    let mut cast = vec![
        fixtures::character("pip", "round face", "tall", "a red coat", &[]),
        fixtures::character("ossie", "long face", "short", "a grey jumper", &[]),
    ];
    cast[0].name = "Pip".into();
    cast[1].name = "Ossie".into();
    facts.apply_cast(&mut cast);
    assert_eq!(cast[0].dynamic_features.clothing, "a green apron");
    assert!(cast[0].static_features.body.starts_with("a robot"), "{:?}", cast[0]);
    assert!(cast[0].personality.contains("shy"));
    assert_eq!(cast[1].dynamic_features.clothing, "a grey jumper", "untouched");
    let mut scene = park();
    facts.apply_scenes(std::slice::from_mut(&mut scene));
    // The story opens where the idea sets it, at the time it states.
    assert_eq!(
        (
            scene.time_of_day.as_str(),
            scene.slugline.as_str(),
            scene.location.as_str()
        ),
        ("dawn", "INT. BAKERY - DAWN", "Bakery")
    );
    assert!(scene.description.starts_with("Snow falls"), "{}", scene.description);
    assert_eq!(facts.location(0), Some(("BAKERY", true)));
    assert_eq!(facts.location(1), Some(("CITY STREET", false)));
}

#[test]
fn a_second_being_in_an_idea_is_its_own_character() {
    let facts = read(
        "a shy robot baker and an old whale named Tom become friends; the robot bakes",
        None,
    );
    let kinds: Vec<_> = facts
        .people
        .iter()
        .map(|p| (p.kind.as_deref(), p.name.as_deref()))
        .collect();
    assert_eq!(kinds, [(Some("robot"), None), (Some("whale"), Some("Tom"))]);
    assert_eq!(facts.people[1].age.as_deref(), Some("old"));
    let keeper = read("a lighthouse keeper befriends a whale", None);
    let kinds: Vec<_> = keeper
        .people
        .iter()
        .map(|p| (p.kind.as_deref(), p.occupation.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [(None, Some("keeper")), (Some("whale"), None)],
        "the verb's object is not the lead"
    );
    // The cast takes the names first: Tom leads the cast, the robot is the next character.
    let mut cast = vec![
        fixtures::character("tom", "round face", "tall", "a red coat", &[]),
        fixtures::character("ossie", "long face", "short", "a grey jumper", &[]),
    ];
    cast[0].name = "Tom".into();
    cast[1].name = "Ossie".into();
    facts.apply_cast(&mut cast);
    assert!(cast[0].static_features.body.starts_with("a whale"), "{:?}", cast[0]);
    assert!(cast[1].static_features.body.starts_with("a robot"), "{:?}", cast[1]);
    assert!(cast[1].role.contains("baker") && cast[1].personality.contains("shy"));
}

#[test]
fn an_apposed_name_a_snowstorm_and_a_cape() {
    let priya = read("Priya, a 12-year-old inventor, builds a robot", None);
    assert_eq!(priya.people[0].name.as_deref(), Some("Priya"));
    assert_eq!(priya.people[0].age.as_deref(), Some("12"));
    assert_eq!(read("she sails through a snowstorm", None).weather, Some("snow"));
    assert_eq!(
        lead("a brave mouse in a red cape").clothing.as_deref(),
        Some("a red cape")
    );
}

#[test]
fn places_are_not_people_and_notes_age_a_named_character() {
    let facts = read("a detective in New York chases a thief to Paris", None);
    assert!(facts.names().is_empty(), "{:?}", facts.people);
    let older = read("make Mara older", None);
    assert_eq!(older.people[0].name.as_deref(), Some("Mara"));
    assert_eq!(older.people[0].age.as_deref(), Some("old"));
}

#[test]
fn repeated_notes_do_not_stack_ages_pronouns_or_weather() {
    let mut cast = vec![fixtures::character("mara", "round face", "tall", "a coat", &[])];
    cast[0].name = "Mara".into();
    read("Mara, aged 17, she", None).apply_cast(&mut cast);
    read("Mara, aged 30, he", None).apply_cast(&mut cast);
    assert_eq!(cast[0].static_features.face, "30 years old, round face");
    assert_eq!(cast[0].role.matches('/').count(), 1, "{}", cast[0].role);
    let mut scene = park();
    read("in the rain", None).apply_scenes(std::slice::from_mut(&mut scene));
    read("in the snow", None).apply_scenes(std::slice::from_mut(&mut scene));
    assert_eq!(scene.description, "Snow falls. They meet.");
}

#[test]
fn an_introduction_ends_at_the_next_name() {
    let play =
        parse("INT. LAB - DAY\n\nLEO (17) waves at MAYA. She glares at the robot.\n\nLEO\nHi.\n").expect("parses");
    let leo = Facts::of_screenplay(&play).person("LEO", false).cloned().expect("Leo");
    assert_eq!(leo.age.as_deref(), Some("17"));
    assert_eq!((leo.pronoun, leo.kind), (None, None));
}
