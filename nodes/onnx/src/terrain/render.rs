//! A heightmap seen as a landscape: a perspective view across the terrain from a camera standing
//! on it, under a sky that follows the time of day.
//!
//! - Colour: an elevation ramp (water, sand, grass, forest, rock, snow) on the heightmap
//!   normalised to its highest point, with steep slopes turned to rock.
//! - Shading: Lambertian hillshade from the gradient's normal and the sky's light direction,
//!   over an ambient floor, tinted by the light's colour.
//! - Geometry: a column-by-column ray march front to back with a y-buffer (the "voxel space"
//!   renderer of flight games), the map mirrored to an endless plain so nothing ends at its
//!   edge, and fog to the horizon colour with distance, so the repeats fade into the haze.
//!
//! The camera stands just above the highest ground near it: distant hills may rise over the
//! horizon, near ones never fill the frame.

use image::{Rgb as Pixel, RgbImage};
use ndarray::{Array2, ArrayView2};

type Colour = [f32; 3];

/// The light of a scene's sky.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sky {
    /// A blue sky, a high sun.
    Day,
    /// Dawn or dusk: warm horizon, low sun.
    Golden,
    /// A dark sky with stars, moonlight.
    Night,
}

impl Sky {
    /// The sky of a scene's time of day, in words ("NIGHT", "dusk", "early morning"); day when
    /// the words say nothing known.
    pub fn of_time(time_of_day: &str) -> Sky {
        let time = time_of_day.to_ascii_lowercase();
        let says = |words: &[&str]| words.iter().any(|w| time.contains(w));
        if says(&["night", "midnight", "late"]) {
            Sky::Night
        } else if says(&["dusk", "dawn", "sunset", "sunrise", "evening", "twilight", "golden"]) {
            Sky::Golden
        } else {
            Sky::Day
        }
    }

    fn palette(self) -> Palette {
        match self {
            Sky::Day => Palette {
                zenith: [0.22, 0.42, 0.78],
                horizon: [0.74, 0.84, 0.93],
                light: [1.0, 0.97, 0.90],
                direction: [-0.55, -0.35, 0.75],
                ambient: 0.38,
                glow: [1.0, 0.98, 0.88],
            },
            Sky::Golden => Palette {
                zenith: [0.27, 0.25, 0.52],
                horizon: [0.98, 0.64, 0.40],
                light: [1.0, 0.80, 0.60],
                direction: [0.80, 0.20, 0.40],
                ambient: 0.40,
                glow: [1.0, 0.82, 0.55],
            },
            Sky::Night => Palette {
                zenith: [0.01, 0.02, 0.07],
                horizon: [0.09, 0.13, 0.26],
                light: [0.32, 0.38, 0.55],
                direction: [-0.35, 0.40, 0.60],
                ambient: 0.16,
                glow: [0.75, 0.80, 0.95],
            },
        }
    }
}

/// How a heightmap is drawn: its sky, how tall its hills stand and how much of it is under water.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// The sky and its light.
    pub sky: Sky,
    /// How high the highest point stands, in map cells (the map is 128 cells across): 15 is
    /// rolling country, 50 mountains.
    pub relief: f32,
    /// The water line, as a fraction of the way from the lowest point to the highest.
    pub water: f32,
}

impl Look {
    /// Hills of 26 cells with a little water, under `sky`.
    pub fn new(sky: Sky) -> Look {
        Look {
            sky,
            relief: 26.0,
            water: 0.12,
        }
    }
}

/// A sky's colours and light.
struct Palette {
    zenith: Colour,
    horizon: Colour,
    light: Colour,
    /// Towards the light: x right, y away from the camera, z up.
    direction: [f32; 3],
    ambient: f32,
    /// The colour of the sun's or moon's disc and halo.
    glow: Colour,
}

/// The horizon's height in the frame, from the top.
const HORIZON: f32 = 0.42;
/// The horizontal field of view, in radians.
const FIELD_OF_VIEW: f32 = 1.2;
/// How far the camera sees, in map cells.
const FAR: f32 = 900.0;
/// Fog density per map cell.
const FOG: f32 = 0.0045;

/// The elevation colour ramp: (elevation from the water line to the highest point, colour).
const RAMP: [(f32, Colour); 7] = [
    (0.0, [0.78, 0.72, 0.52]),
    (0.04, [0.58, 0.66, 0.34]),
    (0.22, [0.36, 0.56, 0.24]),
    (0.55, [0.19, 0.38, 0.17]),
    (0.72, [0.44, 0.40, 0.35]),
    (0.86, [0.58, 0.55, 0.52]),
    (0.92, [0.95, 0.96, 0.98]),
];
const ROCK: Colour = [0.47, 0.43, 0.39];
const DEEP_WATER: Colour = [0.04, 0.16, 0.32];
const SHALLOW_WATER: Colour = [0.14, 0.38, 0.52];

/// The heightmap (rows away from the camera, any units) as a `width`×`height` landscape drawn
/// with `look`. A flat map gives a lake to the horizon.
pub fn landscape(heights: ArrayView2<'_, f32>, look: Look, width: u32, height: u32) -> RgbImage {
    let palette = look.sky.palette();
    let surface = Surface::new(heights, look, &palette);
    let (w, h) = (width as f32, height as f32);
    let horizon = h * HORIZON;
    let focal = w / (2.0 * (FIELD_OF_VIEW / 2.0).tan());
    let (x0, y0) = (surface.cols as f32 / 2.0, -4.0);
    let eye = surface.highest_near(x0, y0, focal, w) + 0.18 * look.relief;

    let mut image = sky_image(&palette, look.sky, width, height, horizon);
    for column in 0..width {
        let slope = (column as f32 + 0.5 - w / 2.0) / focal;
        let mut top = height as f32;
        let mut z = 1.0f32;
        while z < FAR && top > 0.0 {
            let (x, y) = (x0 + slope * z, y0 + z);
            let (ground, colour) = surface.sample(x, y);
            let screen = horizon + (eye - ground) * focal / z;
            if screen < top {
                let fog = 1.0 - (-FOG * z).exp();
                let fogged = mix(colour, palette.horizon, fog);
                for row in screen.max(0.0).ceil() as u32..top.ceil().min(h) as u32 {
                    image.put_pixel(column, row, pixel(fogged));
                }
                top = screen;
            }
            // Finer steps near the camera, coarser far away: about one pixel of depth each.
            z += 0.25 + z * 0.008;
        }
    }
    image
}

/// The map as the renderer samples it: ground height in cells (water flattened to its surface)
/// and shaded colour, per cell.
struct Surface {
    ground: Array2<f32>,
    colour: Array2<Colour>,
    rows: usize,
    cols: usize,
}

impl Surface {
    fn new(heights: ArrayView2<'_, f32>, look: Look, palette: &Palette) -> Surface {
        let (rows, cols) = heights.dim();
        let (rows, cols) = (rows.max(1), cols.max(1));
        let finite = heights.iter().copied().filter(|v| v.is_finite());
        let low = finite.clone().fold(f32::INFINITY, f32::min);
        let high = finite.fold(f32::NEG_INFINITY, f32::max);
        let span = if high - low > 1e-6 { high - low } else { f32::INFINITY };
        let elevation = Array2::from_shape_fn((rows, cols), |(r, c)| {
            heights
                .get((r, c))
                .filter(|v| v.is_finite())
                .map_or(0.0, |v| (v - low) / span)
        });
        let water = look.water.clamp(0.0, 0.95);
        let ground = elevation.mapv(|e| e.max(water) * look.relief);
        let light = normalise(palette.direction);
        let colour = Array2::from_shape_fn((rows, cols), |(r, c)| {
            let e = elevation[[r, c]];
            if e < water {
                let depth = mix(DEEP_WATER, SHALLOW_WATER, (e / water).powi(2));
                return mix(depth, palette.horizon, 0.25).map(|v| v * (0.5 + 0.5 * palette.ambient.sqrt()));
            }
            let at = |r: usize, c: usize| ground[[r.min(rows - 1), c.min(cols - 1)]];
            let dx = (at(r, c + 1) - at(r, c.saturating_sub(1))) / 2.0;
            let dy = (at(r + 1, c) - at(r.saturating_sub(1), c)) / 2.0;
            let normal = normalise([-dx, -dy, 1.0]);
            let lit = (normal[0] * light[0] + normal[1] * light[1] + normal[2] * light[2]).max(0.0);
            let steep = ((1.0 - normal[2]) * 4.0 - 0.4).clamp(0.0, 1.0);
            let above = (e - water) / (1.0 - water);
            let base = mix(ramp(above), ROCK, steep * f32::from(above < RAMP[6].0));
            let shade = palette.ambient + (1.0 - palette.ambient) * lit;
            [0, 1, 2].map(|i| base[i] * shade * palette.light[i])
        });
        Surface {
            ground,
            colour,
            rows,
            cols,
        }
    }

    /// The ground height and colour at a point of the endless mirrored plain, bilinear.
    fn sample(&self, x: f32, y: f32) -> (f32, Colour) {
        let (c, fx) = mirrored(x, self.cols);
        let (r, fy) = mirrored(y, self.rows);
        let (c1, r1) = ((c + 1).min(self.cols - 1), (r + 1).min(self.rows - 1));
        let blend = |a: f32, b: f32, t: f32| a + (b - a) * t;
        let g = &self.ground;
        let ground = blend(blend(g[[r, c]], g[[r, c1]], fx), blend(g[[r1, c]], g[[r1, c1]], fx), fy);
        let k = &self.colour;
        let colour = [0, 1, 2].map(|i| {
            blend(
                blend(k[[r, c]][i], k[[r, c1]][i], fx),
                blend(k[[r1, c]][i], k[[r1, c1]][i], fx),
                fy,
            )
        });
        (ground, colour)
    }

    /// The highest ground the camera at `(x0, y0)` sees within a few dozen cells.
    fn highest_near(&self, x0: f32, y0: f32, focal: f32, width: f32) -> f32 {
        let half = width / 2.0 / focal;
        let mut highest = 0.0f32;
        for step in 0..48 {
            let z = 1.0 + step as f32;
            for k in 0..=8 {
                let x = x0 + (k as f32 / 4.0 - 1.0) * half * z;
                highest = highest.max(self.sample(x, y0 + z).0);
            }
        }
        highest
    }
}

/// The sky: a gradient from the zenith to the horizon, the sun's or moon's halo, stars at night.
fn sky_image(palette: &Palette, sky: Sky, width: u32, height: u32, horizon: f32) -> RgbImage {
    let w = width as f32;
    let (sun_x, sun_y, radius) = match sky {
        Sky::Day => (0.22 * w, 0.45 * horizon, 0.035 * w),
        Sky::Golden => (0.72 * w, 0.92 * horizon, 0.05 * w),
        Sky::Night => (0.78 * w, 0.3 * horizon, 0.025 * w),
    };
    RgbImage::from_fn(width, height, |x, y| {
        let t = (y as f32 / horizon.max(1.0)).min(1.0);
        let mut colour = mix(palette.zenith, palette.horizon, t.powf(1.6));
        let d = ((x as f32 - sun_x).powi(2) + (y as f32 - sun_y).powi(2)).sqrt() / radius.max(1.0);
        let halo = if d < 1.0 { 1.0 } else { 0.45 * (-(d - 1.0) / 3.0).exp() };
        colour = mix(colour, palette.glow, halo);
        if sky == Sky::Night && (y as f32) < horizon * 0.9 && star(x, y) {
            colour = mix(colour, [0.9, 0.9, 1.0], 0.8);
        }
        pixel(colour)
    })
}

/// About one pixel in 400, scattered by a hash of the position.
fn star(x: u32, y: u32) -> bool {
    let mut v = u64::from(x).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(y).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    v ^= v >> 29;
    v = v.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    v ^= v >> 32;
    v % 400 == 0
}

/// The ramp's colour at elevation `e` above the water line (0 at the line, 1 at the top).
fn ramp(e: f32) -> Colour {
    let mut below = RAMP[0];
    for stop in RAMP {
        if e <= stop.0 {
            let t = (e - below.0) / (stop.0 - below.0).max(1e-6);
            return mix(below.1, stop.1, t.clamp(0.0, 1.0));
        }
        below = stop;
    }
    below.1
}

/// A coordinate of the endless plain mirrored from `n` cells: the cell and the fraction past it.
fn mirrored(v: f32, n: usize) -> (usize, f32) {
    if n < 2 {
        return (0, 0.0);
    }
    let period = 2.0 * (n - 1) as f32;
    let mut m = v.rem_euclid(period);
    if m > (n - 1) as f32 {
        m = period - m;
    }
    let cell = (m.floor() as usize).min(n - 2);
    (cell, m - cell as f32)
}

fn mix(a: Colour, b: Colour, t: f32) -> Colour {
    [0, 1, 2].map(|i| a[i] + (b[i] - a[i]) * t)
}

fn normalise(v: [f32; 3]) -> [f32; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-9);
    v.map(|x| x / n)
}

fn pixel(c: Colour) -> Pixel<u8> {
    Pixel(c.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hills() -> Array2<f32> {
        Array2::from_shape_fn((64, 64), |(r, c)| {
            let (x, y) = (c as f32 / 8.0, r as f32 / 8.0);
            (x.sin() * y.cos() + 1.0) * 3.0
        })
    }

    #[test]
    fn times_of_day_name_their_skies() {
        assert_eq!(Sky::of_time("NIGHT"), Sky::Night);
        assert_eq!(Sky::of_time("dusk"), Sky::Golden);
        assert_eq!(Sky::of_time("Early morning"), Sky::Day);
        assert_eq!(Sky::of_time(""), Sky::Day);
    }

    #[test]
    fn sky_above_and_ground_below() {
        let image = landscape(hills().view(), Look::new(Sky::Day), 320, 180);
        assert_eq!(image.dimensions(), (320, 180));
        let top = image.get_pixel(160, 2).0;
        let bottom = image.get_pixel(160, 178).0;
        assert!(top[2] > top[0] && top[2] > top[1], "a blue sky: {top:?}");
        assert_ne!(top, bottom);
        let night = landscape(hills().view(), Look::new(Sky::Night), 320, 180);
        let brightness = |i: &RgbImage| {
            i.pixels()
                .map(|p| p.0.iter().map(|&v| u64::from(v)).sum::<u64>())
                .sum::<u64>()
        };
        assert!(brightness(&night) * 2 < brightness(&image));
    }

    #[test]
    fn degenerate_maps_still_render() {
        for map in [
            Array2::zeros((128, 128)),
            Array2::zeros((1, 1)),
            Array2::from_elem((4, 4), f32::NAN),
        ] {
            let image = landscape(map.view(), Look::new(Sky::Golden), 64, 36);
            assert_eq!(image.dimensions(), (64, 36));
        }
    }

    #[test]
    fn the_mirrored_plain_has_no_edge() {
        assert_eq!(mirrored(0.0, 5), (0, 0.0));
        assert_eq!(mirrored(4.0, 5), (3, 1.0));
        assert_eq!(mirrored(6.0, 5), (2, 0.0));
        assert_eq!(mirrored(-1.5, 5), (1, 0.5));
        assert_eq!(mirrored(3.0, 1), (0, 0.0));
    }
}
