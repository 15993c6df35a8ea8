//! The weather over a scene: a storm darkens the sky and slants rain across the frame, rain
//! greys it, snow falls as flakes, fog washes it out. Read from the scene's words (its heading,
//! time and description), so a storm an idea or a note states reaches the picture.

use image::RgbImage;
use showrunner_story::model::Scene;
use showrunner_story::rng::Rng;

use showrunner_story::facts::weather_of;

/// What falls or hangs over a scene.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Weather {
    Storm,
    Rain,
    Snow,
    Fog,
}

impl Weather {
    /// The weather a scene's words name, if any.
    pub(super) fn of(scene: &Scene) -> Option<Weather> {
        let words = format!("{} {} {}", scene.slugline, scene.time_of_day, scene.description);
        match weather_of(&words)? {
            "storm" => Some(Weather::Storm),
            "rain" => Some(Weather::Rain),
            "snow" => Some(Weather::Snow),
            _ => Some(Weather::Fog),
        }
    }
}

/// `image` under `weather`: outdoors in full, indoors only its light (a storm darkens a room;
/// nothing falls inside).
pub(super) fn overlay(image: &mut RgbImage, weather: Weather, outdoors: bool, rng: &mut Rng) {
    let (dim, tint, wash): (f32, [f32; 3], f32) = match weather {
        Weather::Storm => (0.5, [0.55, 0.6, 0.72], 0.0),
        Weather::Rain => (0.72, [0.7, 0.74, 0.8], 0.0),
        Weather::Snow => (0.9, [0.92, 0.94, 1.0], 0.15),
        Weather::Fog => (0.95, [0.8, 0.82, 0.84], 0.45),
    };
    let dim = if outdoors { dim } else { (1.0 + dim) / 2.0 };
    for pixel in image.pixels_mut() {
        for (c, t) in pixel.0.iter_mut().zip(tint) {
            let v = f32::from(*c) / 255.0 * dim;
            let v = v * (1.0 - wash) + t * wash;
            *c = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    if !outdoors {
        return;
    }
    let (w, h) = (image.width() as i64, image.height() as i64);
    let area = (w * h) as f64;
    match weather {
        Weather::Storm | Weather::Rain => {
            // Slanted streaks: more and longer in a storm.
            let (count, length, slant) = match weather {
                Weather::Storm => ((area / 90.0) as usize, h / 8 + 2, 3),
                _ => ((area / 160.0) as usize, h / 12 + 2, 1),
            };
            for _ in 0..count {
                let x0 = (rng.unit() * (w + h / 2) as f64) as i64 - h / 4;
                let y0 = (rng.unit() * h as f64) as i64;
                for t in 0..length {
                    let (x, y) = (x0 - t * slant / 4, y0 + t);
                    put(image, x, y, [200, 208, 220], 0.55);
                }
            }
        }
        Weather::Snow => {
            for _ in 0..(area / 120.0) as usize {
                let (x, y) = ((rng.unit() * w as f64) as i64, (rng.unit() * h as f64) as i64);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    put(image, x + dx, y + dy, [250, 250, 255], 0.9);
                }
            }
        }
        Weather::Fog => {}
    }
}

/// Blends `colour` into the pixel at `(x, y)`, when it is in the frame.
fn put(image: &mut RgbImage, x: i64, y: i64, colour: [u8; 3], alpha: f32) {
    if x < 0 || y < 0 || x >= i64::from(image.width()) || y >= i64::from(image.height()) {
        return;
    }
    let pixel = image.get_pixel_mut(x as u32, y as u32);
    for (c, t) in pixel.0.iter_mut().zip(colour) {
        *c = (f32::from(*c) * (1.0 - alpha) + f32::from(t) * alpha).round() as u8;
    }
}
