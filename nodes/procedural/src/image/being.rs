//! What a character is, as drawn: a person unless its description names another kind of being
//! (`a robot, tall and wiry`, `a grey whale`), and the colour of its hide, fur or plating.
//!
//! The story's facts put a stated kind at the head of the body text (see
//! `showrunner_story::facts`), and a model's cast usually names it there too; a kind only
//! compared to (`built like a bear`) does not count.

use candle_core::Result;
use showrunner_backend::View;
use showrunner_story::model::Character;

use super::animal::{draw_beast, draw_bird};
use super::face::EYE_WHITE;
use super::look::{Features, Outfit};
use super::portrait::{Body, inked};
use super::props::prop_parts;
use super::robot::draw_robot;
use super::sea::{draw_octopus, draw_swimmer, draw_turtle};
use super::words::{hair_colour, named_colour, words};
use super::{BACKDROP, INK};
use crate::raster::{Canvas, Rgb, Shape};

/// The ears a four-legged animal has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Ears {
    /// Triangles: cats, foxes, wolves, horses, dragons.
    Pointed,
    /// Half-discs: bears, mice.
    Round,
    /// Tall ovals: rabbits.
    Long,
    /// Hanging beside the head: dogs.
    Floppy,
}

/// The body plans the portrait drawer knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Being {
    /// Drawn as a person: people, and kinds with a person's shape (a witch, an elf, a ghost).
    Person,
    /// Plating, a boxy head with an antenna, lamp eyes.
    Robot,
    /// A sea creature breaching: whales, dolphins, sharks, fish; `dorsal` for a tall back fin.
    Swimmer { dorsal: bool },
    /// A head and eight arms.
    Octopus,
    /// A shell, a head and flippers.
    Turtle,
    /// A four-legged animal sitting up.
    Beast { ears: Ears, horn: bool },
    /// Feathers, wings and a beak; `owl` for the big eyes and ear tufts.
    Bird { owl: bool },
}

/// The kinds with their own body plan and their default colour.
const KINDS: [(&str, Being, Rgb); 48] = [
    ("robot", Being::Robot, Rgb(0.62, 0.66, 0.7)),
    ("android", Being::Robot, Rgb(0.86, 0.86, 0.9)),
    ("cyborg", Being::Robot, Rgb(0.55, 0.57, 0.6)),
    ("whale", Being::Swimmer { dorsal: false }, Rgb(0.3, 0.4, 0.52)),
    ("dolphin", Being::Swimmer { dorsal: true }, Rgb(0.5, 0.58, 0.66)),
    ("shark", Being::Swimmer { dorsal: true }, Rgb(0.45, 0.5, 0.56)),
    ("fish", Being::Swimmer { dorsal: true }, Rgb(0.93, 0.5, 0.13)),
    ("octopus", Being::Octopus, Rgb(0.72, 0.3, 0.35)),
    ("turtle", Being::Turtle, Rgb(0.35, 0.55, 0.3)),
    ("cat", BEAST_POINTED, Rgb(0.55, 0.5, 0.45)),
    ("kitten", BEAST_POINTED, Rgb(0.85, 0.6, 0.35)),
    ("fox", BEAST_POINTED, Rgb(0.88, 0.45, 0.15)),
    ("wolf", BEAST_POINTED, Rgb(0.5, 0.5, 0.53)),
    ("horse", BEAST_POINTED, Rgb(0.5, 0.32, 0.18)),
    ("dragon", BEAST_POINTED, Rgb(0.25, 0.55, 0.3)),
    (
        "unicorn",
        Being::Beast {
            ears: Ears::Pointed,
            horn: true,
        },
        Rgb(0.95, 0.94, 0.92),
    ),
    ("dog", BEAST_FLOPPY, Rgb(0.7, 0.5, 0.3)),
    ("puppy", BEAST_FLOPPY, Rgb(0.85, 0.7, 0.45)),
    (
        "bear",
        Being::Beast {
            ears: Ears::Round,
            horn: false,
        },
        Rgb(0.42, 0.27, 0.15),
    ),
    (
        "mouse",
        Being::Beast {
            ears: Ears::Round,
            horn: false,
        },
        Rgb(0.6, 0.58, 0.56),
    ),
    (
        "rabbit",
        Being::Beast {
            ears: Ears::Long,
            horn: false,
        },
        Rgb(0.8, 0.72, 0.6),
    ),
    ("owl", Being::Bird { owl: true }, Rgb(0.55, 0.4, 0.25)),
    ("bird", Being::Bird { owl: false }, Rgb(0.3, 0.5, 0.78)),
    ("crow", Being::Bird { owl: false }, Rgb(0.14, 0.14, 0.17)),
    ("penguin", Being::Bird { owl: false }, Rgb(0.14, 0.14, 0.17)),
    ("robin", Being::Bird { owl: false }, Rgb(0.45, 0.33, 0.22)),
    ("camel", BEAST_POINTED, Rgb(0.8, 0.64, 0.4)),
    ("donkey", BEAST_POINTED, Rgb(0.55, 0.52, 0.5)),
    ("deer", BEAST_POINTED, Rgb(0.62, 0.42, 0.24)),
    ("goat", BEAST_POINTED, Rgb(0.9, 0.88, 0.82)),
    ("cow", BEAST_POINTED, Rgb(0.92, 0.9, 0.86)),
    ("pig", BEAST_POINTED, Rgb(0.95, 0.7, 0.72)),
    ("squirrel", BEAST_POINTED, Rgb(0.75, 0.4, 0.18)),
    ("lion", BEAST_ROUND, Rgb(0.85, 0.65, 0.3)),
    ("tiger", BEAST_ROUND, Rgb(0.93, 0.55, 0.15)),
    ("elephant", BEAST_ROUND, Rgb(0.55, 0.56, 0.6)),
    ("monkey", BEAST_ROUND, Rgb(0.5, 0.33, 0.2)),
    ("sheep", BEAST_ROUND, Rgb(0.95, 0.93, 0.86)),
    ("lamb", BEAST_ROUND, Rgb(0.95, 0.93, 0.86)),
    ("hedgehog", BEAST_ROUND, Rgb(0.45, 0.34, 0.24)),
    ("badger", BEAST_ROUND, Rgb(0.4, 0.4, 0.42)),
    ("frog", BEAST_ROUND, Rgb(0.35, 0.65, 0.3)),
    ("duck", Being::Bird { owl: false }, Rgb(0.95, 0.85, 0.35)),
    ("goose", Being::Bird { owl: false }, Rgb(0.92, 0.92, 0.9)),
    ("swan", Being::Bird { owl: false }, Rgb(0.96, 0.96, 0.95)),
    ("parrot", Being::Bird { owl: false }, Rgb(0.2, 0.65, 0.3)),
    ("hen", Being::Bird { owl: false }, Rgb(0.65, 0.35, 0.2)),
    ("chicken", Being::Bird { owl: false }, Rgb(0.65, 0.35, 0.2)),
];

const BEAST_POINTED: Being = Being::Beast {
    ears: Ears::Pointed,
    horn: false,
};
const BEAST_ROUND: Being = Being::Beast {
    ears: Ears::Round,
    horn: false,
};
const BEAST_FLOPPY: Being = Being::Beast {
    ears: Ears::Floppy,
    horn: false,
};

/// Words that make the next kind a comparison, not what the character is.
const COMPARISONS: [&str; 3] = ["like", "as", "than"];

/// Words skipped when looking for a comparison before a kind.
const ARTICLES: [&str; 3] = ["a", "an", "the"];

/// What a character is and the colour of its hide, fur or plating: the first kind its body text
/// names (then its face text), coloured by the first colour word the description gives that is
/// not the eyes'.
pub(super) fn being(ch: &Character) -> (Being, Rgb) {
    let body = words(&ch.static_features.body);
    let face = words(&ch.static_features.face);
    let all: Vec<String> = body.iter().chain(&face).cloned().collect();
    let kind = all.iter().enumerate().find_map(|(i, w)| {
        let before = all[..i].iter().rev().find(|w| !ARTICLES.contains(&w.as_str()));
        let compared = before.is_some_and(|w| COMPARISONS.contains(&w.as_str()));
        KINDS.iter().find(|(k, ..)| *k == w.as_str() && !compared)
    });
    let Some((_, being, default)) = kind else {
        return (Being::Person, Rgb(0.0, 0.0, 0.0));
    };
    (*being, described_colour(&all).unwrap_or(*default))
}

/// Words whose colour is not the hide's: `blue eyes`, `red hair`.
const NOT_HIDE: [&str; 7] = ["eyes", "eyed", "eye", "hair", "haired", "skin", "skinned"];

/// The first colour word that describes neither eyes, hair nor skin.
fn described_colour(all: &[String]) -> Option<Rgb> {
    all.iter().enumerate().find_map(|(i, w)| {
        let elsewhere = all.get(i + 1).is_some_and(|next| NOT_HIDE.contains(&next.as_str()));
        if elsewhere {
            None
        } else {
            named_colour(w).or_else(|| hair_colour(w))
        }
    })
}

/// A creature's colours: its hide, fur or plating, a darker and a paler shade of it, and the
/// colour of what it wears.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hide {
    pub(super) main: Rgb,
    pub(super) dark: Rgb,
    pub(super) pale: Rgb,
    pub(super) scarf: Rgb,
}

impl Hide {
    fn new(main: Rgb, o: &Outfit) -> Hide {
        let main = clear_of_backdrop(main);
        Hide {
            main,
            dark: main.scale(0.72),
            pale: clear_of_backdrop(main.mix(Rgb(0.97, 0.95, 0.9), 0.6)),
            scarf: o.clothing,
        }
    }
}

/// A colour far enough from the backdrop that keyframes do not key it out: one too close is
/// warmed towards cream.
fn clear_of_backdrop(colour: Rgb) -> Rgb {
    if colour.distance(BACKDROP) < 0.15 {
        colour.mix(Rgb(0.98, 0.9, 0.78), 0.7)
    } else {
        colour
    }
}

/// Draws a non-human character seen from `view`; false for a person, which the caller draws.
pub(super) fn draw_being(
    c: &mut Canvas,
    ch: &Character,
    view: View,
    f: &Features,
    o: &Outfit,
    b: &Body,
) -> Result<bool> {
    let (being, colour) = being(ch);
    let hide = Hide::new(colour, o);
    match being {
        Being::Person => return Ok(false),
        Being::Robot => return draw_robot(c, view, f, o, b, hide.main).map(|()| true),
        Being::Swimmer { dorsal } => draw_swimmer(c, view, b, hide, dorsal)?,
        Being::Octopus => draw_octopus(c, view, b, hide)?,
        Being::Turtle => draw_turtle(c, view, b, hide)?,
        Being::Beast { ears, horn } => draw_beast(c, view, f, b, hide, ears, horn)?,
        Being::Bird { owl } => draw_bird(c, view, f, b, hide, owl)?,
    }
    ground_props(c, o, b, if view == View::Back { -1.0 } else { 1.0 })?;
    Ok(true)
}

/// What a creature wears, as a scarf in the outfit's colour across `xs` at height `y`.
pub(super) fn neckwear(c: &mut Canvas, b: &Body, hide: Hide, (x0, x1): (f32, f32), y: f32) -> Result<()> {
    inked(c, &[(Shape::capsule((x0, y), (x1, y), 2.2 * b.u), hide.scarf)])
}

/// The props of a creature without hands, set down on the ground beside it.
fn ground_props(c: &mut Canvas, o: &Outfit, b: &Body, facing: f32) -> Result<()> {
    for (prop, s) in o.props.iter().zip([facing, -facing]) {
        inked(c, &prop_parts(prop, (b.cx + s * 30.0 * b.u, b.y(88.0)), b.u, s))?;
    }
    Ok(())
}

/// A round eye at (`x`, `y`), `r` units across, looking `look` aside.
pub(super) fn round_eye(x: f32, y: f32, r: f32, look: f32) -> [(Shape, Rgb); 2] {
    [
        (Shape::circle(x, y, 1.9 * r), EYE_WHITE),
        (Shape::circle(x + look * r, y + 0.3 * r, 1.1 * r), INK),
    ]
}
