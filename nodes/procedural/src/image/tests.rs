//! The procedural image backend's tests: looks, portraits, scenes, keyframes, consistency.

use image::RgbImage;
use showrunner_backend::{BackendError, BackendResult, ImageModel, View};
use showrunner_story::model::{Angle, Camera, Character, Generator, Scene, Settings, Shot, ShotType};

use super::face::EYE_WHITE;
use super::look::{features, outfit};
use super::portrait::Body;
use super::{MODEL, OUTLINE, PORTRAIT_HEIGHT, PORTRAIT_WIDTH, ProceduralImages};
use crate::raster::Rgb;

use showrunner_media::png::encode_png;
use showrunner_story::fixtures;
use showrunner_story::model::Movement;

pub(super) type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn generator() -> Generator {
    ProceduralImages.generator(0)
}

pub(super) fn person(id: &str, face: &str, body: &str, clothing: &str, props: &[&str]) -> Character {
    Character {
        personality: "stubborn and kind".into(),
        generated_by: generator(),
        ..fixtures::character(id, face, body, clothing, props)
    }
}

fn mara() -> Character {
    person(
        "mara",
        "round face, freckles, dark eyes, red hair",
        "short and sturdy",
        "a yellow raincoat",
        &["a lantern"],
    )
}

fn ossie() -> Character {
    person(
        "ossie",
        "long face, sharp nose, blue eyes, black hair",
        "tall and wiry",
        "a blue jacket",
        &["a notebook"],
    )
}

fn place(id: &str, slugline: &str, location: &str, time: &str) -> Scene {
    Scene {
        id: id.into(),
        slugline: slugline.into(),
        location: location.into(),
        time_of_day: time.into(),
        description: String::new(),
        character_ids: Vec::new(),
        script: Vec::new(),
        transition: None,
        generated_by: generator(),
    }
}

fn shot(shot_type: ShotType, angle: Angle, ids: &[&str]) -> Shot {
    Shot {
        camera: Camera {
            shot_type,
            angle,
            movement: Movement::Static,
        },
        duration_s: 3.0,
        character_ids: fixtures::ids(ids),
        seed: 11,
        transition: None,
        generated_by: generator(),
        ..fixtures::shot("shot-1")
    }
}

fn settings() -> Settings {
    Settings::default()
}

pub(super) fn portrait(ch: &Character, view: View) -> BackendResult<RgbImage> {
    ProceduralImages.portrait(ch, view, &settings(), 7)
}

pub(super) fn count(img: &RgbImage, colour: Rgb) -> usize {
    let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
    let target = [q(colour.0), q(colour.1), q(colour.2)];
    img.pixels().filter(|p| p.0 == target).count()
}

pub(super) fn differing(a: &RgbImage, b: &RgbImage) -> Vec<(u32, u32)> {
    a.enumerate_pixels()
        .filter(|(x, y, p)| b.get_pixel(*x, *y) != *p)
        .map(|(x, y, _)| (x, y))
        .collect()
}

fn harbour_night() -> BackendResult<RgbImage> {
    ProceduralImages.scene(&place("s1", "EXT. HARBOUR - NIGHT", "Harbour", "night"), &settings(), 3)
}

#[test]
fn generator_names_the_backend() {
    let g = ProceduralImages.generator(5);
    assert_eq!((g.backend.as_str(), g.model.as_str(), g.seed), ("procedural", MODEL, 5));
}

#[test]
fn same_inputs_give_identical_pngs() -> TestResult {
    let a = encode_png(&portrait(&mara(), View::Front)?)?;
    let _other = portrait(&ossie(), View::Front)?;
    assert_eq!(a, encode_png(&portrait(&mara(), View::Front)?)?);
    assert_eq!(encode_png(&harbour_night()?)?, encode_png(&harbour_night()?)?);
    let p = portrait(&mara(), View::Front)?;
    let bg = harbour_night()?;
    let s = shot(ShotType::Medium, Angle::Low, &["mara"]);
    let k1 = ProceduralImages.keyframe(&s, &bg, &[(&mara(), &p)], &settings(), 9)?;
    let k2 = ProceduralImages.keyframe(&s, &bg, &[(&mara(), &p)], &settings(), 9)?;
    assert_eq!(encode_png(&k1)?, encode_png(&k2)?);
    Ok(())
}

#[test]
fn portraits_have_a_fixed_size() -> TestResult {
    let big = Settings {
        width: 1280,
        height: 720,
        ..Settings::default()
    };
    let p = ProceduralImages.portrait(&mara(), View::Side, &big, 1)?;
    assert_eq!(p.dimensions(), (PORTRAIT_WIDTH, PORTRAIT_HEIGHT));
    Ok(())
}

#[test]
fn clothing_edit_changes_clothing_pixels_only() -> TestResult {
    let red = mara();
    let mut blue = mara();
    blue.dynamic_features.clothing = "a blue raincoat".into();
    let b = Body::new(&features(&red), 7, &red.id);
    let collar = b.y(19.5) - OUTLINE - 2.0;
    for view in View::ALL {
        let (x, y) = (portrait(&red, view)?, portrait(&blue, view)?);
        let changed = differing(&x, &y);
        assert!(changed.len() > 2000, "{view:?}: only {} pixels changed", changed.len());
        assert!(
            changed.iter().all(|&(_, py)| py as f32 >= collar),
            "{view:?}: the head changed"
        );
        assert!(count(&y, outfit(&blue).clothing) > 1000);
    }
    Ok(())
}

#[test]
fn views_differ_but_share_the_palette() -> TestResult {
    let ch = mara();
    let (f, o) = (features(&ch), outfit(&ch));
    let views = View::ALL.map(|v| portrait(&ch, v));
    let [front, side, back] = views;
    let (front, side, back) = (front?, side?, back?);
    for (a, b) in [(&front, &side), (&front, &back), (&side, &back)] {
        assert!(differing(a, b).len() > 3000);
    }
    for img in [&front, &side, &back] {
        assert!(count(img, o.clothing) > 1500, "clothing colour missing");
        assert!(count(img, f.hair) > 300, "hair colour missing");
        assert!(count(img, f.skin) > 50, "skin colour missing");
    }
    let white = EYE_WHITE;
    assert!(count(&front, white) > count(&side, white) && count(&side, white) > 0);
    assert_eq!(count(&back, white), 0, "the back view shows no eyes");
    let b = Body::new(&f, 7, &ch.id);
    let (hx, hy, _, _) = b.head;
    assert_eq!(
        back.get_pixel(hx as u32, hy as u32),
        front.get_pixel(hx as u32, (hy - b.head.3 * 0.8) as u32)
    );
    Ok(())
}

#[test]
fn other_characters_do_not_change_a_portrait() -> TestResult {
    let before = portrait(&mara(), View::Back)?;
    for view in View::ALL {
        portrait(&ossie(), view)?;
    }
    assert_eq!(before, portrait(&mara(), View::Back)?);
    assert_ne!(before, portrait(&ossie(), View::Back)?);
    Ok(())
}

fn mean(img: &RgbImage) -> f64 {
    img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / img.as_raw().len() as f64
}

#[test]
fn scenes_follow_time_and_place() -> TestResult {
    let s = settings();
    let day = ProceduralImages.scene(&place("s1", "EXT. HARBOUR - DAY", "Harbour", "day"), &s, 3)?;
    let night = harbour_night()?;
    assert_eq!(day.dimensions(), (640, 360));
    assert!(
        mean(&day) > mean(&night) + 50.0,
        "day {} night {}",
        mean(&day),
        mean(&night)
    );
    let places = [
        ("EXT. CITY STREET - DUSK", "City street", "dusk"),
        ("EXT. FOREST - DAWN", "Forest", "dawn"),
        ("INT. KITCHEN - NIGHT", "Kitchen", "night"),
        ("INT. LIBRARY - DAY", "Library", "day"),
    ];
    let images: Vec<RgbImage> = places
        .iter()
        .map(|(slug, loc, time)| ProceduralImages.scene(&place("s1", slug, loc, time), &s, 3))
        .collect::<BackendResult<_>>()?;
    for (i, a) in images.iter().enumerate() {
        assert!(differing(a, &day).len() > 100_000);
        for b in &images[i + 1..] {
            assert!(differing(a, b).len() > 100_000);
        }
    }
    let other_seed = ProceduralImages.scene(&place("s1", "EXT. HARBOUR - DAY", "Harbour", "day"), &s, 4)?;
    assert_ne!(day, other_seed);
    Ok(())
}

#[test]
fn bad_sizes_are_invalid() {
    let tiny = Settings {
        width: 0,
        height: 360,
        ..Settings::default()
    };
    let result = ProceduralImages.scene(&place("s1", "EXT. PARK - DAY", "Park", "day"), &tiny, 1);
    assert!(matches!(result, Err(BackendError::Invalid(_))));
}

/// The share of pixels the characters change, against the same shot with no one in it.
fn coverage(frame: ShotType, cast: &[(&Character, &RgbImage)], bg: &RgbImage) -> BackendResult<f64> {
    let ids: Vec<&str> = cast.iter().map(|(c, _)| c.id.as_str()).collect();
    let full = ProceduralImages.keyframe(&shot(frame, Angle::EyeLevel, &ids), bg, cast, &settings(), 1)?;
    let empty = ProceduralImages.keyframe(&shot(frame, Angle::EyeLevel, &[]), bg, cast, &settings(), 1)?;
    assert_eq!(full.dimensions(), (640, 360));
    Ok(differing(&full, &empty).len() as f64 / (640.0 * 360.0))
}

#[test]
fn framing_grows_from_wide_to_close_up() -> TestResult {
    let (m, o) = (mara(), ossie());
    let (pm, po) = (portrait(&m, View::Front)?, portrait(&o, View::Front)?);
    let bg = harbour_night()?;
    for cast in [[(&m, &pm)], [(&o, &po)]] {
        let wide = coverage(ShotType::Wide, &cast, &bg)?;
        let medium = coverage(ShotType::Medium, &cast, &bg)?;
        let close = coverage(ShotType::CloseUp, &cast, &bg)?;
        assert!(
            0.01 < wide && wide < medium && medium < close,
            "{wide} {medium} {close}"
        );
    }
    let cast = [(&m, &pm), (&o, &po)];
    let low = ProceduralImages.keyframe(&shot(ShotType::Wide, Angle::Low, &["mara"]), &bg, &cast, &settings(), 1)?;
    let high = ProceduralImages.keyframe(
        &shot(ShotType::Wide, Angle::High, &["mara"]),
        &bg,
        &cast,
        &settings(),
        1,
    )?;
    assert_ne!(low, high);
    Ok(())
}

#[test]
fn consistency_rewards_the_right_portraits() -> TestResult {
    let (m, o) = (mara(), ossie());
    let (pm, po) = (portrait(&m, View::Front)?, portrait(&o, View::Front)?);
    let bg = ProceduralImages.scene(&place("s2", "EXT. PARK - DAY", "Park", "day"), &settings(), 5)?;
    let right = [(&m, &pm), (&o, &po)];
    let wrong = [(&m, &po), (&o, &pm)];
    for (frame, angle) in [
        (ShotType::Wide, Angle::EyeLevel),
        (ShotType::Medium, Angle::Low),
        (ShotType::CloseUp, Angle::High),
    ] {
        let s = shot(frame, angle, &["mara", "ossie"]);
        let good = ProceduralImages.keyframe(&s, &bg, &right, &settings(), 2)?;
        let bad = ProceduralImages.keyframe(&s, &bg, &wrong, &settings(), 2)?;
        let (g, b) = (
            ProceduralImages.consistency(&good, &s, &right),
            ProceduralImages.consistency(&bad, &s, &right),
        );
        assert!(g >= 0.7, "{frame:?} {angle:?}: {g}");
        assert!(b < g - 0.2, "{frame:?} {angle:?}: right {g}, wrong {b}");
    }
    let blank = RgbImage::new(0, 0);
    let unreadable = shot(ShotType::Wide, Angle::EyeLevel, &["mara"]);
    assert_eq!(ProceduralImages.consistency(&bg, &unreadable, &[(&m, &blank)]), 1.0);
    let nobody = shot(ShotType::Wide, Angle::EyeLevel, &[]);
    assert_eq!(ProceduralImages.consistency(&bg, &nobody, &right), 1.0);
    Ok(())
}

#[test]
fn keyframes_render_quickly() -> TestResult {
    let cast_chars = [
        mara(),
        ossie(),
        person("juno", "", "", "a green jumper", &["a map", "a key"]),
    ];
    let portraits: Vec<RgbImage> = cast_chars
        .iter()
        .map(|c| portrait(c, View::Front))
        .collect::<BackendResult<_>>()?;
    let cast: Vec<(&Character, &RgbImage)> = cast_chars.iter().zip(&portraits).collect();
    let bg = harbour_night()?;
    let s = shot(ShotType::Wide, Angle::Low, &["mara", "ossie", "juno"]);
    let start = std::time::Instant::now();
    let k = ProceduralImages.keyframe(&s, &bg, &cast, &settings(), 1)?;
    let rendered = start.elapsed();
    let score = ProceduralImages.consistency(&k, &s, &cast);
    eprintln!(
        "640x360 keyframe with 3 characters: {rendered:?}; its consistency score ({score:.3}): {:?}",
        start.elapsed() - rendered
    );
    Ok(())
}

/// Writes sample images to `/tmp/showrunner-samples/` (run with `--ignored`).
#[test]
#[ignore]
fn write_samples() -> TestResult {
    let dir = std::path::Path::new("/tmp/showrunner-samples");
    std::fs::create_dir_all(dir)?;
    let juno = person(
        "juno",
        "heart-shaped face, dimples, green eyes, blond hair",
        "slight and quick",
        "a purple dress",
        &["a map", "a key"],
    );
    let bram = person(
        "bram",
        "square jaw, thick brows, brown eyes, grey hair, beard, glasses",
        "broad-shouldered",
        "green overalls",
        &["a camera"],
    );
    let cast_chars = [mara(), ossie(), juno, bram];
    let mut fronts = Vec::new();
    for ch in &cast_chars {
        for view in View::ALL {
            let img = portrait(ch, view)?;
            std::fs::write(dir.join(format!("portrait-{}-{view:?}.png", ch.id)), encode_png(&img)?)?;
            let head = image::imageops::crop_imm(&img, 64, 20, 128, 110).to_image();
            let big = image::imageops::resize(&head, 384, 330, image::imageops::FilterType::Nearest);
            std::fs::write(dir.join(format!("head-{}-{view:?}.png", ch.id)), encode_png(&big)?)?;
            if view == View::Front {
                fronts.push(img);
            }
        }
    }
    let scenes = [
        ("EXT. HARBOUR - NIGHT", "Harbour", "night"),
        ("EXT. HARBOUR - DAY", "Harbour", "day"),
        ("EXT. BEACH - DAWN", "Beach", "dawn"),
        ("EXT. CITY STREET - DUSK", "City street", "dusk"),
        ("EXT. CITY STREET - NIGHT", "City street", "night"),
        ("EXT. FOREST - DAY", "Forest", "day"),
        ("EXT. PARK - DUSK", "Park", "dusk"),
        ("INT. KITCHEN - NIGHT", "Kitchen", "night"),
        ("INT. LIBRARY - DAY", "Library", "day"),
        ("INT. WORKSHOP - DAY", "Workshop", "day"),
        ("INT. LIGHTHOUSE - DUSK", "Lighthouse", "dusk"),
        ("INT. TRAIN STATION - DAWN", "Train station", "dawn"),
        ("INT. FLAT - DAY", "Flat", "day"),
        ("EXT. MOOR - TEATIME", "Moor", "teatime"),
    ];
    let mut backgrounds = Vec::new();
    for (slug, loc, time) in scenes {
        let img = ProceduralImages.scene(&place("s1", slug, loc, time), &settings(), 3)?;
        std::fs::write(
            dir.join(format!("scene-{}.png", showrunner_story::slug(slug))),
            encode_png(&img)?,
        )?;
        backgrounds.push(img);
    }
    let cast: Vec<(&Character, &RgbImage)> = cast_chars.iter().zip(&fronts).collect();
    let frames = [
        (
            ShotType::Wide,
            Angle::EyeLevel,
            vec!["mara", "ossie", "juno", "bram"],
            0,
        ),
        (ShotType::Medium, Angle::Low, vec!["mara", "ossie"], 3),
        (ShotType::CloseUp, Angle::High, vec!["juno"], 5),
        (ShotType::Medium, Angle::EyeLevel, vec!["bram"], 8),
        (ShotType::CloseUp, Angle::EyeLevel, vec!["bram", "mara"], 9),
        (ShotType::Wide, Angle::High, vec!["ossie", "juno"], 10),
    ];
    for (i, (frame, angle, ids, bg)) in frames.into_iter().enumerate() {
        let s = shot(frame, angle, &ids);
        let k = ProceduralImages.keyframe(&s, &backgrounds[bg], &cast, &settings(), 1)?;
        eprintln!(
            "keyframe {i} {frame:?} {angle:?}: consistency {:.3}",
            ProceduralImages.consistency(&k, &s, &cast)
        );
        std::fs::write(
            dir.join(format!("keyframe-{i}-{frame:?}-{angle:?}.png")),
            encode_png(&k)?,
        )?;
    }
    Ok(())
}

/// The image work of a demo episode (5 characters, 5 scenes, 10 shots), timed; run with
/// `--release --ignored --nocapture`.
#[test]
#[ignore]
fn demo_load_timing() -> TestResult {
    let start = std::time::Instant::now();
    let chars: Vec<Character> = (0..5)
        .map(|i| {
            person(
                &format!("c{i}"),
                "round face, red hair",
                "tall",
                ["a red coat", "a blue dress"][i % 2],
                &["a lantern"],
            )
        })
        .collect();
    let mut fronts = Vec::new();
    for ch in &chars {
        for view in View::ALL {
            let img = portrait(ch, view)?;
            encode_png(&img)?;
            if view == View::Front {
                fronts.push(img);
            }
        }
    }
    let portraits = start.elapsed();
    let places = [
        "EXT. HARBOUR - NIGHT",
        "EXT. CITY STREET - DAY",
        "INT. LIBRARY - DUSK",
        "EXT. FOREST - DAWN",
        "INT. KITCHEN - NIGHT",
    ];
    let backgrounds: Vec<RgbImage> = places
        .iter()
        .map(|slug| ProceduralImages.scene(&place(slug, slug, slug, ""), &settings(), 1))
        .collect::<BackendResult<_>>()?;
    let scenes = start.elapsed() - portraits;
    let cast: Vec<(&Character, &RgbImage)> = chars.iter().zip(&fronts).collect();
    let frames = [ShotType::Wide, ShotType::Medium, ShotType::CloseUp];
    for i in 0..10 {
        let ids: Vec<String> = (0..1 + i % 3).map(|k| format!("c{}", (i + k) % 5)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let s = shot(frames[i % 3], Angle::Low, &ids);
        let k = ProceduralImages.keyframe(&s, &backgrounds[i % 5], &cast, &settings(), 1)?;
        encode_png(&k)?;
        ProceduralImages.consistency(&k, &s, &cast);
    }
    let keyframes = start.elapsed() - portraits - scenes;
    eprintln!("15 portraits {portraits:?}, 5 scenes {scenes:?}, 10 keyframes + scores {keyframes:?}");
    Ok(())
}

#[test]
fn the_weather_a_scene_names_reaches_its_picture() -> TestResult {
    let s = settings();
    let dry = place("s1", "EXT. OPEN SEA - DAY", "Open sea", "day");
    let mut stormy = dry.clone();
    stormy.description = "A storm rages: wind, rain and thunder. The whale dives.".into();
    let mut snowy = dry.clone();
    snowy.description = "Snow falls on the water.".into();
    let (dry_image, storm_image) = (
        ProceduralImages.scene(&dry, &s, 3)?,
        ProceduralImages.scene(&stormy, &s, 3)?,
    );
    let snow_image = ProceduralImages.scene(&snowy, &s, 3)?;
    assert!(
        mean(&storm_image) < mean(&dry_image) - 40.0,
        "a storm darkens the day: {} vs {}",
        mean(&storm_image),
        mean(&dry_image)
    );
    // Rain streaks: pixels brighter than the darkened sky around them.
    let streaks = storm_image.pixels().filter(|p| p.0[2] > 150).count();
    assert!(streaks > 1000, "{streaks} streak pixels");
    let flakes = snow_image.pixels().filter(|p| p.0.iter().all(|&c| c > 235)).count();
    assert!(flakes > 1000, "{flakes} flakes");
    // Indoors a storm only darkens the light.
    let room = place("s2", "INT. KITCHEN - DAY", "Kitchen", "day");
    let mut stormy_room = room.clone();
    stormy_room.description = "A storm rattles the windows.".into();
    let (calm, storm) = (
        ProceduralImages.scene(&room, &s, 3)?,
        ProceduralImages.scene(&stormy_room, &s, 3)?,
    );
    assert!(mean(&storm) < mean(&calm) - 10.0 && mean(&storm) > mean(&calm) * 0.6);
    Ok(())
}
