//! Portraits: a character drawn from the front, the side and the back, on the flat backdrop;
//! a person here, other beings in the `being` module.

use candle_core::Result;
use image::RgbImage;
use showrunner_backend::View;
use showrunner_story::model::Character;
use showrunner_story::rng::Rng;

use super::being::draw_being;
use super::face::{draw_head_front, draw_head_side};
use super::look::{Features, Garment, HairStyle, Outfit, features, outfit};
use super::props::{draw_props, prop_parts};
use super::{BACKDROP, INK, OUTLINE, PORTRAIT_HEIGHT, PORTRAIT_WIDTH};
use crate::raster::{Canvas, Fill, Rgb, Shape};

/// The figure's frame of reference: `u` is a hundredth of its height; horizontal offsets
/// scale with its breadth.
#[derive(Debug, Clone, Copy)]
pub(super) struct Body {
    pub(super) cx: f32,
    pub(super) top: f32,
    pub(super) u: f32,
    pub(super) breadth: f32,
    pub(super) head: (f32, f32, f32, f32),
    /// The hands' sway, from the seed.
    pub(super) sway: f32,
}

impl Body {
    pub(super) fn new(f: &Features, seed: u64, id: &str) -> Body {
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

    pub(super) fn y(&self, v: f32) -> f32 {
        self.top + v * self.u
    }

    pub(super) fn x(&self, h: f32) -> f32 {
        self.cx + h * self.u * self.breadth
    }
}

/// Paints the parts' outlines first, then their fills: touching parts read as one silhouette.
pub(super) fn inked(c: &mut Canvas, parts: &[(Shape, Rgb)]) -> Result<()> {
    for (shape, _) in parts {
        c.paint(shape, OUTLINE, 1.0, &Fill::Solid(INK))?;
    }
    for (shape, colour) in parts {
        c.fill(shape, *colour)?;
    }
    Ok(())
}

pub(super) fn render_portrait(ch: &Character, view: View, seed: u64) -> Result<RgbImage> {
    let f = features(ch);
    let o = outfit(ch);
    let b = Body::new(&f, seed, &ch.id);
    let mut c = Canvas::filled(PORTRAIT_WIDTH as usize, PORTRAIT_HEIGHT as usize, BACKDROP)?;
    if draw_being(&mut c, ch, view, &f, &o, &b)? {
        return c.to_image();
    }
    match view {
        View::Front => draw_front(&mut c, &f, &o, &b)?,
        View::Side => draw_side(&mut c, &f, &o, &b)?,
        View::Back => draw_back(&mut c, &f, &o, &b)?,
    }
    c.to_image()
}

pub(super) fn draw_front(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    if f.style == HairStyle::Long {
        inked(c, &[(long_hair(b, 0.0), f.hair)])?;
    }
    draw_legs(c, f, o, b)?;
    draw_torso(c, f, o, b, true)?;
    draw_arms(c, f, o, b)?;
    draw_props(c, o, b, 1.0)?;
    draw_head_front(c, f, b)
}

pub(super) fn draw_back(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
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

pub(super) fn draw_side(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
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
pub(super) fn long_hair(b: &Body, lean: f32) -> Shape {
    let (hx, hy, rx, ry) = b.head;
    let x = hx + lean * rx;
    Shape::round_rect(x - rx * 1.18, hy - ry * 0.4, x + rx * 1.18, b.y(33.0), rx * 0.8)
}

pub(super) fn sleeve(o: &Outfit) -> Rgb {
    o.clothing.scale(0.88)
}

pub(super) fn leg_colour(f: &Features, o: &Outfit) -> Rgb {
    match o.garment {
        Garment::Dress => f.skin,
        Garment::Overalls => o.clothing,
        _ => o.trousers.unwrap_or(f.trousers),
    }
}

pub(super) fn draw_legs(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
    let u = b.u;
    let legs = [-1.0, 1.0].map(|s| {
        let leg = Shape::capsule((b.x(s * 4.6), b.y(54.0)), (b.x(s * 5.2), b.y(95.0)), 4.0 * u);
        (leg, leg_colour(f, o))
    });
    inked(c, &legs)?;
    let shoes = [-1.0, 1.0].map(|s| (Shape::ellipse(b.x(s * 5.6), b.y(97.4), 5.0 * u, 2.5 * u), f.shoes));
    inked(c, &shoes)
}

pub(super) fn draw_side_legs(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
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
pub(super) fn draw_torso(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body, front: bool) -> Result<()> {
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
pub(super) fn skirt(garment: Garment, b: &Body) -> Option<Shape> {
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

pub(super) fn draw_garment_front(c: &mut Canvas, o: &Outfit, b: &Body) -> Result<()> {
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
pub(super) fn draw_arms(c: &mut Canvas, f: &Features, o: &Outfit, b: &Body) -> Result<()> {
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
pub(super) fn hands(b: &Body, facing: f32) -> [(f32, f32); 2] {
    let at = |s: f32| (b.x(s * 14.5) + s * b.sway, b.y(51.5));
    [at(-facing), at(facing)]
}
