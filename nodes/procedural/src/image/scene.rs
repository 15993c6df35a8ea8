//! Scene backgrounds: the time of day and its light, and which place or room a scene is.

use candle_core::Result;
use image::RgbImage;
use showrunner_story::model::Scene;
use showrunner_story::rng::{Rng, hash_str};

use super::exterior::exterior;
use super::interior::interior;
use super::weather::{Weather, overlay};
use super::words::{has, words};
use crate::raster::Rgb;

/// The light of a scene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Time {
    Day,
    Night,
    Dusk,
    Dawn,
    /// Anything else: a sky of a hashed hue.
    Other(f32),
}

impl Time {
    pub(super) fn of(scene: &Scene) -> Time {
        let tail = scene.slugline.rsplit('-').next().unwrap_or_default();
        Time::from_words(&words(&scene.time_of_day))
            .or_else(|| Time::from_words(&words(tail)))
            .unwrap_or_else(|| Time::Other((hash_str(&scene.time_of_day) % 1000) as f32 / 1000.0))
    }

    pub(super) fn from_words(w: &[String]) -> Option<Time> {
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
    pub(super) fn sky(self) -> (Rgb, Rgb) {
        match self {
            Time::Day => (Rgb(0.3, 0.55, 0.88), Rgb(0.74, 0.87, 0.97)),
            Time::Night => (Rgb(0.02, 0.03, 0.1), Rgb(0.1, 0.13, 0.28)),
            Time::Dusk => (Rgb(0.22, 0.17, 0.42), Rgb(0.98, 0.58, 0.32)),
            Time::Dawn => (Rgb(0.48, 0.62, 0.86), Rgb(1.0, 0.82, 0.68)),
            Time::Other(hue) => (Rgb::hsl(hue, 0.45, 0.35), Rgb::hsl(hue + 0.08, 0.5, 0.75)),
        }
    }

    /// What the light does to lit colours.
    pub(super) fn light(self) -> Rgb {
        match self {
            Time::Day => Rgb(1.0, 1.0, 1.0),
            Time::Night => Rgb(0.3, 0.34, 0.55),
            Time::Dusk => Rgb(0.88, 0.68, 0.62),
            Time::Dawn => Rgb(0.97, 0.88, 0.86),
            Time::Other(hue) => Rgb::hsl(hue, 0.3, 0.8),
        }
    }

    /// Indoor light: lamps soften the night.
    pub(super) fn indoor(self) -> Rgb {
        match self {
            Time::Night => Rgb(0.68, 0.6, 0.55),
            other => other.light().mix(Rgb(1.0, 1.0, 1.0), 0.5),
        }
    }
}

pub(super) fn lit(c: Rgb, light: Rgb) -> Rgb {
    Rgb(c.0 * light.0, c.1 * light.1, c.2 * light.2)
}

/// What a scene shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Place {
    Water { beach: bool, harbour: bool },
    City,
    Woods { dense: bool },
    Open { sandy: bool },
    Room(Room),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Room {
    Library,
    Kitchen,
    Workshop,
    Lighthouse,
    Station,
    Plain,
}

impl Place {
    pub(super) fn of(scene: &Scene) -> Place {
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

    pub(super) fn outside(w: &[String]) -> Place {
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

pub(super) const ROOM_WORDS: [&str; 14] = [
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
    pub(super) fn of(w: &[String]) -> Room {
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
pub(super) struct Stage {
    pub(super) w: f32,
    pub(super) h: f32,
    pub(super) horizon: f32,
    pub(super) time: Time,
}

pub(super) fn render_scene(scene: &Scene, w: usize, h: usize, seed: u64) -> Result<RgbImage> {
    let mut rng = Rng::derive(seed, &scene.id);
    let time = Time::of(scene);
    let place = Place::of(scene);
    let c = match place {
        Place::Room(room) => interior(room, time, (w, h), &mut rng)?,
        place => exterior(place, time, (w, h), &mut rng)?,
    };
    let mut image = c.to_image()?;
    if let Some(weather) = Weather::of(scene) {
        // Its own draws, so the weather leaves the place as it was drawn.
        let mut drops = Rng::derive(seed, &format!("{}/weather", scene.id));
        overlay(&mut image, weather, !matches!(place, Place::Room(_)), &mut drops);
    }
    Ok(image)
}

pub(super) fn unit(rng: &mut Rng) -> f32 {
    rng.unit() as f32
}
