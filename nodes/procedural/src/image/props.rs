//! The props a character carries, drawn in the hand: lanterns, books, bags, umbrellas, keys…

use candle_core::Result;

use super::INK;
use super::look::Outfit;
use super::portrait::{Body, hands, inked};
use super::words::{colours_in, has, hashed_colour, words};
use crate::raster::{Canvas, Rgb, Shape};

pub(super) fn draw_props(c: &mut Canvas, o: &Outfit, b: &Body, facing: f32) -> Result<()> {
    for (prop, (hand, side)) in o.props.iter().zip(hands(b, facing).into_iter().zip([-facing, facing])) {
        inked(c, &prop_parts(prop, hand, b.u, side))?;
    }
    Ok(())
}

/// A prop in a hand: where, how big, which way out, and the colour its text names.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hold {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) u: f32,
    pub(super) side: f32,
    pub(super) tint: Option<Rgb>,
    pub(super) fallback: Rgb,
}

pub(super) type Parts = Vec<(Shape, Rgb)>;

/// Draws one kind of prop.
pub(super) type PropFn = fn(Hold) -> Parts;

pub(super) const GOLD: Rgb = Rgb(0.85, 0.68, 0.25);

/// The props drawn by kind, recognised by these words; anything else is a small box.
pub(super) const PROPS: [(&[&str], PropFn); 10] = [
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
pub(super) fn prop_parts(prop: &str, (x, y): (f32, f32), u: f32, side: f32) -> Parts {
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

pub(super) fn lantern(h: Hold) -> Parts {
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

pub(super) fn book(h: Hold) -> Parts {
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

pub(super) fn bag(h: Hold) -> Parts {
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

pub(super) fn watch(h: Hold) -> Parts {
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

pub(super) fn camera(h: Hold) -> Parts {
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

pub(super) fn paper(h: Hold) -> Parts {
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

pub(super) fn door_key(h: Hold) -> Parts {
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

pub(super) fn umbrella(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    let top = y - 22.0 * u;
    let canopy =
        Shape::ellipse(x, top, 12.0 * u, 7.0 * u).minus(Shape::rect(x - 13.0 * u, top, x + 13.0 * u, top + 8.0 * u));
    vec![
        (Shape::capsule((x, y + u), (x, top), 0.45 * u), INK),
        (canopy, h.tint.unwrap_or(h.fallback)),
    ]
}

pub(super) fn staff(h: Hold) -> Parts {
    let Hold { x, y, u, side, .. } = h;
    let pole = Shape::capsule((x, y + 9.0 * u), (x + side * 2.0 * u, y - 20.0 * u), 0.9 * u);
    vec![(pole, h.tint.unwrap_or(Rgb(0.5, 0.33, 0.18)))]
}

pub(super) fn flower(h: Hold) -> Parts {
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
pub(super) fn parcel(h: Hold) -> Parts {
    let Hold { x, y, u, .. } = h;
    vec![(
        Shape::round_rect(x - 2.5 * u, y - 0.5 * u, x + 2.5 * u, y + 5.5 * u, u),
        h.tint.unwrap_or(h.fallback),
    )]
}
