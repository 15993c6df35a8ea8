//! Words to colours and shapes: the colour, hair, eye and skin words a description uses.

use showrunner_story::rng::hash_str;

use crate::raster::Rgb;

/// The lower-case words of a text (letters only).
pub(super) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

pub(super) fn has(words: &[String], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(&w.as_str()))
}

/// A colour named by a word, as clothes and props wear it.
pub(super) fn named_colour(word: &str) -> Option<Rgb> {
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
pub(super) fn colours_in(text: &str) -> Vec<Rgb> {
    words(text).iter().filter_map(|w| named_colour(w)).collect()
}

/// A saturated colour hashed from a text, for texts that name none.
pub(super) fn hashed_colour(text: &str) -> Rgb {
    let h = hash_str(text);
    Rgb::hsl((h % 360) as f32 / 360.0, 0.55, 0.36 + ((h >> 12) % 16) as f32 / 100.0)
}

/// The first value `table` gives for one of the two words before any of `nouns`.
pub(super) fn described<T>(words: &[String], nouns: &[&str], table: fn(&str) -> Option<T>) -> Option<T> {
    let at = words.iter().position(|w| nouns.contains(&w.as_str()))?;
    words[at.saturating_sub(2)..at].iter().rev().find_map(|w| table(w))
}

pub(super) fn hair_colour(word: &str) -> Option<Rgb> {
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

pub(super) fn eye_colour(word: &str) -> Option<Rgb> {
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

pub(super) const SKIN: [Rgb; 6] = [
    Rgb(0.98, 0.86, 0.76),
    Rgb(0.94, 0.77, 0.63),
    Rgb(0.84, 0.64, 0.47),
    Rgb(0.72, 0.51, 0.35),
    Rgb(0.55, 0.37, 0.24),
    Rgb(0.4, 0.26, 0.17),
];

pub(super) fn skin_tone(word: &str) -> Option<usize> {
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
