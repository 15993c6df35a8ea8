//! A character's look from its text alone: face, hair, build, skin and outfit, so the same
//! character always looks the same and clothing text changes clothing pixels only.

use showrunner_story::model::Character;
use showrunner_story::rng::{Rng, hash_str};

use super::words::{SKIN, colours_in, described, eye_colour, hair_colour, has, hashed_colour, skin_tone, words};
use crate::raster::Rgb;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum HairStyle {
    Short,
    Long,
    Bald,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Garment {
    Top,
    Jacket,
    Coat,
    Dress,
    Overalls,
}

/// What does not change: from the static features, the name and the id.
#[derive(Debug, Clone)]
pub(super) struct Features {
    pub(super) skin: Rgb,
    pub(super) hair: Rgb,
    pub(super) eyes: Rgb,
    pub(super) shoes: Rgb,
    pub(super) trousers: Rgb,
    pub(super) style: HairStyle,
    pub(super) height: f32,
    pub(super) breadth: f32,
    pub(super) face_w: f32,
    pub(super) face_h: f32,
    pub(super) square_jaw: bool,
    pub(super) freckles: bool,
    pub(super) beard: bool,
    pub(super) glasses: bool,
    pub(super) thick_brows: bool,
    pub(super) lined: bool,
}

/// What may change: from the dynamic features.
#[derive(Debug, Clone)]
pub(super) struct Outfit {
    pub(super) clothing: Rgb,
    pub(super) trousers: Option<Rgb>,
    pub(super) garment: Garment,
    pub(super) props: Vec<String>,
}

pub(super) fn features(ch: &Character) -> Features {
    let face = words(&ch.static_features.face);
    let body = words(&ch.static_features.body);
    let key = format!(
        "{}|{}|{}|{}",
        ch.id, ch.name, ch.static_features.face, ch.static_features.body
    );
    let mut rng = Rng::new(hash_str(&key));
    let (face_w, face_h) = face_shape(&face);
    Features {
        skin: SKIN[skin_index(&face, &body).unwrap_or_else(|| rng.below(SKIN.len()))],
        hair: described(&face, &["hair", "haired"], hair_colour).unwrap_or_else(|| *rng.pick(&HAIR_FALLBACK)),
        eyes: described(&face, &["eyes", "eyed"], eye_colour).unwrap_or_else(|| *rng.pick(&EYES_FALLBACK)),
        shoes: *rng.pick(&[Rgb(0.16, 0.12, 0.1), Rgb(0.3, 0.18, 0.1), Rgb(0.12, 0.12, 0.14)]),
        trousers: *rng.pick(&TROUSERS),
        style: hair_style(&face, &mut rng),
        height: pick_scale(
            &body,
            &["tall", "lanky", "towering", "long"],
            &["short", "small", "little", "petite"],
        ),
        breadth: breadth(&body),
        face_w,
        face_h,
        square_jaw: has(&face, &["square", "jaw", "jawed"]),
        freckles: has(&face, &["freckles", "freckled"]),
        beard: has(&face, &["beard", "bearded", "moustache", "mustache", "stubble"]),
        glasses: has(&face, &["glasses", "spectacles", "bespectacled"]),
        thick_brows: has(&face, &["thick", "bushy", "heavy"]),
        lined: has(&face, &["lined", "older", "old", "wrinkled", "lines", "elderly"]),
    }
}

pub(super) const HAIR_FALLBACK: [Rgb; 4] = [
    Rgb(0.1, 0.08, 0.08),
    Rgb(0.36, 0.22, 0.12),
    Rgb(0.9, 0.75, 0.42),
    Rgb(0.7, 0.28, 0.12),
];
pub(super) const EYES_FALLBACK: [Rgb; 3] = [Rgb(0.38, 0.22, 0.1), Rgb(0.22, 0.45, 0.8), Rgb(0.25, 0.55, 0.3)];
pub(super) const TROUSERS: [Rgb; 4] = [
    Rgb(0.18, 0.2, 0.32),
    Rgb(0.22, 0.22, 0.24),
    Rgb(0.35, 0.25, 0.17),
    Rgb(0.25, 0.35, 0.55),
];

pub(super) fn skin_index(face: &[String], body: &[String]) -> Option<usize> {
    let all: Vec<String> = face.iter().chain(body).cloned().collect();
    described(&all, &["skin", "skinned", "complexion"], skin_tone)
        .or_else(|| has(&all, &["pale"]).then_some(0))
        .or_else(|| has(&all, &["freckles", "freckled"]).then_some(1))
}

pub(super) fn face_shape(face: &[String]) -> (f32, f32) {
    if has(face, &["round", "chubby", "moon"]) {
        (1.1, 0.95)
    } else if has(face, &["narrow", "long", "thin", "gaunt", "angular"]) {
        (0.88, 1.06)
    } else if has(face, &["broad", "wide", "square"]) {
        (1.08, 1.0)
    } else {
        (1.0, 1.0)
    }
}

pub(super) fn hair_style(face: &[String], rng: &mut Rng) -> HairStyle {
    if has(face, &["bald", "shaved", "shaven"]) {
        HairStyle::Bald
    } else if has(
        face,
        &["long", "braid", "braids", "ponytail", "flowing", "plait", "plaits"],
    ) {
        HairStyle::Long
    } else if has(face, &["short", "cropped", "buzz"]) || rng.below(2) == 0 {
        HairStyle::Short
    } else {
        HairStyle::Long
    }
}

pub(super) fn pick_scale(body: &[String], big: &[&str], small: &[&str]) -> f32 {
    if has(body, big) {
        1.0
    } else if has(body, small) {
        0.86
    } else {
        0.93
    }
}

pub(super) fn breadth(body: &[String]) -> f32 {
    if has(
        body,
        &[
            "broad",
            "shouldered",
            "stocky",
            "sturdy",
            "heavy",
            "burly",
            "stout",
            "big",
            "large",
        ],
    ) {
        1.15
    } else if has(
        body,
        &[
            "slim", "slight", "thin", "wiry", "lanky", "slender", "skinny", "willowy",
        ],
    ) {
        0.87
    } else {
        1.0
    }
}

pub(super) fn outfit(ch: &Character) -> Outfit {
    let text = &ch.dynamic_features.clothing;
    let w = words(text);
    let colours = colours_in(text);
    let garment = if has(&w, &["dress", "skirt", "gown", "frock"]) {
        Garment::Dress
    } else if has(&w, &["overalls", "dungarees", "jumpsuit", "boilersuit"]) {
        Garment::Overalls
    } else if has(
        &w,
        &[
            "coat",
            "raincoat",
            "overcoat",
            "trenchcoat",
            "cloak",
            "cape",
            "poncho",
            "robe",
            "mac",
            "parka",
        ],
    ) {
        Garment::Coat
    } else if has(&w, &["jacket", "blazer", "suit", "waistcoat", "vest"]) {
        Garment::Jacket
    } else {
        Garment::Top
    };
    Outfit {
        clothing: colours.first().copied().unwrap_or_else(|| hashed_colour(text)),
        trousers: colours.get(1).copied(),
        garment,
        props: ch.dynamic_features.props.clone(),
    }
}
