//! The non-human beings' portraits: drawn as their kind, coloured as described, dressed in the
//! outfit's colour only where the outfit is.

use std::collections::HashSet;

use image::RgbImage;
use showrunner_backend::View;
use showrunner_story::model::Character;

use super::BACKDROP;
use super::look::{features, outfit};
use super::tests::{TestResult, count, differing, person, portrait};
use super::words::named_colour;
use crate::raster::Rgb;

/// Kinds with their own body plan, one or more of each.
const KINDS: [&str; 13] = [
    "robot", "android", "whale", "shark", "octopus", "turtle", "fox", "dog", "rabbit", "bear", "unicorn", "owl",
    "penguin",
];

fn described(body: &str, clothing: &str) -> Character {
    person(
        "pip",
        "round face, freckles, dark eyes, red hair",
        body,
        clothing,
        &["a lantern"],
    )
}

fn being(kind: &str) -> Character {
    described(&format!("a {kind}, short and sturdy"), "a green apron")
}

/// The pixels unlike the backdrop.
fn silhouette(img: &RgbImage) -> Vec<bool> {
    let q = |v: f32| v * 255.0;
    let back = [q(BACKDROP.0), q(BACKDROP.1), q(BACKDROP.2)];
    img.pixels()
        .map(|p| (0..3).map(|i| (f32::from(p.0[i]) - back[i]).powi(2)).sum::<f32>() > 650.0)
        .collect()
}

/// Intersection over union of two silhouettes.
fn overlap(a: &[bool], b: &[bool]) -> f64 {
    let both = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let either = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    both as f64 / either.max(1) as f64
}

/// Kinds with a person's outline, told apart by what fills it.
const HUMANOID: [&str; 2] = ["robot", "android"];

#[test]
fn other_kinds_are_not_drawn_as_people() -> TestResult {
    let human = described("short and sturdy", "a green apron");
    let skin = features(&human).skin;
    for view in View::ALL {
        let person = silhouette(&portrait(&human, view)?);
        let mut seen: Vec<RgbImage> = Vec::new();
        for kind in KINDS {
            let img = portrait(&being(kind), view)?;
            assert_eq!(count(&img, skin), 0, "{kind} {view:?}: a person's skin");
            let shared = overlap(&person, &silhouette(&img));
            if !HUMANOID.contains(&kind) {
                assert!(shared < 0.7, "{kind} {view:?}: {shared:.2} of a person's outline");
            }
            for other in &seen {
                assert!(
                    differing(other, &img).len() > 3000,
                    "{kind} {view:?} looks like another kind"
                );
            }
            seen.push(img);
        }
    }
    Ok(())
}

#[test]
fn a_robot_has_plating_and_lamp_eyes() -> TestResult {
    let robot = being("robot");
    let plate = Rgb(0.62, 0.66, 0.7);
    for view in View::ALL {
        let img = portrait(&robot, view)?;
        let plating = count(&img, plate);
        assert!(plating > 1500, "{view:?}: {plating} pixels of plating");
        assert!(count(&img, outfit(&robot).clothing) > 1000, "{view:?}: the apron");
    }
    Ok(())
}

#[test]
fn a_kind_only_compared_to_is_a_person() -> TestResult {
    let built = described("built like a bear, tall", "a green apron");
    assert!(count(&portrait(&built, View::Front)?, features(&built).skin) > 50);
    let bear = described("tall, a bear", "a green apron");
    assert_eq!(count(&portrait(&bear, View::Front)?, features(&bear).skin), 0);
    Ok(())
}

#[test]
fn the_hide_takes_a_described_colour_but_not_the_eyes_or_hair() -> TestResult {
    let grey = named_colour("grey").ok_or("grey")?;
    let whale = |body: &str, face: &str| person("tom", face, body, "a green scarf", &[]);
    let plain = portrait(&whale("a whale", "blue eyes, red hair"), View::Side)?;
    let described = portrait(&whale("a grey whale", "blue eyes, red hair"), View::Side)?;
    assert!(count(&described, grey) > 5000);
    assert_eq!(count(&plain, grey), 0);
    let (blue, red) = (named_colour("blue").ok_or("blue")?, named_colour("red").ok_or("red")?);
    assert!(
        count(&plain, blue) < 100 && count(&plain, red) < 100,
        "eyes and hair are not the hide"
    );
    Ok(())
}

#[test]
fn a_beings_clothing_edit_changes_clothing_pixels_only() -> TestResult {
    for kind in ["robot", "whale", "fox", "owl", "octopus"] {
        let before = being(kind);
        let mut after = being(kind);
        after.dynamic_features.clothing = "a red apron".into();
        let colours = [outfit(&before).clothing, outfit(&after).clothing];
        for view in View::ALL {
            let (x, y) = (portrait(&before, view)?, portrait(&after, view)?);
            let changed = differing(&x, &y);
            assert!(
                changed.len() > 300,
                "{kind} {view:?}: only {} pixels changed",
                changed.len()
            );
            let clothing: HashSet<(i64, i64)> = [(&x, colours[0]), (&y, colours[1])]
                .into_iter()
                .flat_map(|(img, colour)| at(img, colour))
                .collect();
            let near = |(px, py): (u32, u32)| {
                (-3..=3).any(|dx| (-3..=3).any(|dy| clothing.contains(&(i64::from(px) + dx, i64::from(py) + dy))))
            };
            let stray = changed.iter().filter(|p| !near(**p)).count();
            assert_eq!(
                stray, 0,
                "{kind} {view:?}: {stray} pixels changed away from the clothing"
            );
        }
    }
    Ok(())
}

/// Where an image has exactly this colour.
fn at(img: &RgbImage, colour: Rgb) -> Vec<(i64, i64)> {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    let target = [q(colour.0), q(colour.1), q(colour.2)];
    img.enumerate_pixels()
        .filter(|(_, _, p)| p.0 == target)
        .map(|(x, y, _)| (i64::from(x), i64::from(y)))
        .collect()
}
