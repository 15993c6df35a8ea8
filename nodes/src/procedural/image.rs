//! The procedural image backend: character sheets, scene backgrounds and keyframes drawn with
//! `candle-core` tensors on the CPU (see [`super::raster`]). No weights, deterministic for a
//! seed, fast, and named `procedural` in every output's metadata.
//!
//! - A character's look (palette, build, hair, props) comes from its text alone: the same
//!   character always looks the same, and clothing text changes clothing pixels only.
//! - Portraits stand on a flat backdrop ([`BACKDROP`]), which keyframes key out to compose the
//!   figure over a scene.
//! - Keyframes and consistency scores share one placement function, so a score compares each
//!   portrait with exactly the pixels where it was drawn.

use candle_core::{Result, Tensor};
use image::RgbImage;

use super::raster::{Canvas, Fill, Rgb, Shape, blend, resample};
use crate::backend::{BackendError, BackendResult, ImageModel, View};
use crate::model::{Angle, Camera, Character, Generator, Scene, Settings, Shot, ShotType};
use crate::rng::{Rng, hash_str};

/// The model name in every output's metadata.
pub const MODEL: &str = "procedural-image-1";
/// Portrait width in pixels, whatever the settings.
pub const PORTRAIT_WIDTH: u32 = 256;
/// Portrait height in pixels, whatever the settings.
pub const PORTRAIT_HEIGHT: u32 = 384;
/// The portraits' flat backdrop colour, keyed out when a figure is composed into a keyframe.
pub const BACKDROP: Rgb = Rgb(0.74, 0.85, 0.84);
const INK: Rgb = Rgb(0.13, 0.11, 0.13);
const OUTLINE: f32 = 1.6;

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

// ---------------------------------------------------------------------------------------------
// Words to colours and shapes.

/// The lower-case words of a text (letters only).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(&w.as_str()))
}

/// A colour named by a word, as clothes and props wear it.
fn named_colour(word: &str) -> Option<Rgb> {
    Some(match word {
        "red" | "scarlet" | "crimson" => Rgb(0.78, 0.16, 0.15),
        "blue" | "azure" | "cobalt" => Rgb(0.17, 0.33, 0.72),
        "navy" => Rgb(0.12, 0.16, 0.36),
        "yellow" | "mustard" => Rgb(0.93, 0.77, 0.2),
        "gold" | "golden" => Rgb(0.85, 0.66, 0.2),
        "green" | "emerald" => Rgb(0.19, 0.52, 0.25),
        "olive" => Rgb(0.42, 0.45, 0.18),
        "teal" | "turquoise" => Rgb(0.1, 0.48, 0.5),
        "grey" | "gray" | "silver" => Rgb(0.5, 0.5, 0.53),
        "black" => Rgb(0.12, 0.12, 0.14),
        "white" | "cream" | "ivory" => Rgb(0.95, 0.94, 0.9),
        "brown" | "chocolate" => Rgb(0.45, 0.28, 0.14),
        "tan" | "khaki" | "beige" => Rgb(0.76, 0.64, 0.46),
        "purple" | "violet" | "plum" => Rgb(0.46, 0.23, 0.6),
        "orange" | "amber" => Rgb(0.93, 0.5, 0.13),
        "pink" | "rose" => Rgb(0.94, 0.56, 0.69),
        "maroon" | "burgundy" => Rgb(0.45, 0.1, 0.15),
        _ => return None,
    })
}

/// The colours a text names, in order.
fn colours_in(text: &str) -> Vec<Rgb> {
    words(text).iter().filter_map(|w| named_colour(w)).collect()
}

/// A saturated colour hashed from a text, for texts that name none.
fn hashed_colour(text: &str) -> Rgb {
    let h = hash_str(text);
    Rgb::hsl((h % 360) as f32 / 360.0, 0.55, 0.36 + ((h >> 12) % 16) as f32 / 100.0)
}

/// The first value `table` gives for one of the two words before any of `nouns`.
fn described<T>(words: &[String], nouns: &[&str], table: fn(&str) -> Option<T>) -> Option<T> {
    let at = words.iter().position(|w| nouns.contains(&w.as_str()))?;
    words[at.saturating_sub(2)..at].iter().rev().find_map(|w| table(w))
}

fn hair_colour(word: &str) -> Option<Rgb> {
    Some(match word {
        "black" | "dark" | "raven" => Rgb(0.1, 0.08, 0.08),
        "brown" | "brunette" | "chestnut" => Rgb(0.36, 0.22, 0.12),
        "blond" | "blonde" | "golden" | "fair" | "straw" => Rgb(0.9, 0.75, 0.42),
        "red" | "ginger" | "auburn" | "copper" => Rgb(0.7, 0.28, 0.12),
        "grey" | "gray" | "silver" => Rgb(0.6, 0.6, 0.63),
        "white" | "snowy" => Rgb(0.92, 0.91, 0.88),
        _ => return None,
    })
}

fn eye_colour(word: &str) -> Option<Rgb> {
    Some(match word {
        "dark" | "black" => Rgb(0.18, 0.12, 0.08),
        "brown" => Rgb(0.38, 0.22, 0.1),
        "blue" => Rgb(0.22, 0.45, 0.8),
        "green" => Rgb(0.25, 0.55, 0.3),
        "grey" | "gray" => Rgb(0.5, 0.56, 0.62),
        "hazel" | "amber" => Rgb(0.52, 0.42, 0.2),
        _ => return None,
    })
}

const SKIN: [Rgb; 6] = [
    Rgb(0.98, 0.86, 0.76),
    Rgb(0.94, 0.77, 0.63),
    Rgb(0.84, 0.64, 0.47),
    Rgb(0.72, 0.51, 0.35),
    Rgb(0.55, 0.37, 0.24),
    Rgb(0.4, 0.26, 0.17),
];

fn skin_tone(word: &str) -> Option<usize> {
    Some(match word {
        "pale" | "fair" | "light" | "porcelain" => 0,
        "rosy" | "freckled" => 1,
        "olive" => 2,
        "tan" | "tanned" | "golden" => 3,
        "brown" => 4,
        "dark" | "deep" | "ebony" | "black" => 5,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// A character's look.

#[derive(Debug, Clone, Copy, PartialEq)]
enum HairStyle {
    Short,
    Long,
    Bald,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Garment {
    Top,
    Jacket,
    Coat,
    Dress,
    Overalls,
}

/// What does not change: from the static features, the name and the id.
#[derive(Debug, Clone)]
struct Features {
    skin: Rgb,
    hair: Rgb,
    eyes: Rgb,
    shoes: Rgb,
    trousers: Rgb,
    style: HairStyle,
    height: f32,
    breadth: f32,
    face_w: f32,
    face_h: f32,
    square_jaw: bool,
    freckles: bool,
    beard: bool,
    glasses: bool,
    thick_brows: bool,
    lined: bool,
}

/// What may change: from the dynamic features.
#[derive(Debug, Clone)]
struct Outfit {
    clothing: Rgb,
    trousers: Option<Rgb>,
    garment: Garment,
    props: Vec<String>,
}

fn features(ch: &Character) -> Features {
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

const HAIR_FALLBACK: [Rgb; 4] = [
    Rgb(0.1, 0.08, 0.08),
    Rgb(0.36, 0.22, 0.12),
    Rgb(0.9, 0.75, 0.42),
    Rgb(0.7, 0.28, 0.12),
];
const EYES_FALLBACK: [Rgb; 3] = [Rgb(0.38, 0.22, 0.1), Rgb(0.22, 0.45, 0.8), Rgb(0.25, 0.55, 0.3)];
const TROUSERS: [Rgb; 4] = [
    Rgb(0.18, 0.2, 0.32),
    Rgb(0.22, 0.22, 0.24),
    Rgb(0.35, 0.25, 0.17),
    Rgb(0.25, 0.35, 0.55),
];

fn skin_index(face: &[String], body: &[String]) -> Option<usize> {
    let all: Vec<String> = face.iter().chain(body).cloned().collect();
    described(&all, &["skin", "skinned", "complexion"], skin_tone)
        .or_else(|| has(&all, &["pale"]).then_some(0))
        .or_else(|| has(&all, &["freckles", "freckled"]).then_some(1))
}

fn face_shape(face: &[String]) -> (f32, f32) {
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

fn hair_style(face: &[String], rng: &mut Rng) -> HairStyle {
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

fn pick_scale(body: &[String], big: &[&str], small: &[&str]) -> f32 {
    if has(body, big) {
        1.0
    } else if has(body, small) {
        0.86
    } else {
        0.93
    }
}

fn breadth(body: &[String]) -> f32 {
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

fn outfit(ch: &Character) -> Outfit {
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

// ---------------------------------------------------------------------------------------------
// Portraits.

/// The figure's frame of reference: `u` is a hundredth of its height; horizontal offsets
/// scale with its breadth.
#[derive(Debug, Clone, Copy)]
struct Body {
    cx: f32,
    top: f32,
    u: f32,
    breadth: f32,
    head: (f32, f32, f32, f32),
    /// The hands' sway, from the seed.
    sway: f32,
}

impl Body {
    fn new(f: &Features, seed: u64, id: &str) -> Body {
        let height = 336.0 * f.height;
        let top = PORTRAIT_HEIGHT as f32 - 12.0 - height;
        let u = height / 100.0;
        let cx = PORTRAIT_WIDTH as f32 / 2.0;
        let sway = (Rng::derive(seed, id).unit() as f32 - 0.5) * 2.0 * u;
        Body {
            cx,
            top,
            u,
            breadth: f.breadth,
            head: (cx, top + 9.5 * u, 7.0 * u * f.face_w, 9.0 * u * f.face_h),
            sway,
        }
    }

    fn y(&self, v: f32) -> f32 {
        self.top + v * self.u
    }

    fn x(&self, h: f32) -> f32 {
        self.cx + h * self.u * self.breadth
    }
}

/// Paints the parts' outlines first, then their fills: touching parts read as one silhouette.
fn inked(c: &mut Canvas, parts: &[(Shape, Rgb)]) -> Result<()> {
    for (shape, _) in parts {
        c.paint(shape, OUTLINE, 1.0, &Fill::Solid(INK))?;
    }
    for (shape, colour) in parts {
        c.fill(shape, *colour)?;
    }
    Ok(())
}

fn render_portrait(ch: &Character, view: View, seed: u64) -> Result<RgbImage> {
    let f = features(ch);
    let o = outfit(ch);
    let b = Body::new(&f, seed, &ch.id);
    let mut c = Canvas::filled(PORTRAIT_WIDTH as usize, PORTRAIT_HEIGHT as usize, BACKDROP)?;
    match view {
        View::Front => draw_front(&mut c, &f, &o, &b)?,
        View::Side => draw_side(&mut c, &f, &o, &b)?,
        View::Back => draw_back(&mut c, &f, &o, &b)?,
    }
    c.to_image()
}

fn draw_front(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    if f.style == HairStyle::Long {
        inked(c, &[(long_hair(b, 0.0), f.hair)])?;
    }
    draw_legs(c, f, o, b)?;
    draw_torso(c, f, o, b, true)?;
    draw_arms(c, f, o, b)?;
    draw_props(c, o, b, 1.0)?;
    draw_head_front(c, f, b)
}

fn draw_back(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    draw_legs(c, f, o, b)?;
    draw_torso(c, f, o, b, false)?;
    draw_arms(c, f, o, b)?;
    draw_props(c, o, b, -1.0)?;
    let (hx, hy, rx, ry) = b.head;
    let u = b.u;
    let ears = [-1.0, 1.0].map(|s| {
        (
            Shape::ellipse(hx + s * rx * 0.98, hy + 0.8 * u, 1.4 * u, 2.2 * u),
            f.skin,
        )
    });
    inked(c, &ears)?;
    let head = match f.style {
        HairStyle::Bald => (Shape::ellipse(hx, hy, rx, ry), f.skin),
        _ => (Shape::ellipse(hx, hy - 0.3 * u, rx * 1.06, ry * 1.02), f.hair),
    };
    inked(c, &[head])?;
    if f.style == HairStyle::Long {
        inked(c, &[(long_hair(b, 0.0), f.hair)])?;
    }
    Ok(())
}

fn draw_side(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    if f.style == HairStyle::Long {
        inked(c, &[(long_hair(b, -0.45), f.hair)])?;
    }
    let narrow = Body {
        breadth: b.breadth * 0.6,
        ..*b
    };
    draw_side_legs(c, f, o, &narrow)?;
    draw_torso(c, f, o, &narrow, false)?;
    let u = b.u;
    let hand = (b.cx + 1.5 * u + b.sway * 0.5, b.y(50.0));
    let arm = Shape::capsule((b.cx - 0.5 * u, b.y(24.0)), hand, 3.1 * u);
    inked(
        c,
        &[
            (arm, sleeve(o)),
            (Shape::circle(hand.0, hand.1 + 1.5 * u, 3.2 * u), f.skin),
        ],
    )?;
    if let Some(prop) = o.props.first() {
        inked(c, &prop_parts(prop, (hand.0, hand.1 + 1.5 * u), u, 1.0))?;
    }
    draw_head_side(c, f, b)
}

/// Long hair falling behind the head to the shoulders, shifted by `lean` head widths.
fn long_hair(b: &Body, lean: f32) -> Shape {
    let (hx, hy, rx, ry) = b.head;
    let x = hx + lean * rx;
    Shape::round_rect(x - rx * 1.18, hy - ry * 0.4, x + rx * 1.18, b.y(33.0), rx * 0.8)
}

fn sleeve(o: &Outfit) -> Rgb {
    o.clothing.scale(0.88)
}

fn leg_colour(f: &Features, o: &Outfit) -> Rgb {
    match o.garment {
        Garment::Dress => f.skin,
        Garment::Overalls => o.clothing,
        _ => o.trousers.unwrap_or(f.trousers),
    }
}

fn draw_legs(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    let u = b.u;
    let legs = [-1.0, 1.0].map(|s| {
        let leg = Shape::capsule((b.x(s * 4.6), b.y(54.0)), (b.x(s * 5.2), b.y(95.0)), 4.0 * u);
        (leg, leg_colour(f, o))
    });
    inked(c, &legs)?;
    let shoes = [-1.0, 1.0].map(|s| (Shape::ellipse(b.x(s * 5.6), b.y(97.4), 5.0 * u, 2.5 * u), f.shoes));
    inked(c, &shoes)
}

fn draw_side_legs(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    let u = b.u;
    let colour = leg_colour(f, o);
    let back = Shape::capsule((b.cx - 1.5 * u, b.y(54.0)), (b.cx - 3.5 * u, b.y(95.0)), 3.8 * u);
    inked(
        c,
        &[
            (back, colour.scale(0.8)),
            (Shape::ellipse(b.cx - 1.5 * u, b.y(97.4), 5.0 * u, 2.5 * u), f.shoes),
        ],
    )?;
    let front = Shape::capsule((b.cx + 1.0 * u, b.y(54.0)), (b.cx + 2.5 * u, b.y(95.0)), 3.8 * u);
    inked(
        c,
        &[
            (front, colour),
            (Shape::ellipse(b.cx + 4.5 * u, b.y(97.4), 5.0 * u, 2.5 * u), f.shoes),
        ],
    )
}

/// The neck, torso and garment; `front` adds the garment's front details.
fn draw_torso(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body, front: bool) -> Result<()> {
    let u = b.u;
    inked(
        c,
        &[(
            Shape::rect(b.cx - 2.8 * u, b.y(14.0), b.cx + 2.8 * u, b.y(22.0)),
            f.skin.scale(0.93),
        )],
    )?;
    if let Some(skirt) = skirt(o.garment, b) {
        inked(c, &[(skirt, o.clothing)])?;
    }
    let torso = Shape::Union(vec![
        Shape::Polygon(vec![
            (b.x(-12.0), b.y(25.0)),
            (b.x(12.0), b.y(25.0)),
            (b.x(10.3), b.y(57.0)),
            (b.x(-10.3), b.y(57.0)),
        ]),
        Shape::round_rect(b.x(-12.5), b.y(19.5), b.x(12.5), b.y(32.0), 5.0 * u),
    ]);
    inked(c, &[(torso, o.clothing)])?;
    if front { draw_garment_front(c, o, b) } else { Ok(()) }
}

/// The part of a long garment below the waist.
fn skirt(garment: Garment, b: &Body) -> Option<Shape> {
    let (half, bottom) = match garment {
        Garment::Coat => (13.5, 80.0),
        Garment::Dress => (17.0, 77.0),
        _ => return None,
    };
    Some(Shape::Polygon(vec![
        (b.x(-10.0), b.y(48.0)),
        (b.x(10.0), b.y(48.0)),
        (b.x(half), b.y(bottom)),
        (b.x(-half), b.y(bottom)),
    ]))
}

fn draw_garment_front(c: &mut Canvas, o: &Outfit, b: &Body) -> Result<()> {
    let u = b.u;
    let dark = o.clothing.scale(0.72);
    match o.garment {
        Garment::Coat | Garment::Jacket => {
            let bottom = if o.garment == Garment::Coat { 79.0 } else { 56.0 };
            let shirt = Shape::Polygon(vec![
                (b.cx - 3.5 * u, b.y(20.5)),
                (b.cx + 3.5 * u, b.y(20.5)),
                (b.cx, b.y(33.0)),
            ]);
            c.fill(&shirt, Rgb(0.93, 0.92, 0.88))?;
            c.fill(&Shape::capsule((b.cx, b.y(33.0)), (b.cx, b.y(bottom)), 0.35 * u), dark)?;
            for v in [38.0, 45.0, 52.0] {
                c.fill(&Shape::circle(b.cx + 1.6 * u, b.y(v), 0.7 * u), dark)?;
            }
        }
        Garment::Overalls => {
            for s in [-1.0, 1.0] {
                c.fill(
                    &Shape::capsule((b.x(s * 6.0), b.y(20.5)), (b.x(s * 5.0), b.y(36.0)), 0.9 * u),
                    dark,
                )?;
                c.fill(&Shape::circle(b.x(s * 5.0), b.y(36.0), 0.9 * u), Rgb(0.85, 0.75, 0.4))?;
            }
            c.fill(
                &Shape::rect(b.x(-6.5), b.y(36.0), b.x(6.5), b.y(46.0)),
                dark.mix(o.clothing, 0.5),
            )?;
        }
        Garment::Dress => c.fill(&Shape::rect(b.x(-10.0), b.y(46.0), b.x(10.0), b.y(48.5)), dark)?,
        Garment::Top => c.fill(&Shape::rect(b.x(-10.2), b.y(53.0), b.x(10.2), b.y(57.0)), dark)?,
    }
    Ok(())
}

/// Both arms.
fn draw_arms(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    let u = b.u;
    for s in [-1.0f32, 1.0] {
        let hand = (b.x(s * 14.5) + s * b.sway, b.y(50.0));
        let arm = Shape::capsule((b.x(s * 11.2), b.y(24.0)), hand, 3.1 * u);
        inked(
            c,
            &[
                (arm, sleeve(o)),
                (Shape::circle(hand.0, hand.1 + 1.5 * u, 3.2 * u), f.skin),
            ],
        )?;
    }
    Ok(())
}

/// The hands: the first prop in the character's right hand (the viewer's left from the front).
fn hands(b: &Body, facing: f32) -> [(f32, f32); 2] {
    let at = |s: f32| (b.x(s * 14.5) + s * b.sway, b.y(51.5));
    [at(-facing), at(facing)]
}

fn draw_props(c: &mut Canvas, o: &Outfit, b: &Body, facing: f32) -> Result<()> {
    for (prop, (hand, side)) in o.props.iter().zip(hands(b, facing).into_iter().zip([-facing, facing])) {
        inked(c, &prop_parts(prop, hand, b.u, side))?;
    }
    Ok(())
}

/// A prop in a hand: where, how big, which way out, and the colour its text names.
#[derive(Debug, Clone, Copy)]
struct Hold {
    x: f32,
    y: f32,
    u: f32,
    side: f32,
    tint: Option<Rgb>,
    fallback: Rgb,
}

type Parts = Vec<(Shape, Rgb)>;

/// Draws one kind of prop.
type PropFn = fn(Hold) -> Parts;

const GOLD: Rgb = Rgb(0.85, 0.68, 0.25);

/// The props drawn by kind, recognised by these words; anything else is a small box.
const PROPS: [(&[&str], PropFn); 10] = [
    (&["lantern", "lamp", "torch"], lantern),
    (&["notebook", "book", "journal", "diary", "ledger"], book),
    (
        &["satchel", "bag", "briefcase", "suitcase", "backpack", "purse", "case"],
        bag,
    ),
    (&["watch", "clock", "compass", "coin", "medal"], watch),
    (&["camera", "phone", "radio"], camera),
    (
        &[
            "map",
            "letter",
            "paper",
            "scroll",
            "newspaper",
            "note",
            "envelope",
            "ticket",
        ],
        paper,
    ),
    (&["key", "keys"], door_key),
    (&["umbrella", "parasol"], umbrella),
    (
        &[
            "sword", "staff", "cane", "stick", "wand", "rod", "spear", "broom", "oar", "pole",
        ],
        staff,
    ),
    (&["flower", "flowers", "bouquet", "rose", "posy"], flower),
];

/// A prop held at `hand`; `side` is +1 when the hand is on the viewer's right.
fn prop_parts(prop: &str, (x, y): (f32, f32), u: f32, side: f32) -> Parts {
    let w = words(prop);
    let tint = colours_in(prop).first().copied();
    let hold = Hold {
        x,
        y,
        u,
        side,
        tint,
        fallback: hashed_colour(prop),
    };
    let draw = PROPS
        .iter()
        .find(|(names, _)| has(&w, names))
        .map_or(parcel as PropFn, |(_, f)| *f);
    draw(hold)
}

fn lantern(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    let cap = Rgb(0.2, 0.2, 0.22);
    vec![
        (Shape::capsule((x, y), (x, y + 3.0 * u), 0.5 * u), INK),
        (
            Shape::round_rect(x - 2.8 * u, y + 3.0 * u, x + 2.8 * u, y + 11.0 * u, u),
            h.tint.unwrap_or(Rgb(1.0, 0.83, 0.35)),
        ),
        (Shape::rect(x - 3.3 * u, y + 2.4 * u, x + 3.3 * u, y + 3.6 * u), cap),
        (Shape::rect(x - 3.3 * u, y + 10.4 * u, x + 3.3 * u, y + 11.6 * u), cap),
    ]
}

fn book(h: Hold) -> Parts {
    let Hold { x, y, u, side, .. } = h;
    let pages = x + side * 2.2 * u;
    vec![
        (
            Shape::rect(x - 3.2 * u, y - 2.0 * u, x + 3.2 * u, y + 6.5 * u),
            h.tint.unwrap_or(Rgb(0.55, 0.18, 0.15)),
        ),
        (
            Shape::rect(pages - 0.6 * u, y - 1.5 * u, pages + 0.6 * u, y + 6.0 * u),
            Rgb(0.95, 0.93, 0.85),
        ),
    ]
}

fn bag(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    let colour = h.tint.unwrap_or(Rgb(0.48, 0.3, 0.16));
    vec![
        (Shape::capsule((x, y), (x, y + 3.0 * u), 0.6 * u), colour.scale(0.7)),
        (
            Shape::round_rect(x - 5.0 * u, y + 2.5 * u, x + 5.0 * u, y + 10.5 * u, 1.4 * u),
            colour,
        ),
        (
            Shape::rect(x - 5.0 * u, y + 2.5 * u, x + 5.0 * u, y + 5.5 * u),
            colour.scale(0.8),
        ),
    ]
}

fn watch(h: Hold) -> Parts {
    let Hold { x, y, u, side, .. } = h;
    let (cx, cy) = (x + side * 2.5 * u, y + 6.5 * u);
    vec![
        (
            Shape::capsule((x, y), (x + side * 2.0 * u, y + 4.0 * u), 0.35 * u),
            GOLD,
        ),
        (Shape::circle(cx, cy, 2.7 * u), h.tint.unwrap_or(GOLD)),
        (Shape::circle(cx, cy, 1.9 * u), Rgb(0.96, 0.95, 0.9)),
        (Shape::capsule((cx, cy), (cx, cy - 1.3 * u), 0.25 * u), INK),
    ]
}

fn camera(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    vec![
        (
            Shape::round_rect(x - 4.0 * u, y - u, x + 4.0 * u, y + 4.5 * u, 0.9 * u),
            h.tint.unwrap_or(Rgb(0.18, 0.18, 0.2)),
        ),
        (Shape::circle(x, y + 1.8 * u, 1.8 * u), Rgb(0.35, 0.42, 0.55)),
        (
            Shape::rect(x + 2.0 * u, y - 0.5 * u, x + 3.4 * u, y + 0.5 * u),
            Rgb(0.9, 0.9, 0.85),
        ),
    ]
}

fn paper(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    let sheet = h.tint.unwrap_or(Rgb(0.93, 0.86, 0.66));
    let mut parts = vec![(Shape::rect(x - 4.5 * u, y - 5.0 * u, x + 4.5 * u, y + 3.0 * u), sheet)];
    for v in [-3.0, -1.0, 1.0] {
        parts.push((
            Shape::rect(x - 3.0 * u, y + (v - 0.2) * u, x + 3.0 * u, y + (v + 0.2) * u),
            sheet.scale(0.6),
        ));
    }
    parts
}

fn door_key(h: Hold) -> Parts {
    let Hold { x, y, u, side, .. } = h;
    let colour = h.tint.unwrap_or(GOLD);
    vec![
        (
            Shape::circle(x, y + 2.0 * u, 1.6 * u).minus(Shape::circle(x, y + 2.0 * u, 0.7 * u)),
            colour,
        ),
        (Shape::capsule((x, y + 3.5 * u), (x, y + 8.5 * u), 0.45 * u), colour),
        (Shape::rect(x, y + 7.0 * u, x + side * 1.6 * u, y + 8.4 * u), colour),
    ]
}

fn umbrella(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    let top = y - 22.0 * u;
    let canopy =
        Shape::ellipse(x, top, 12.0 * u, 7.0 * u).minus(Shape::rect(x - 13.0 * u, top, x + 13.0 * u, top + 8.0 * u));
    vec![
        (Shape::capsule((x, y + u), (x, top), 0.45 * u), INK),
        (canopy, h.tint.unwrap_or(h.fallback)),
    ]
}

fn staff(h: Hold) -> Parts {
    let Hold { x, y, u, side, .. } = h;
    let pole = Shape::capsule((x, y + 9.0 * u), (x + side * 2.0 * u, y - 20.0 * u), 0.9 * u);
    vec![(pole, h.tint.unwrap_or(Rgb(0.5, 0.33, 0.18)))]
}

fn flower(h: Hold) -> Parts {
    let Hold { x, y, u, side, .. } = h;
    let petal = h.tint.unwrap_or(Rgb(0.92, 0.4, 0.55));
    let (fx, fy) = (x + side * u, y - 7.0 * u);
    vec![
        (Shape::capsule((x, y + u), (fx, fy), 0.4 * u), Rgb(0.2, 0.5, 0.22)),
        (Shape::circle(fx - 1.5 * u, fy, 1.6 * u), petal),
        (Shape::circle(fx + 1.5 * u, fy, 1.6 * u), petal),
        (Shape::circle(fx, fy - 1.5 * u, 1.6 * u), petal),
        (Shape::circle(fx, fy - 0.2 * u, u), Rgb(0.98, 0.85, 0.3)),
    ]
}

/// Anything else: a small box in the colour the text names or hashes to.
fn parcel(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    vec![(
        Shape::round_rect(x - 2.5 * u, y - 0.5 * u, x + 2.5 * u, y + 5.5 * u, u),
        h.tint.unwrap_or(h.fallback),
    )]
}

fn draw_head_front(c: &mut Canvas, f: &Features, b: &Body) -> Result<()> {
    let (hx, hy, rx, ry) = b.head;
    let u = b.u;
    let mut parts = vec![
        (
            Shape::ellipse(hx - rx * 0.98, hy + 0.8 * u, 1.4 * u, 2.2 * u),
            f.skin.scale(0.95),
        ),
        (
            Shape::ellipse(hx + rx * 0.98, hy + 0.8 * u, 1.4 * u, 2.2 * u),
            f.skin.scale(0.95),
        ),
        (Shape::ellipse(hx, hy, rx, ry), f.skin),
    ];
    if f.square_jaw {
        parts.push((
            Shape::round_rect(hx - rx * 0.86, hy, hx + rx * 0.86, hy + ry * 0.96, 2.5 * u),
            f.skin,
        ));
    }
    inked(c, &parts)?;
    draw_face(c, f, b)?;
    if f.style != HairStyle::Bald {
        let cap = Shape::ellipse(hx, hy - 1.2 * u, rx * 1.07, ry * 0.98).minus(Shape::ellipse(
            hx,
            hy + 2.6 * u,
            rx * 0.93,
            ry * 0.86,
        ));
        inked(c, &[(cap, f.hair)])?;
    }
    Ok(())
}

const EYE_WHITE: Rgb = Rgb(0.97, 0.97, 0.95);
const LIPS: Rgb = Rgb(0.62, 0.24, 0.24);
const BLUSH: Rgb = Rgb(0.95, 0.45, 0.45);

/// Paints the parts in order, without outlines.
fn filled(c: &mut Canvas, parts: &[(Shape, Rgb)]) -> Result<()> {
    for (shape, colour) in parts {
        c.fill(shape, *colour)?;
    }
    Ok(())
}

/// An eye centred at `e`, `narrow` as wide as from the front, looking `look` eye-widths aside,
/// with its brow and the glasses' rim.
fn eye(f: &Features, e: (f32, f32), u: f32, narrow: f32, look: f32) -> Parts {
    let brow = if f.thick_brows { 0.65 } else { 0.4 } * u;
    let mut parts = vec![
        (Shape::ellipse(e.0, e.1, 1.7 * u * narrow, 1.25 * u), EYE_WHITE),
        (Shape::circle(e.0 + look * u, e.1, u * narrow.max(0.8)), f.eyes),
        (Shape::circle(e.0 + look * 1.5 * u, e.1, 0.45 * u), INK),
        (
            Shape::capsule((e.0 - 1.6 * u, e.1 - 2.4 * u), (e.0 + 1.6 * u, e.1 - 2.6 * u), brow),
            f.hair.scale(0.8),
        ),
    ];
    if f.glasses {
        parts.push((
            Shape::circle(e.0, e.1, 2.4 * u).minus(Shape::circle(e.0, e.1, 1.9 * u)),
            INK,
        ));
    }
    parts
}

/// Freckles and age lines on one side (`s` = ±1) of a face seen from the front.
fn marks(f: &Features, b: &Body, s: f32) -> Parts {
    let (hx, hy, rx, _) = b.head;
    let u = b.u;
    let mut parts = Vec::new();
    if f.freckles {
        for (dx, dy) in [(-0.8, 2.3), (0.6, 2.6), (0.0, 3.4)] {
            parts.push((
                Shape::circle(hx + s * (0.6 * rx + dx * u), hy + dy * u, 0.3 * u),
                f.skin.scale(0.72),
            ));
        }
    }
    if f.lined {
        let e = (hx + s * 0.45 * rx, hy + 0.4 * u);
        let line = Shape::capsule(
            (e.0 + s * 2.2 * u, e.1 + 0.2 * u),
            (e.0 + s * 3.0 * u, e.1 + 0.9 * u),
            0.18 * u,
        );
        parts.push((line, f.skin.scale(0.7)));
    }
    parts
}

fn draw_face(c: &mut Canvas, f: &Features, b: &Body) -> Result<()> {
    let (hx, hy, rx, _) = b.head;
    let u = b.u;
    for s in [-1.0f32, 1.0] {
        let cheek = Shape::ellipse(hx + s * 0.6 * rx, hy + 2.8 * u, 1.6 * u, u);
        c.paint(&cheek, 0.0, 0.35, &Fill::Solid(BLUSH))?;
        filled(c, &eye(f, (hx + s * 0.45 * rx, hy + 0.4 * u), u, 1.0, 0.0))?;
        filled(c, &marks(f, b, s))?;
    }
    let mut parts = vec![(
        Shape::capsule((hx, hy + 1.2 * u), (hx + 0.4 * u, hy + 2.8 * u), 0.55 * u),
        f.skin.scale(0.84),
    )];
    if f.glasses {
        let bridge = Shape::capsule(
            (hx - 0.45 * rx + 2.4 * u, hy + 0.4 * u),
            (hx + 0.45 * rx - 2.4 * u, hy + 0.4 * u),
            0.3 * u,
        );
        parts.push((bridge, INK));
    }
    if f.beard {
        let beard =
            Shape::ellipse(hx, hy + 3.5 * u, rx * 0.95, 6.0 * u).minus(Shape::ellipse(hx, hy + 0.2 * u, rx, 5.5 * u));
        parts.push((beard, f.hair));
    }
    parts.push((
        Shape::capsule((hx - 2.0 * u, hy + 4.8 * u), (hx + 2.0 * u, hy + 4.8 * u), 0.45 * u),
        LIPS,
    ));
    filled(c, &parts)
}

fn draw_head_side(c: &mut Canvas, f: &Features, b: &Body) -> Result<()> {
    let (hx, hy, rx, ry) = b.head;
    let u = b.u;
    let mut head = vec![
        (Shape::ellipse(hx + rx * 1.02, hy + 1.4 * u, 1.5 * u, 1.7 * u), f.skin),
        (Shape::ellipse(hx, hy, rx * 1.04, ry), f.skin),
    ];
    if f.square_jaw {
        head.push((
            Shape::round_rect(hx - rx * 0.6, hy, hx + rx * 0.95, hy + ry * 0.96, 2.5 * u),
            f.skin,
        ));
    }
    inked(c, &head)?;
    let e = (hx + rx * 0.58, hy + 0.4 * u);
    let mut parts = eye(f, e, u, 0.6, 0.3);
    if f.glasses {
        parts.push((
            Shape::capsule((e.0 - 2.3 * u, e.1), (hx - 0.5 * u, e.1 - 0.5 * u), 0.3 * u),
            INK,
        ));
    }
    if f.beard {
        let jaw = Shape::ellipse(hx + 0.25 * rx, hy + 3.5 * u, rx * 0.8, 6.0 * u);
        parts.push((
            jaw.minus(Shape::ellipse(hx + 0.3 * rx, hy + 0.2 * u, rx, 5.5 * u)),
            f.hair,
        ));
    }
    parts.push((
        Shape::capsule((hx + rx * 0.62, hy + 4.8 * u), (hx + rx * 0.9, hy + 4.7 * u), 0.45 * u),
        LIPS,
    ));
    filled(c, &parts)?;
    if f.style != HairStyle::Bald {
        let face = Shape::ellipse(hx + 3.4 * u, hy + 2.8 * u, rx * 0.9, ry * 0.86);
        inked(
            c,
            &[(
                Shape::ellipse(hx - 0.4 * u, hy - 1.2 * u, rx * 1.12, ry).minus(face),
                f.hair,
            )],
        )?;
    }
    inked(
        c,
        &[(
            Shape::ellipse(hx - 0.8 * u, hy + u, 1.4 * u, 2.2 * u),
            f.skin.scale(0.95),
        )],
    )
}

// ---------------------------------------------------------------------------------------------
// Scenes.

/// The light of a scene.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Time {
    Day,
    Night,
    Dusk,
    Dawn,
    /// Anything else: a sky of a hashed hue.
    Other(f32),
}

impl Time {
    fn of(scene: &Scene) -> Time {
        let tail = scene.slugline.rsplit('-').next().unwrap_or_default();
        Time::from_words(&words(&scene.time_of_day))
            .or_else(|| Time::from_words(&words(tail)))
            .unwrap_or_else(|| Time::Other((hash_str(&scene.time_of_day) % 1000) as f32 / 1000.0))
    }

    fn from_words(w: &[String]) -> Option<Time> {
        if has(w, &["night", "midnight", "nighttime", "late"]) {
            Some(Time::Night)
        } else if has(w, &["dusk", "evening", "sunset", "twilight", "sundown"]) {
            Some(Time::Dusk)
        } else if has(w, &["dawn", "morning", "sunrise", "daybreak"]) {
            Some(Time::Dawn)
        } else if has(
            w,
            &["day", "noon", "afternoon", "daytime", "midday", "continuous", "later"],
        ) {
            Some(Time::Day)
        } else {
            None
        }
    }

    /// The sky's colours at the zenith and at the horizon.
    fn sky(self) -> (Rgb, Rgb) {
        match self {
            Time::Day => (Rgb(0.3, 0.55, 0.88), Rgb(0.74, 0.87, 0.97)),
            Time::Night => (Rgb(0.02, 0.03, 0.1), Rgb(0.1, 0.13, 0.28)),
            Time::Dusk => (Rgb(0.22, 0.17, 0.42), Rgb(0.98, 0.58, 0.32)),
            Time::Dawn => (Rgb(0.48, 0.62, 0.86), Rgb(1.0, 0.82, 0.68)),
            Time::Other(hue) => (Rgb::hsl(hue, 0.45, 0.35), Rgb::hsl(hue + 0.08, 0.5, 0.75)),
        }
    }

    /// What the light does to lit colours.
    fn light(self) -> Rgb {
        match self {
            Time::Day => Rgb(1.0, 1.0, 1.0),
            Time::Night => Rgb(0.3, 0.34, 0.55),
            Time::Dusk => Rgb(0.88, 0.68, 0.62),
            Time::Dawn => Rgb(0.97, 0.88, 0.86),
            Time::Other(hue) => Rgb::hsl(hue, 0.3, 0.8),
        }
    }

    /// Indoor light: lamps soften the night.
    fn indoor(self) -> Rgb {
        match self {
            Time::Night => Rgb(0.68, 0.6, 0.55),
            other => other.light().mix(Rgb(1.0, 1.0, 1.0), 0.5),
        }
    }
}

fn lit(c: Rgb, light: Rgb) -> Rgb {
    Rgb(c.0 * light.0, c.1 * light.1, c.2 * light.2)
}

/// What a scene shows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Place {
    Water { beach: bool, harbour: bool },
    City,
    Woods { dense: bool },
    Open { sandy: bool },
    Room(Room),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Room {
    Library,
    Kitchen,
    Workshop,
    Lighthouse,
    Station,
    Plain,
}

impl Place {
    fn of(scene: &Scene) -> Place {
        let w = words(&format!("{} {}", scene.location, scene.slugline));
        let heading = scene.slugline.trim_start().to_ascii_uppercase();
        let inside = if heading.starts_with("INT") {
            true
        } else if heading.starts_with("EXT") || heading.starts_with("I/E") {
            false
        } else {
            has(&w, &ROOM_WORDS)
        };
        if inside {
            Place::Room(Room::of(&w))
        } else {
            Place::outside(&w)
        }
    }

    fn outside(w: &[String]) -> Place {
        let beach = has(
            w,
            &["beach", "shore", "coast", "seaside", "sand", "sands", "cove", "bay"],
        );
        let harbour = has(
            w,
            &[
                "harbour", "harbor", "port", "dock", "docks", "pier", "quay", "wharf", "marina",
            ],
        );
        if beach || harbour || has(w, &["sea", "ocean", "lake", "river", "water", "lighthouse", "boat"]) {
            Place::Water { beach, harbour }
        } else if has(
            w,
            &[
                "city", "street", "town", "road", "alley", "market", "square", "avenue", "downtown", "station",
            ],
        ) {
            Place::City
        } else if has(w, &["forest", "woods", "wood", "jungle", "grove", "orchard"]) {
            Place::Woods { dense: true }
        } else if has(w, &["park", "garden", "gardens", "meadow", "yard", "cemetery"]) {
            Place::Woods { dense: false }
        } else {
            Place::Open {
                sandy: has(w, &["desert", "dune", "dunes", "canyon", "wasteland"]),
            }
        }
    }
}

const ROOM_WORDS: [&str; 14] = [
    "room",
    "kitchen",
    "office",
    "library",
    "bedroom",
    "hall",
    "house",
    "apartment",
    "workshop",
    "cafe",
    "bar",
    "shop",
    "interior",
    "inside",
];

impl Room {
    fn of(w: &[String]) -> Room {
        if has(w, &["library", "study", "bookshop", "archive", "archives"]) {
            Room::Library
        } else if has(w, &["kitchen", "cafe", "diner", "restaurant", "bakery", "bar", "pub"]) {
            Room::Kitchen
        } else if has(
            w,
            &["workshop", "garage", "shed", "lab", "laboratory", "factory", "studio"],
        ) {
            Room::Workshop
        } else if has(w, &["lighthouse", "cabin", "ship", "tower"]) {
            Room::Lighthouse
        } else if has(w, &["station", "terminal", "airport", "hall", "church", "museum"]) {
            Room::Station
        } else {
            Room::Plain
        }
    }
}

/// Frame geometry shared by a scene's painters.
struct Stage {
    w: f32,
    h: f32,
    horizon: f32,
    time: Time,
}

fn render_scene(scene: &Scene, w: usize, h: usize, seed: u64) -> Result<RgbImage> {
    let mut rng = Rng::derive(seed, &scene.id);
    let time = Time::of(scene);
    let c = match Place::of(scene) {
        Place::Room(room) => interior(room, time, (w, h), &mut rng)?,
        place => exterior(place, time, (w, h), &mut rng)?,
    };
    c.to_image()
}

fn unit(rng: &mut Rng) -> f32 {
    rng.unit() as f32
}

fn exterior(place: Place, time: Time, (w, h): (usize, usize), rng: &mut Rng) -> Result<Canvas> {
    let s = Stage {
        w: w as f32,
        h: h as f32,
        horizon: h as f32 * (0.55 + 0.1 * unit(rng)),
        time,
    };
    let mut c = sky(&s, (w, h))?;
    let sun_x = celestial(&mut c, &s, rng)?;
    clouds(&mut c, &s, rng)?;
    match place {
        Place::Water { beach, harbour } => water(&mut c, &s, (beach, harbour), sun_x, rng)?,
        Place::City => city(&mut c, &s, rng)?,
        Place::Woods { dense } => woods(&mut c, &s, dense, rng)?,
        _ => open(&mut c, &s, matches!(place, Place::Open { sandy: true }), rng)?,
    }
    Ok(c)
}

fn sky(s: &Stage, (w, h): (usize, usize)) -> Result<Canvas> {
    let (top, bottom) = s.time.sky();
    let mut c = Canvas::filled(w, h, top)?;
    let gradient = c.rows_gradient(0.0, s.horizon, top, bottom)?;
    c.set(&gradient.broadcast_as((3, h, w))?)?;
    if s.time == Time::Night {
        stars(&mut c, s, w, h)?;
    }
    Ok(c)
}

fn stars(c: &mut Canvas, s: &Stage, w: usize, h: usize) -> Result<()> {
    let mut rng = Rng::new(hash_str("stars") ^ (w as u64) << 20 ^ h as u64);
    let mut field = vec![0f32; w * h];
    for _ in 0..(w * h / 700) {
        let (x, y) = (
            rng.below(w),
            (unit(&mut rng) * unit(&mut rng) * s.horizon * 0.9) as usize,
        );
        field[y.min(h - 1) * w + x] = 0.4 + 0.6 * unit(&mut rng);
    }
    let mask = Tensor::from_vec(field, (1, h, w), &candle_core::Device::Cpu)?;
    c.composite(&Rgb(1.0, 1.0, 0.92).tensor()?, &mask)
}

/// The sun or moon; returns its x, for reflections.
fn celestial(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<f32> {
    let x = s.w * (0.15 + 0.7 * unit(rng));
    let (y, r, colour, glow) = match s.time {
        Time::Day => (
            s.horizon * (0.18 + 0.15 * unit(rng)),
            s.h * 0.05,
            Rgb(1.0, 0.98, 0.86),
            Rgb(1.0, 0.97, 0.85),
        ),
        Time::Night => (
            s.horizon * (0.15 + 0.2 * unit(rng)),
            s.h * 0.045,
            Rgb(0.96, 0.95, 0.86),
            Rgb(0.7, 0.75, 0.9),
        ),
        Time::Dusk => (
            s.horizon - s.h * 0.02,
            s.h * 0.08,
            Rgb(1.0, 0.55, 0.25),
            Rgb(1.0, 0.6, 0.3),
        ),
        Time::Dawn => (
            s.horizon - s.h * 0.04,
            s.h * 0.06,
            Rgb(1.0, 0.92, 0.72),
            Rgb(1.0, 0.75, 0.7),
        ),
        Time::Other(_) => return Ok(x),
    };
    c.soft(&Shape::circle(x, y, r * 4.5), r * 4.5, 0.55, &Fill::Solid(glow))?;
    let disc = Shape::circle(x, y, r);
    let disc = if s.time == Time::Night {
        disc.minus(Shape::circle(x + 0.45 * r, y - 0.2 * r, r * 0.85))
    } else {
        disc
    };
    c.fill(&disc, colour)?;
    Ok(x)
}

fn clouds(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let colour = match s.time {
        Time::Night => return Ok(()),
        Time::Dusk => Rgb(0.95, 0.66, 0.6),
        Time::Dawn => Rgb(1.0, 0.9, 0.88),
        _ => Rgb(0.98, 0.98, 0.99),
    };
    for _ in 0..2 + rng.below(4) {
        let (x, y, r) = (
            s.w * unit(rng),
            s.horizon * (0.1 + 0.45 * unit(rng)),
            s.h * (0.035 + 0.035 * unit(rng)),
        );
        let puff = Shape::Union(vec![
            Shape::ellipse(x, y, 2.2 * r, r),
            Shape::ellipse(x - 1.4 * r, y + 0.3 * r, 1.4 * r, 0.75 * r),
            Shape::ellipse(x + 1.5 * r, y + 0.2 * r, 1.6 * r, 0.8 * r),
            Shape::ellipse(x + 0.3 * r, y - 0.55 * r, 1.3 * r, 0.9 * r),
        ]);
        c.paint(&puff, 0.0, 0.85, &Fill::Solid(colour))?;
    }
    Ok(())
}

/// Fills everything below `y0` with a vertical gradient.
fn ground(c: &mut Canvas, s: &Stage, y0: f32, far: Rgb, near: Rgb) -> Result<()> {
    let gradient = c.rows_gradient(y0, s.h, far, near)?;
    c.paint(
        &Shape::rect(-1.0, y0, s.w + 1.0, s.h + 1.0),
        0.0,
        1.0,
        &Fill::Image(&gradient),
    )
}

fn water(c: &mut Canvas, s: &Stage, (beach, harbour): (bool, bool), sun_x: f32, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let far = s.time.sky().1.mix(lit(Rgb(0.2, 0.45, 0.6), light), 0.55);
    ground(c, s, s.horizon, far, lit(Rgb(0.06, 0.24, 0.4), light))?;
    waves(c, s, rng)?;
    let depth = s.h - s.horizon;
    let shine = Shape::ellipse(sun_x, s.horizon + depth * 0.3, s.w * 0.04, depth * 0.3);
    c.soft(
        &shine,
        s.w * 0.04,
        0.35,
        &Fill::Solid(s.time.sky().1.mix(Rgb(1.0, 1.0, 0.9), 0.5)),
    )?;
    for _ in 0..1 + rng.below(2) {
        boat(c, s, rng)?;
    }
    if beach {
        sand(c, s, rng)?;
    }
    if harbour {
        quay(c, s, rng)?;
    }
    Ok(())
}

/// Light wave crests on the water, spaced wider towards the viewer.
fn waves(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let k = std::f64::consts::TAU / f64::from(s.w / (10.0 + 8.0 * unit(rng)));
    let rows = c
        .ys()
        .affine(1.0, -f64::from(s.horizon))?
        .relu()?
        .sqrt()?
        .affine(1.6, 0.0)?
        .sin()?;
    let jitter = c
        .ys()
        .affine(0.37, f64::from(unit(rng)) * 6.0)?
        .sin()?
        .affine(9.0, 0.0)?;
    let cols = c.xs().affine(k, 0.0)?.broadcast_add(&jitter)?.sin()?;
    let crest = cols.broadcast_mul(&rows)?.affine(5.0, -3.0)?.clamp(0f32, 1f32)?;
    let below = c.row_ramp(s.horizon + 1.0, s.horizon + 4.0)?;
    let mask = crest.broadcast_mul(&below)?.affine(0.35, 0.0)?;
    c.composite(&lit(Rgb(0.85, 0.93, 1.0), s.time.light()).tensor()?, &mask)
}

fn boat(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let depth = 0.15 + 0.35 * unit(rng);
    let (x, y) = (s.w * (0.1 + 0.8 * unit(rng)), s.horizon + (s.h - s.horizon) * depth);
    let k = s.h * 0.05 * (0.6 + depth);
    let light = s.time.light();
    let hull = Shape::Polygon(vec![
        (x - 2.0 * k, y),
        (x + 2.0 * k, y),
        (x + 1.5 * k, y + 0.7 * k),
        (x - 1.5 * k, y + 0.7 * k),
    ]);
    let hull_colour = *rng.pick(&[Rgb(0.7, 0.2, 0.15), Rgb(0.92, 0.92, 0.88), Rgb(0.2, 0.3, 0.55)]);
    c.paint(&hull, 1.0, 1.0, &Fill::Solid(INK))?;
    c.fill(&hull, lit(hull_colour, light))?;
    c.fill(
        &Shape::capsule((x, y), (x, y - 2.6 * k), 0.08 * k),
        lit(Rgb(0.35, 0.25, 0.15), light),
    )?;
    let sail = Shape::Polygon(vec![
        (x + 0.15 * k, y - 2.5 * k),
        (x + 0.15 * k, y - 0.3 * k),
        (x + 1.6 * k, y - 0.3 * k),
    ]);
    c.fill(&sail, lit(Rgb(0.96, 0.94, 0.88), light))
}

fn sand(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let (mut yl, mut yr) = (s.h * (0.72 + 0.06 * unit(rng)), s.h * (0.82 + 0.08 * unit(rng)));
    if rng.below(2) == 0 {
        std::mem::swap(&mut yl, &mut yr);
    }
    let light = s.time.light();
    let shore = Shape::Polygon(vec![
        (-1.0, yl),
        (s.w + 1.0, yr),
        (s.w + 1.0, s.h + 1.0),
        (-1.0, s.h + 1.0),
    ]);
    let gradient = c.rows_gradient(
        yl.min(yr),
        s.h,
        lit(Rgb(0.86, 0.76, 0.55), light),
        lit(Rgb(0.95, 0.86, 0.64), light),
    )?;
    c.paint(&shore, 0.0, 1.0, &Fill::Image(&gradient))?;
    c.paint(
        &Shape::capsule((-1.0, yl), (s.w + 1.0, yr), s.h * 0.006),
        0.0,
        0.8,
        &Fill::Solid(lit(Rgb(1.0, 1.0, 1.0), light)),
    )
}

fn quay(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let top = s.h * (0.82 + 0.05 * unit(rng));
    let stone = lit(Rgb(0.52, 0.5, 0.47), light);
    c.fill(&Shape::rect(-1.0, top, s.w + 1.0, s.h + 1.0), stone)?;
    c.fill(&Shape::rect(-1.0, top, s.w + 1.0, top + s.h * 0.015), stone.scale(1.2))?;
    jetty(c, s, top, rng)?;
    for i in 0..3 {
        let x = s.w * (0.1 + 0.35 * i as f32) + s.w * 0.05 * unit(rng);
        c.fill(
            &Shape::round_rect(x, top - s.h * 0.03, x + s.h * 0.025, top + s.h * 0.01, s.h * 0.008),
            lit(Rgb(0.15, 0.15, 0.17), light),
        )?;
    }
    Ok(())
}

/// A wooden jetty running from one side out over the water.
fn jetty(c: &mut Canvas, s: &Stage, quay: f32, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let deck = s.horizon + (quay - s.horizon) * (0.35 + 0.25 * unit(rng));
    let (x0, x1) = if rng.below(2) == 0 {
        (-1.0, s.w * 0.42)
    } else {
        (s.w * 0.58, s.w + 1.0)
    };
    let wood = lit(Rgb(0.45, 0.32, 0.2), light);
    let post = s.h * 0.008;
    let mut x = x0 + s.w * 0.03;
    while x < x1 {
        c.fill(
            &Shape::rect(x - post, deck, x + post, deck + s.h * 0.07),
            wood.scale(0.6),
        )?;
        x += s.w * 0.06;
    }
    c.fill(&Shape::rect(x0, deck - s.h * 0.012, x1, deck + s.h * 0.012), wood)?;
    c.fill(
        &Shape::rect(x0, deck + s.h * 0.008, x1, deck + s.h * 0.014),
        wood.scale(0.7),
    )
}

fn city(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let mut fronts: Option<Tensor> = None;
    let mut x = -s.w * 0.05 * unit(rng);
    while x < s.w {
        let (bw, bh) = (s.w * (0.07 + 0.08 * unit(rng)), s.horizon * (0.3 + 0.5 * unit(rng)));
        let hue = if rng.below(2) == 0 {
            0.05 + 0.06 * unit(rng)
        } else {
            0.55 + 0.1 * unit(rng)
        };
        let colour = lit(Rgb::hsl(hue, 0.18, 0.38 + 0.25 * unit(rng)), light);
        c.fill(&Shape::rect(x, s.horizon - bh, x + bw, s.horizon + 1.0), colour)?;
        c.fill(
            &Shape::rect(x - 2.0, s.horizon - bh - 3.0, x + bw + 2.0, s.horizon - bh + 2.0),
            colour.scale(0.75),
        )?;
        let inner = c.mask(&Shape::rect(
            x + bw * 0.12,
            s.horizon - bh + s.h * 0.03,
            x + bw * 0.88,
            s.horizon - s.h * 0.03,
        ))?;
        fronts = Some(match fronts {
            Some(f) => f.maximum(&inner)?,
            None => inner,
        });
        x += bw + s.w * 0.015 * unit(rng);
    }
    if let Some(fronts) = fronts {
        windows(c, s, &fronts)?;
    }
    street(c, s, rng)
}

/// A grid of windows over the building fronts; at night some are lit.
fn windows(c: &mut Canvas, s: &Stage, fronts: &Tensor) -> Result<()> {
    let (px, py) = (f64::from(s.h * 0.035), f64::from(s.h * 0.05));
    let tau = std::f64::consts::TAU;
    let gx = c
        .xs()
        .affine(tau / px, 0.0)?
        .sin()?
        .affine(6.0, -0.6)?
        .clamp(0f32, 1f32)?;
    let gy = c
        .ys()
        .affine(tau / py, 0.0)?
        .sin()?
        .affine(6.0, -0.6)?
        .clamp(0f32, 1f32)?;
    let grid = gx.broadcast_mul(&gy)?.mul(fronts)?;
    if s.time != Time::Night {
        return c.composite(
            &lit(Rgb(0.72, 0.8, 0.9), s.time.light()).tensor()?,
            &grid.affine(0.75, 0.0)?,
        );
    }
    let cx = c.xs().affine(1.0 / px, 0.0)?.floor()?.affine(12.9898, 0.0)?;
    let cy = c.ys().affine(1.0 / py, 0.0)?.floor()?.affine(78.233, 0.0)?;
    let noise = cx.broadcast_add(&cy)?.sin()?.affine(43758.547, 0.0)?;
    let lit_cells = noise.sub(&noise.floor()?)?.affine(20.0, -9.0)?.clamp(0f32, 1f32)?;
    let glass = blend(
        &Rgb(0.08, 0.1, 0.16).tensor()?,
        &Rgb(1.0, 0.84, 0.45).tensor()?,
        &lit_cells,
    )?;
    c.composite(&glass, &grid)
}

fn street(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let kerb = s.horizon + (s.h - s.horizon) * 0.22;
    c.fill(
        &Shape::rect(-1.0, s.horizon, s.w + 1.0, kerb),
        lit(Rgb(0.64, 0.62, 0.6), light),
    )?;
    ground(
        c,
        s,
        kerb,
        lit(Rgb(0.36, 0.36, 0.38), light),
        lit(Rgb(0.26, 0.26, 0.28), light),
    )?;
    let lane = kerb + (s.h - kerb) * 0.45;
    let dash = f64::from(s.w / 9.0);
    let dashes = c
        .xs()
        .affine(std::f64::consts::TAU / dash, f64::from(unit(rng)) * 6.0)?
        .sin()?
        .affine(8.0, 0.0)?
        .clamp(0f32, 1f32)?;
    let band = c.mask(&Shape::rect(-1.0, lane, s.w + 1.0, lane + s.h * 0.015))?;
    c.composite(
        &lit(Rgb(0.92, 0.88, 0.7), light).tensor()?,
        &band.broadcast_mul(&dashes)?,
    )?;
    if matches!(s.time, Time::Night | Time::Dusk) {
        for i in 0..3 {
            let x = s.w * (0.15 + 0.35 * i as f32);
            lamp_post(c, s, x, kerb)?;
        }
    }
    Ok(())
}

fn lamp_post(c: &mut Canvas, s: &Stage, x: f32, base: f32) -> Result<()> {
    let top = base - s.h * 0.38;
    c.soft(
        &Shape::circle(x, top, s.h * 0.12),
        s.h * 0.12,
        0.5,
        &Fill::Solid(Rgb(1.0, 0.85, 0.5)),
    )?;
    c.fill(&Shape::capsule((x, base), (x, top), s.h * 0.006), Rgb(0.12, 0.12, 0.14))?;
    c.fill(&Shape::circle(x, top, s.h * 0.018), Rgb(1.0, 0.92, 0.65))
}

fn woods(c: &mut Canvas, s: &Stage, dense: bool, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    ground(
        c,
        s,
        s.horizon,
        lit(Rgb(0.42, 0.6, 0.3), light),
        lit(Rgb(0.2, 0.42, 0.16), light),
    )?;
    let line = lit(Rgb(0.16, 0.33, 0.18), light);
    let mut x = -s.w * 0.02;
    while x < s.w * 1.02 {
        let r = s.w * (0.025 + 0.025 * unit(rng));
        c.fill(&Shape::ellipse(x, s.horizon - r * 0.4, r, r * (1.2 + unit(rng))), line)?;
        x += r * 1.2;
    }
    if !dense {
        let path = Shape::Polygon(vec![
            (s.w * 0.48, s.horizon),
            (s.w * 0.52, s.horizon),
            (s.w * 0.72, s.h + 1.0),
            (s.w * 0.3, s.h + 1.0),
        ]);
        c.fill(&path, lit(Rgb(0.82, 0.72, 0.52), light))?;
    }
    let mut bases: Vec<(f32, f32)> = (0..if dense { 9 } else { 5 })
        .map(|_| {
            let x = unit(rng);
            let x = if dense || x < 0.5 {
                x * if dense { 1.0 } else { 0.5 }
            } else {
                0.5 + x * 0.5
            };
            (s.w * x, s.horizon + (s.h - s.horizon) * (0.05 + 0.9 * unit(rng)))
        })
        .collect();
    bases.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (x, y) in bases {
        tree(c, s, (x, y), rng)?;
    }
    Ok(())
}

fn tree(c: &mut Canvas, s: &Stage, (x, base): (f32, f32), rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let near = (base - s.horizon) / (s.h - s.horizon).max(1.0);
    let th = s.h * (0.22 + 0.4 * near);
    let bark = lit(Rgb(0.36, 0.24, 0.14), light);
    c.fill(
        &Shape::Polygon(vec![
            (x - th * 0.05, base),
            (x + th * 0.05, base),
            (x + th * 0.025, base - th * 0.6),
            (x - th * 0.025, base - th * 0.6),
        ]),
        bark,
    )?;
    let leaves = lit(Rgb::hsl(0.27 + 0.08 * unit(rng), 0.45, 0.3 + 0.08 * unit(rng)), light);
    let crown = Shape::Union(vec![
        Shape::ellipse(x, base - th * 0.74, th * 0.27, th * 0.26),
        Shape::ellipse(x - th * 0.2, base - th * 0.56, th * 0.21, th * 0.17),
        Shape::ellipse(x + th * 0.2, base - th * 0.58, th * 0.22, th * 0.18),
        Shape::ellipse(x, base - th * 0.52, th * 0.22, th * 0.13),
    ]);
    c.paint(&crown, 1.0, 1.0, &Fill::Solid(leaves.scale(0.55)))?;
    c.fill(&crown, leaves)?;
    let lit_side = Shape::ellipse(x - th * 0.08, base - th * 0.8, th * 0.17, th * 0.14);
    c.soft(&lit_side, th * 0.12, 0.5, &Fill::Solid(leaves.scale(1.35)))
}

fn open(c: &mut Canvas, s: &Stage, sandy: bool, rng: &mut Rng) -> Result<()> {
    let light = s.time.light();
    let (far, near) = if sandy {
        (Rgb(0.88, 0.72, 0.5), Rgb(0.8, 0.6, 0.38))
    } else {
        (Rgb(0.45, 0.62, 0.32), Rgb(0.28, 0.5, 0.2))
    };
    for i in 0..3 {
        let x = s.w * (0.2 + 0.3 * i as f32 + 0.15 * (unit(rng) - 0.5));
        let hill = Shape::ellipse(
            x,
            s.horizon + s.h * 0.08,
            s.w * (0.25 + 0.15 * unit(rng)),
            s.h * (0.12 + 0.1 * unit(rng)),
        );
        c.fill(
            &hill,
            lit(far.mix(near, 0.3 * i as f32).scale(0.85 + 0.1 * i as f32), light),
        )?;
    }
    ground(c, s, s.horizon + s.h * 0.06, lit(far, light), lit(near, light))
}

// Interiors.

fn interior(room: Room, time: Time, (w, h): (usize, usize), rng: &mut Rng) -> Result<Canvas> {
    let s = Stage {
        w: w as f32,
        h: h as f32,
        horizon: h as f32 * (0.68 + 0.06 * unit(rng)),
        time,
    };
    let light = time.indoor();
    let wall = lit(wall_colour(room, rng), light);
    let mut c = Canvas::filled(w, h, wall)?;
    let gradient = c.rows_gradient(0.0, s.horizon, wall.scale(0.8), wall)?;
    c.set(&gradient.broadcast_as((3, h, w))?)?;
    floor(&mut c, &s, lit(Rgb(0.55, 0.38, 0.24), light))?;
    match room {
        Room::Library => shelves(&mut c, &s, rng)?,
        Room::Kitchen => kitchen(&mut c, &s, rng)?,
        Room::Workshop => workshop(&mut c, &s, rng)?,
        Room::Lighthouse => porthole(&mut c, &s, rng)?,
        Room::Station => arches(&mut c, &s, rng)?,
        Room::Plain => plain_room(&mut c, &s, rng)?,
    }
    if time == Time::Night {
        pendant(&mut c, &s, rng)?;
    }
    Ok(c)
}

fn wall_colour(room: Room, rng: &mut Rng) -> Rgb {
    let (hue, sat, light) = match room {
        Room::Library => (0.07, 0.3, 0.45),
        Room::Kitchen => (0.12, 0.35, 0.78),
        Room::Workshop => (0.08, 0.15, 0.55),
        Room::Lighthouse => (0.1, 0.08, 0.7),
        Room::Station => (0.58, 0.1, 0.72),
        Room::Plain => (unit(rng), 0.25, 0.66),
    };
    Rgb::hsl(hue + 0.04 * (unit(rng) - 0.5), sat, light)
}

fn floor(c: &mut Canvas, s: &Stage, wood: Rgb) -> Result<()> {
    ground(c, s, s.horizon, wood.scale(0.8), wood)?;
    let boards = c
        .ys()
        .affine(1.0, -f64::from(s.horizon))?
        .relu()?
        .sqrt()?
        .affine(2.2, 0.0)?
        .sin()?;
    let lines = boards
        .affine(6.0, -5.0)?
        .clamp(0f32, 1f32)?
        .broadcast_mul(&c.row_ramp(s.horizon + 2.0, s.horizon + 3.0)?)?;
    c.composite(&wood.scale(0.6).tensor()?, &lines.affine(0.5, 0.0)?)?;
    c.fill(
        &Shape::rect(-1.0, s.horizon - s.h * 0.025, s.w + 1.0, s.horizon),
        wood.scale(0.55),
    )
}

/// A window showing the sky of the scene's time over distant land or sea.
fn window(c: &mut Canvas, s: &Stage, shape: &Shape, sea: bool) -> Result<()> {
    let (x0, y0, x1, y1) = shape.bbox();
    let (top, bottom) = s.time.sky();
    c.paint(
        shape,
        s.h * 0.012,
        1.0,
        &Fill::Solid(Rgb(0.93, 0.9, 0.84).scale(s.time.indoor().1)),
    )?;
    let view = c.rows_gradient(y0, y1, top, bottom)?;
    c.paint(shape, 0.0, 1.0, &Fill::Image(&view))?;
    let land = if sea {
        Rgb(0.15, 0.35, 0.55)
    } else {
        Rgb(0.3, 0.5, 0.28)
    };
    let strip = shape.clone().and(Shape::rect(x0, y0 + (y1 - y0) * 0.72, x1, y1));
    c.paint(&strip, 0.0, 0.9, &Fill::Solid(lit(land, s.time.light())))?;
    let bar = Rgb(0.93, 0.9, 0.84).scale(s.time.indoor().1);
    c.fill(&Shape::rect((x0 + x1) / 2.0 - 1.5, y0, (x0 + x1) / 2.0 + 1.5, y1), bar)?;
    c.fill(&Shape::rect(x0, (y0 + y1) / 2.0 - 1.5, x1, (y0 + y1) / 2.0 + 1.5), bar)
}

fn shelves(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let wood = lit(Rgb(0.36, 0.22, 0.12), s.time.indoor());
    let (x0, x1, y0, y1) = (s.w * 0.04, s.w * 0.96, s.h * 0.1, s.horizon - s.h * 0.02);
    c.fill(&Shape::rect(x0, y0, x1, y1), wood)?;
    let books = book_spines(c, s, rng)?;
    let rows = 4;
    let step = (y1 - y0) / rows as f32;
    for i in 0..rows {
        let top = y0 + step * i as f32;
        let height = step * (0.72 + 0.12 * unit(rng));
        c.paint(
            &Shape::rect(x0 + 6.0, top + step - 4.0 - height, x1 - 6.0, top + step - 4.0),
            0.0,
            1.0,
            &Fill::Image(&books),
        )?;
    }
    Ok(())
}

/// A `[3, 1, W]` row of book spines of random widths and colours.
fn book_spines(c: &Canvas, s: &Stage, rng: &mut Rng) -> Result<Tensor> {
    const SPINES: [Rgb; 6] = [
        Rgb(0.6, 0.15, 0.12),
        Rgb(0.15, 0.3, 0.5),
        Rgb(0.2, 0.42, 0.25),
        Rgb(0.75, 0.6, 0.3),
        Rgb(0.4, 0.2, 0.4),
        Rgb(0.85, 0.8, 0.7),
    ];
    let w = c.width();
    let mut channels = vec![Vec::with_capacity(w), Vec::with_capacity(w), Vec::with_capacity(w)];
    while channels[0].len() < w {
        let colour = lit(*rng.pick(&SPINES), s.time.indoor()).scale(0.8 + 0.3 * unit(rng));
        let width = 3 + rng.below(7);
        for k in 0..width {
            let edge = if k == width - 1 { 0.45 } else { 1.0 };
            channels[0].push(colour.0 * edge);
            channels[1].push(colour.1 * edge);
            channels[2].push(colour.2 * edge);
        }
    }
    let flat: Vec<f32> = channels
        .into_iter()
        .flat_map(|mut ch| {
            ch.truncate(w);
            ch
        })
        .collect();
    Tensor::from_vec(flat, (3, 1, w), &candle_core::Device::Cpu)
}

fn kitchen(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.indoor();
    let counter_top = s.horizon - s.h * 0.2;
    let tiles = Shape::rect(-1.0, counter_top - s.h * 0.16, s.w + 1.0, counter_top);
    c.fill(&tiles, lit(Rgb(0.9, 0.92, 0.9), light))?;
    let grout = c
        .xs()
        .affine(std::f64::consts::TAU / f64::from(s.h * 0.04), 0.0)?
        .cos()?
        .broadcast_maximum(
            &c.ys()
                .affine(std::f64::consts::TAU / f64::from(s.h * 0.04), 0.0)?
                .cos()?,
        )?
        .affine(8.0, -7.0)?
        .clamp(0f32, 1f32)?
        .mul(&c.mask(&tiles)?)?;
    c.composite(&lit(Rgb(0.6, 0.62, 0.6), light).tensor()?, &grout)?;
    let wx = s.w * (0.15 + 0.45 * unit(rng));
    window(
        c,
        s,
        &Shape::rect(wx, s.h * 0.1, wx + s.w * 0.25, counter_top - s.h * 0.22),
        false,
    )?;
    let cabinet = lit(Rgb::hsl(unit(rng), 0.3, 0.5), light);
    c.fill(
        &Shape::rect(-1.0, counter_top, s.w + 1.0, s.horizon + s.h * 0.02),
        cabinet,
    )?;
    c.fill(
        &Shape::rect(-1.0, counter_top - s.h * 0.015, s.w + 1.0, counter_top + s.h * 0.01),
        lit(Rgb(0.3, 0.28, 0.27), light),
    )?;
    for i in 0..6 {
        let x = s.w * (0.02 + 0.165 * i as f32);
        c.fill(
            &Shape::rect(x, counter_top + s.h * 0.03, x + 2.0, s.horizon - s.h * 0.01),
            cabinet.scale(0.7),
        )?;
        c.fill(
            &Shape::circle(x + s.w * 0.07, counter_top + s.h * 0.06, s.h * 0.006),
            Rgb(0.8, 0.75, 0.6),
        )?;
    }
    Ok(())
}

fn workshop(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.indoor();
    let (x0, x1) = (s.w * (0.1 + 0.1 * unit(rng)), s.w * (0.75 + 0.1 * unit(rng)));
    let board = Shape::rect(x0, s.h * 0.12, x1, s.horizon - s.h * 0.22);
    c.fill(&board, lit(Rgb(0.72, 0.58, 0.4), light))?;
    let (_, by0, _, by1) = board.bbox();
    for i in 0..5 {
        let x = x0 + (x1 - x0) * (0.12 + 0.19 * i as f32);
        let y = by0 + (by1 - by0) * (0.25 + 0.3 * unit(rng));
        c.fill(
            &Shape::capsule((x, y), (x, y + (by1 - by0) * 0.4), s.h * 0.008),
            lit(Rgb(0.45, 0.3, 0.18), light),
        )?;
        c.fill(
            &Shape::rect(x - s.h * 0.02, y - s.h * 0.012, x + s.h * 0.02, y + s.h * 0.012),
            lit(Rgb(0.4, 0.42, 0.46), light),
        )?;
    }
    let top = s.horizon - s.h * 0.16;
    let bench = lit(Rgb(0.5, 0.33, 0.2), light);
    for x in [s.w * 0.14, s.w * 0.86] {
        c.fill(
            &Shape::rect(x - 4.0, top, x + 4.0, s.horizon + s.h * 0.06),
            bench.scale(0.7),
        )?;
    }
    c.fill(&Shape::rect(s.w * 0.1, top - s.h * 0.03, s.w * 0.9, top), bench)
}

fn porthole(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let stone = c
        .ys()
        .affine(std::f64::consts::TAU / f64::from(s.h * 0.06), 0.0)?
        .sin()?
        .affine(10.0, -9.0)?
        .clamp(0f32, 1f32)?;
    let above = c.row_ramp(s.horizon, s.horizon - 1.0)?;
    c.composite(
        &Rgb(0.0, 0.0, 0.0).tensor()?,
        &stone.broadcast_mul(&above)?.affine(0.15, 0.0)?,
    )?;
    let (x, y, r) = (s.w * (0.3 + 0.4 * unit(rng)), s.horizon * 0.45, s.h * 0.16);
    c.fill(
        &Shape::circle(x, y, r * 1.2),
        lit(Rgb(0.35, 0.35, 0.38), s.time.indoor()),
    )?;
    window(c, s, &Shape::circle(x, y, r), true)
}

fn arches(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let n = 2 + rng.below(2);
    let span = s.w / n as f32;
    for i in 0..n {
        let x = span * (i as f32 + 0.5);
        let (half, top, bottom) = (span * 0.28, s.h * 0.12, s.horizon - s.h * 0.1);
        let arch = Shape::Union(vec![
            Shape::rect(x - half, top + half, x + half, bottom),
            Shape::circle(x, top + half, half),
        ]);
        window(c, s, &arch, false)?;
    }
    let clock = (s.w * 0.5, s.h * 0.08);
    c.fill(&Shape::circle(clock.0, clock.1, s.h * 0.05), Rgb(0.2, 0.2, 0.22))?;
    c.fill(&Shape::circle(clock.0, clock.1, s.h * 0.04), Rgb(0.96, 0.95, 0.9))?;
    c.fill(&Shape::capsule(clock, (clock.0, clock.1 - s.h * 0.03), 1.0), INK)?;
    c.fill(&Shape::capsule(clock, (clock.0 + s.h * 0.02, clock.1), 1.0), INK)?;
    c.fill(
        &Shape::rect(-1.0, s.horizon + s.h * 0.08, s.w + 1.0, s.horizon + s.h * 0.1),
        Rgb(0.95, 0.8, 0.2).scale(s.time.indoor().1),
    )
}

fn plain_room(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let light = s.time.indoor();
    let left = rng.below(2) == 0;
    let (wx, px) = if left {
        (s.w * 0.1, s.w * 0.56)
    } else {
        (s.w * 0.62, s.w * 0.28)
    };
    window(
        c,
        s,
        &Shape::rect(wx, s.h * 0.14, wx + s.w * 0.26, s.horizon - s.h * 0.2),
        false,
    )?;
    let frame = Shape::rect(px, s.h * 0.2, px + s.w * 0.18, s.h * 0.42);
    c.paint(&frame, s.h * 0.012, 1.0, &Fill::Solid(lit(Rgb(0.55, 0.4, 0.15), light)))?;
    let art = c.rows_gradient(
        s.h * 0.2,
        s.h * 0.42,
        lit(Rgb::hsl(unit(rng), 0.4, 0.7), light),
        lit(Rgb::hsl(unit(rng), 0.5, 0.4), light),
    )?;
    c.paint(&frame, 0.0, 1.0, &Fill::Image(&art))?;
    let dx = if left { s.w * 0.86 } else { s.w * 0.02 };
    let door = Shape::round_rect(dx, s.h * 0.18, dx + s.w * 0.12, s.horizon, s.h * 0.01);
    c.paint(&door, 2.0, 1.0, &Fill::Solid(INK))?;
    c.fill(&door, lit(Rgb(0.45, 0.3, 0.2), light))?;
    c.fill(
        &Shape::circle(dx + s.w * 0.1, (s.h * 0.18 + s.horizon) / 2.0, s.h * 0.01),
        Rgb(0.85, 0.7, 0.3),
    )
}

fn pendant(c: &mut Canvas, s: &Stage, rng: &mut Rng) -> Result<()> {
    let x = s.w * (0.3 + 0.4 * unit(rng));
    let y = s.h * 0.16;
    c.soft(
        &Shape::circle(x, y + s.h * 0.08, s.h * 0.6),
        s.h * 0.6,
        0.35,
        &Fill::Solid(Rgb(1.0, 0.85, 0.55)),
    )?;
    c.fill(&Shape::capsule((x, -1.0), (x, y), 1.0), INK)?;
    let shade = Shape::ellipse(x, y + s.h * 0.03, s.h * 0.06, s.h * 0.04).minus(Shape::rect(
        x - s.h * 0.07,
        y + s.h * 0.03,
        x + s.h * 0.07,
        y + s.h * 0.1,
    ));
    c.fill(&shade, Rgb(0.2, 0.3, 0.25))?;
    c.fill(&Shape::circle(x, y + s.h * 0.035, s.h * 0.015), Rgb(1.0, 0.95, 0.75))
}

// ---------------------------------------------------------------------------------------------
// Keyframes and consistency.

/// Where one cast member goes: the window of its portrait (portrait pixels) drawn into the box
/// `dest` of the frame (frame pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Placement {
    member: usize,
    window: (f32, f32, f32, f32),
    dest: (f32, f32, f32, f32),
}

/// The figure in a portrait: its box (pixels unlike the corner colour) and its head's centre x.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FigureBox {
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
    head_x: f32,
}

fn figure_box(p: &RgbImage) -> FigureBox {
    let corner = p.get_pixel(0, 0).0;
    let differs = |x: u32, y: u32| {
        let q = p.get_pixel(x, y).0;
        (0..3)
            .map(|i| (i32::from(q[i]) - i32::from(corner[i])).pow(2))
            .sum::<i32>()
            > 650
    };
    let (w, h) = (p.width(), p.height());
    let rows: Vec<u32> = (0..h).filter(|&y| (0..w).step_by(2).any(|x| differs(x, y))).collect();
    let cols: Vec<u32> = (0..w).filter(|&x| (0..h).step_by(2).any(|y| differs(x, y))).collect();
    let (Some(&y0), Some(&y1), Some(&x0), Some(&x1)) = (rows.first(), rows.last(), cols.first(), cols.last()) else {
        return FigureBox {
            x0: 0.0,
            y0: 0.0,
            x1: w as f32,
            y1: h as f32,
            head_x: w as f32 / 2.0,
        };
    };
    let head_rows = y0..(y0 + (y1 - y0) / 8).max(y0 + 1);
    let (sum, n) = head_rows
        .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
        .filter(|&(x, y)| differs(x, y))
        .fold((0u64, 0u64), |(s, n), (x, _)| (s + u64::from(x), n + 1));
    let head_x = if n == 0 {
        (x0 + x1) as f32 / 2.0
    } else {
        sum as f32 / n as f32 + 0.5
    };
    FigureBox {
        x0: x0 as f32,
        y0: y0 as f32,
        x1: x1 as f32 + 1.0,
        y1: y1 as f32 + 1.0,
        head_x,
    }
}

/// The cast members in the shot with a non-empty portrait, in the shot's order, each once.
fn members(shot: &Shot, cast: &[(&Character, &RgbImage)]) -> Vec<usize> {
    let mut out = Vec::new();
    for id in &shot.character_ids {
        let found = cast
            .iter()
            .position(|(c, p)| &c.id == id && p.width() > 0 && p.height() > 0);
        if let Some(i) = found
            && !out.contains(&i)
        {
            out.push(i);
        }
    }
    out
}

/// Where each character of the shot goes, from the shot and the portraits alone (keyframes and
/// consistency scores both use it).
fn placements(shot: &Shot, cast: &[(&Character, &RgbImage)], (w, h): (usize, usize)) -> Vec<Placement> {
    let members = members(shot, cast);
    let mut rng = Rng::derive(shot.seed, &shot.id);
    let frame = (w as f32, h as f32);
    let n = members.len();
    match shot.camera.shot_type {
        ShotType::CloseUp => members
            .first()
            .map(|&m| close_up(m, figure_box(cast[m].1), frame, &mut rng))
            .into_iter()
            .collect(),
        ShotType::Medium => members
            .iter()
            .enumerate()
            .map(|(k, &m)| medium(m, (k, n), cast[m].1, frame, &mut rng))
            .collect(),
        ShotType::Wide => members
            .iter()
            .enumerate()
            .map(|(k, &m)| wide(m, (k, n), cast[m].1, frame, &mut rng))
            .collect(),
    }
}

/// Small full figures spread across the frame, feet on the ground.
fn wide(member: usize, (k, n): (usize, usize), portrait: &RgbImage, (w, h): (f32, f32), rng: &mut Rng) -> Placement {
    let fb = figure_box(portrait);
    let slot = w * 0.76 / n as f32;
    let cx = w * 0.12 + slot * (k as f32 + 0.5) + slot * 0.15 * (unit(rng) - 0.5);
    let mut scale = h * 0.46 / 336.0 * (0.94 + 0.1 * unit(rng));
    scale = scale.min(slot * 0.95 / (fb.x1 - fb.x0).max(1.0));
    let feet = h * (0.86 + 0.06 * unit(rng));
    let window = (fb.x0 - 4.0, fb.y0 - 4.0, fb.x1 + 4.0, fb.y1 + 4.0);
    let dest = (
        cx - (fb.head_x - window.0) * scale,
        feet - (fb.y1 - window.1) * scale,
        cx + (window.2 - fb.head_x) * scale,
        feet + 4.0 * scale,
    );
    Placement { member, window, dest }
}

/// Larger figures cut at the waist by the bottom of the frame.
fn medium(member: usize, (k, n): (usize, usize), portrait: &RgbImage, (w, h): (f32, f32), rng: &mut Rng) -> Placement {
    let fb = figure_box(portrait);
    let tall = fb.y1 - fb.y0;
    let window = (0.0, fb.y0 - 0.12 * tall, portrait.width() as f32, fb.y0 + 0.56 * tall);
    let slot = w / n as f32;
    let cx = slot * (k as f32 + 0.5) + slot * 0.1 * (unit(rng) - 0.5);
    let scale = (h * 1.02 / (window.3 - window.1)).min(slot * 1.05 / (fb.x1 - fb.x0).max(1.0));
    let dest = (
        cx - fb.head_x * scale,
        h - (window.3 - window.1) * scale,
        cx + (window.2 - fb.head_x) * scale,
        h,
    );
    Placement { member, window, dest }
}

/// The head and shoulders filling the frame, a little off centre.
fn close_up(member: usize, fb: FigureBox, (w, h): (f32, f32), rng: &mut Rng) -> Placement {
    let tall = fb.y1 - fb.y0;
    let (top, bottom) = (fb.y0 - 0.03 * tall, fb.y0 + 0.36 * tall);
    let half = (bottom - top) * w / h / 2.0;
    let window = (fb.head_x - half, top, fb.head_x + half, bottom);
    let shift = w * 0.08 * (unit(rng) - 0.5) * 2.0;
    Placement {
        member,
        window,
        dest: (shift, 0.0, w + shift, h),
    }
}

/// A placed figure's pixels clipped to the frame: its colours `[3, h, w]`, its opacity
/// `[1, h, w]` (the portrait's backdrop keyed out) and its corner in the frame; `None` when it
/// is off frame. Colours are resampled premultiplied, so no backdrop bleeds into the edges.
fn figure_patch(
    portrait: &RgbImage,
    p: &Placement,
    (w, h): (usize, usize),
) -> Result<Option<(Tensor, Tensor, usize, usize)>> {
    let (dx0, dy0, dx1, dy1) = p.dest;
    let (wx0, wy0, wx1, wy1) = p.window;
    let ix0 = dx0.floor().max(0.0) as usize;
    let iy0 = dy0.floor().max(0.0) as usize;
    let ix1 = (dx1.ceil().max(0.0) as usize).min(w);
    let iy1 = (dy1.ceil().max(0.0) as usize).min(h);
    if ix1 <= ix0 || iy1 <= iy0 || dx1 <= dx0 || dy1 <= dy0 {
        return Ok(None);
    }
    let sx = |x: usize| wx0 + (x as f32 - dx0) * (wx1 - wx0) / (dx1 - dx0);
    let sy = |y: usize| wy0 + (y as f32 - dy0) * (wy1 - wy0) / (dy1 - dy0);
    let window = (sx(ix0), sy(iy0), sx(ix1), sy(iy1));
    let Some((crop, (cx, cy))) = crop_portrait(portrait, window)? else {
        return Ok(None);
    };
    let c = portrait.get_pixel(0, 0).0;
    let alpha = key(
        &crop,
        Rgb(
            f32::from(c[0]) / 255.0,
            f32::from(c[1]) / 255.0,
            f32::from(c[2]) / 255.0,
        ),
    )?;
    let local = (window.0 - cx, window.1 - cy, window.2 - cx, window.3 - cy);
    let (pw, ph) = (ix1 - ix0, iy1 - iy0);
    let colour = resample(&crop.broadcast_mul(&alpha)?, local, pw, ph)?;
    let colour = colour
        .broadcast_div(&resample(&alpha, local, pw, ph)?.clamp(1e-3f32, 1f32)?)?
        .clamp(0f32, 1f32)?;
    // A slightly softened edge: where only the softening reaches, the colour is black, which
    // reads as the figure's ink outline.
    let soft = alpha
        .pad_with_same(1, 1, 1)?
        .pad_with_same(2, 1, 1)?
        .unsqueeze(0)?
        .avg_pool2d_with_stride(3, 1)?
        .squeeze(0)?;
    let mask = resample(&soft, local, pw, ph)?;
    Ok(Some((colour, mask, ix0, iy0)))
}

/// The part of a portrait under `window` (with a small margin) as `[3, h, w]`, and its corner;
/// `None` when the window misses the portrait.
fn crop_portrait(portrait: &RgbImage, window: (f32, f32, f32, f32)) -> Result<Option<(Tensor, (f32, f32))>> {
    let (pw, ph) = (portrait.width() as f32, portrait.height() as f32);
    let x0 = (window.0.floor() - 2.0).clamp(0.0, pw) as usize;
    let x1 = (window.2.ceil() + 2.0).clamp(0.0, pw) as usize;
    let y0 = (window.1.floor() - 2.0).clamp(0.0, ph) as usize;
    let y1 = (window.3.ceil() + 2.0).clamp(0.0, ph) as usize;
    if x1 <= x0 || y1 <= y0 {
        return Ok(None);
    }
    let source = Canvas::from_image(portrait)?;
    let crop = source.with_tensor(|t| t.narrow(1, y0, y1 - y0)?.narrow(2, x0, x1 - x0)?.contiguous())?;
    Ok(Some((crop, (x0 as f32, y0 as f32))))
}

/// The opacity `[1, h, w]` of what is not `backdrop`, eroded by a pixel to drop the
/// anti-aliased rim where the backdrop shows through.
fn key(image: &Tensor, backdrop: Rgb) -> Result<Tensor> {
    let distance = image
        .broadcast_sub(&backdrop.tensor()?)?
        .sqr()?
        .sum_keepdim(0)?
        .sqrt()?;
    let alpha = distance.affine(1.0 / 0.06, -0.04 / 0.06)?.clamp(0f32, 1f32)?;
    let padded = alpha
        .neg()?
        .pad_with_same(1, 1, 1)?
        .pad_with_same(2, 1, 1)?
        .unsqueeze(0)?;
    padded.max_pool2d_with_stride(3, 1)?.squeeze(0)?.neg()
}

fn render_keyframe(
    shot: &Shot,
    background: &RgbImage,
    cast: &[(&Character, &RgbImage)],
    (w, h): (usize, usize),
    seed: u64,
) -> Result<RgbImage> {
    let window = framing(
        (background.width() as f32, background.height() as f32),
        (w as f32, h as f32),
        &shot.camera,
    );
    let bg = Canvas::from_image(background)?;
    let mut c = Canvas::owning(bg.with_tensor(|t| resample(t, window, w, h))?)?;
    for p in placements(shot, cast, (w, h)) {
        let portrait = cast[p.member].1;
        if shot.camera.shot_type == ShotType::Wide {
            let (x0, _, x1, y1) = p.dest;
            let shadow = Shape::ellipse(
                (x0 + x1) / 2.0,
                y1 - (y1 - p.dest.1) * 0.03,
                (x1 - x0) * 0.32,
                (x1 - x0) * 0.06,
            );
            c.paint(&shadow, 0.0, 0.3, &Fill::Solid(Rgb(0.05, 0.05, 0.08)))?;
        }
        if let Some((patch, mask, x0, y0)) = figure_patch(portrait, &p, (w, h))? {
            c.composite_at(&patch, &mask, x0, y0)?;
        }
    }
    grade(&mut c, shot.camera.angle, seed)?;
    c.to_image()
}

/// The window of the background a shot sees: the whole scene for a wide shot, closer for
/// tighter shots; a low camera sees more sky, a high one more ground.
fn framing((bw, bh): (f32, f32), (w, h): (f32, f32), camera: &Camera) -> (f32, f32, f32, f32) {
    let zoom = match camera.shot_type {
        ShotType::Wide => 1.06,
        ShotType::Medium => 1.3,
        ShotType::CloseUp => 1.7,
    };
    let (cw, ch) = if bw / bh > w / h {
        (bh * w / h, bh)
    } else {
        (bw, bw * h / w)
    };
    let (cw, ch) = (cw / zoom, ch / zoom);
    let tilt = match camera.angle {
        Angle::EyeLevel => 0.0,
        Angle::Low => -0.85,
        Angle::High => 0.85,
    };
    let x0 = (bw - cw) / 2.0;
    let y0 = (bh - ch) / 2.0 * (1.0 + tilt);
    (x0, y0, x0 + cw, y0 + ch)
}

/// A slight vignette and tint by the camera's angle, and a light falling from one side (by the
/// seed).
fn grade(c: &mut Canvas, angle: Angle, seed: u64) -> Result<()> {
    let (w, h) = (c.width() as f64, c.height() as f64);
    let r2 = c
        .xs()
        .affine(2.0 / w, -1.0)?
        .sqr()?
        .broadcast_add(&c.ys().affine(2.0 / h, -1.0)?.sqr()?)?;
    let (strength, tint, ramp) = match angle {
        Angle::EyeLevel => (0.1, Rgb(1.0, 1.0, 1.0), c.row_ramp(0.0, h as f32)?),
        Angle::Low => (0.18, Rgb(0.9, 0.93, 1.02), c.row_ramp(h as f32, 0.0)?),
        Angle::High => (0.1, Rgb(1.05, 1.01, 0.92), c.row_ramp(0.0, h as f32)?),
    };
    let vignette = r2.affine(-strength / 2.0, 1.0)?;
    let tinted = blend(&Rgb(1.0, 1.0, 1.0).tensor()?, &tint.tensor()?, &ramp)?;
    let side = if seed.is_multiple_of(2) { 0.05 } else { -0.05 };
    let light = c.column_ramp(0.0, w as f32)?.affine(side, 1.0 - side / 2.0)?;
    let factor = vignette.broadcast_mul(&tinted)?.broadcast_mul(&light)?;
    c.multiply(&factor)
}

fn consistency_score(keyframe: &RgbImage, shot: &Shot, cast: &[(&Character, &RgbImage)]) -> Result<f64> {
    let size = (keyframe.width() as usize, keyframe.height() as usize);
    let frame = Canvas::from_image(keyframe)?;
    let mut scores = Vec::new();
    for p in placements(shot, cast, size) {
        let Some((patch, mask, x0, y0)) = figure_patch(cast[p.member].1, &p, size)? else {
            continue;
        };
        let (_, ph, pw) = patch.dims3()?;
        let region = frame.with_tensor(|t| t.narrow(1, y0, ph)?.narrow(2, x0, pw)?.contiguous())?;
        if let Some(score) = intersection(&patch, &region, &mask)? {
            scores.push(score);
        }
    }
    Ok(if scores.is_empty() {
        1.0
    } else {
        scores.iter().sum::<f64>() / scores.len() as f64
    })
}

/// Histogram intersection of two patches under a mask; `None` when the mask is empty.
fn intersection(a: &Tensor, b: &Tensor, mask: &Tensor) -> Result<Option<f64>> {
    let weights = mask
        .affine(2.0, -1.0)?
        .clamp(0f32, 1f32)?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let total: f64 = weights.iter().map(|&m| f64::from(m)).sum();
    if total < 1.0 {
        return Ok(None);
    }
    let ha = histogram(a, &weights)?;
    let hb = histogram(b, &weights)?;
    Ok(Some(ha.iter().zip(&hb).map(|(x, y)| x.min(*y)).sum::<f64>() / total))
}

const BINS: usize = 6;

/// A soft 3-D colour histogram (trilinear binning, `BINS` per channel) weighted by `weights`.
fn histogram(patch: &Tensor, weights: &[f32]) -> Result<Vec<f64>> {
    let rgb = patch.flatten_from(1)?.to_vec2::<f32>()?;
    let mut hist = vec![0f64; BINS * BINS * BINS];
    let top = (BINS - 1) as f32;
    for (i, &m) in weights.iter().enumerate() {
        if m <= 0.0 {
            continue;
        }
        let pos = [0, 1, 2].map(|ch| (rgb[ch][i].clamp(0.0, 1.0) * top).min(top - 1e-4));
        for corner in 0..8 {
            let mut index = 0;
            let mut weight = f64::from(m);
            for (ch, &p) in pos.iter().enumerate() {
                let (lo, frac) = (p.floor(), p - p.floor());
                let up = (corner >> ch) & 1 == 1;
                index = index * BINS + lo as usize + usize::from(up);
                weight *= f64::from(if up { frac } else { 1.0 - frac });
            }
            hist[index] += weight;
        }
    }
    Ok(hist)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DynamicFeatures, Movement, StaticFeatures};
    use crate::png::encode_png;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn generator() -> Generator {
        ProceduralImages.generator(0)
    }

    fn person(id: &str, face: &str, body: &str, clothing: &str, props: &[&str]) -> Character {
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
                props: props.iter().map(|p| p.to_string()).collect(),
            },
            personality: "stubborn and kind".into(),
            voice: None,
            reference_images: Vec::new(),
            generated_by: generator(),
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
            generated_by: generator(),
        }
    }

    fn shot(shot_type: ShotType, angle: Angle, ids: &[&str]) -> Shot {
        Shot {
            id: "shot-1".into(),
            scene_id: "scene-1".into(),
            camera: Camera {
                shot_type,
                angle,
                movement: Movement::Static,
            },
            duration_s: 3.0,
            visual_desc: String::new(),
            dialogue: Vec::new(),
            first_frame_desc: String::new(),
            last_frame_desc: None,
            motion_desc: String::new(),
            character_ids: ids.iter().map(|s| s.to_string()).collect(),
            seed: 11,
            generated_by: generator(),
        }
    }

    fn settings() -> Settings {
        Settings::default()
    }

    fn portrait(ch: &Character, view: View) -> BackendResult<RgbImage> {
        ProceduralImages.portrait(ch, view, &settings(), 7)
    }

    fn count(img: &RgbImage, colour: Rgb) -> usize {
        let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8;
        let target = [q(colour.0), q(colour.1), q(colour.2)];
        img.pixels().filter(|p| p.0 == target).count()
    }

    fn differing(a: &RgbImage, b: &RgbImage) -> Vec<(u32, u32)> {
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
        let low =
            ProceduralImages.keyframe(&shot(ShotType::Wide, Angle::Low, &["mara"]), &bg, &cast, &settings(), 1)?;
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
}
