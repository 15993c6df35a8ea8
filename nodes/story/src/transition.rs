//! How one shot gives way to the next: a cut, a dissolve, or a fade through a colour, read from a
//! screenplay's transitions (`CUT TO:`, `DISSOLVE TO:`, `FADE TO BLACK.`, `> BURN TO PINK.`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The transition after a scene or a shot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transition {
    /// Straight to the next shot (`CUT TO:`, `SMASH CUT TO:`, `MATCH CUT TO:`).
    Cut,
    /// The next shot dissolves in (`DISSOLVE TO:`, and any other `… TO:` such as `WIPE TO:`).
    Dissolve,
    /// Out to a colour and in from it (`FADE OUT.`, `FADE TO BLACK.`, `BURN TO PINK.`).
    Fade {
        /// The colour passed through.
        colour: Colour,
    },
}

/// The colours a fade can pass through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    /// `#000000`.
    Black,
    /// `#ffffff`.
    White,
    /// `#d62828`.
    Red,
    /// `#ff69b4`.
    Pink,
    /// `#f77f00`.
    Orange,
    /// `#fcbf49`.
    Yellow,
    /// `#2a9d3f`.
    Green,
    /// `#1d4ed8`.
    Blue,
    /// `#7b2cbf`.
    Purple,
    /// `#808080`.
    Grey,
}

impl Colour {
    const NAMES: [(&'static str, Colour); 11] = [
        ("BLACK", Colour::Black),
        ("WHITE", Colour::White),
        ("RED", Colour::Red),
        ("PINK", Colour::Pink),
        ("ORANGE", Colour::Orange),
        ("YELLOW", Colour::Yellow),
        ("GREEN", Colour::Green),
        ("BLUE", Colour::Blue),
        ("PURPLE", Colour::Purple),
        ("GREY", Colour::Grey),
        ("GRAY", Colour::Grey),
    ];

    /// The colour as RGB.
    pub fn rgb(self) -> [u8; 3] {
        match self {
            Colour::Black => [0, 0, 0],
            Colour::White => [255, 255, 255],
            Colour::Red => [214, 40, 40],
            Colour::Pink => [255, 105, 180],
            Colour::Orange => [247, 127, 0],
            Colour::Yellow => [252, 191, 73],
            Colour::Green => [42, 157, 63],
            Colour::Blue => [29, 78, 216],
            Colour::Purple => [123, 44, 191],
            Colour::Grey => [128, 128, 128],
        }
    }

    /// The colour a word names (`PINK`, `grey`), if it names one.
    pub fn named(word: &str) -> Option<Colour> {
        let word = word.trim().to_uppercase();
        Self::NAMES.iter().find(|(name, _)| *name == word).map(|(_, c)| *c)
    }
}

impl Transition {
    /// The transition a screenplay's transition line asks for, or `None` for one that is not a
    /// cut between scenes (`FADE IN:` opens a screenplay). A fade through a colour this does not
    /// know is a fade through black.
    ///
    /// ```
    /// use showrunner_story::transition::{Colour, Transition};
    /// assert_eq!(Transition::from_fountain("SMASH CUT TO:"), Some(Transition::Cut));
    /// assert_eq!(
    ///     Transition::from_fountain("> BURN TO PINK."),
    ///     Some(Transition::Fade { colour: Colour::Pink })
    /// );
    /// assert_eq!(Transition::from_fountain("FADE IN:"), None);
    /// ```
    pub fn from_fountain(line: &str) -> Option<Transition> {
        let text = line.trim().trim_start_matches('>').trim().to_uppercase();
        let text = text.trim_end_matches(['.', ':', '!']).trim();
        let words: Vec<&str> = text.split_whitespace().collect();
        let fade = |after_to: Option<&&str>| Transition::Fade {
            colour: after_to.and_then(|w| Colour::named(w)).unwrap_or(Colour::Black),
        };
        let to = words.iter().position(|w| *w == "TO");
        match words.as_slice() {
            [] | ["FADE", "IN"] => None,
            ["FADE", "OUT"] | ["FADE", "TO", ..] | ["CUT", "TO", "BLACK"] => {
                Some(fade(to.and_then(|t| words.get(t + 1))))
            }
            w if w.contains(&"DISSOLVE") => Some(Transition::Dissolve),
            w if w.contains(&"CUT") => Some(Transition::Cut),
            _ => match to.and_then(|t| words.get(t + 1)).and_then(|w| Colour::named(w)) {
                Some(colour) => Some(Transition::Fade { colour }),
                None => Some(Transition::Dissolve),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fountain_transitions_choose_the_cut() {
        let cases = [
            ("CUT TO:", Some(Transition::Cut)),
            ("SMASH CUT TO:", Some(Transition::Cut)),
            ("MATCH CUT TO:", Some(Transition::Cut)),
            ("DISSOLVE TO:", Some(Transition::Dissolve)),
            ("WIPE TO:", Some(Transition::Dissolve)),
            ("FADE OUT.", Some(Transition::Fade { colour: Colour::Black })),
            ("FADE TO BLACK.", Some(Transition::Fade { colour: Colour::Black })),
            ("FADE TO WHITE.", Some(Transition::Fade { colour: Colour::White })),
            ("CUT TO BLACK.", Some(Transition::Fade { colour: Colour::Black })),
            ("> BURN TO PINK.", Some(Transition::Fade { colour: Colour::Pink })),
            ("> BURN TO MAUVE.", Some(Transition::Dissolve)),
            ("FADE IN:", None),
            ("", None),
        ];
        for (line, want) in cases {
            assert_eq!(Transition::from_fountain(line), want, "{line}");
        }
    }

    #[test]
    fn transitions_round_trip_as_json_and_refuse_unknown_colours() {
        let fade = Transition::Fade { colour: Colour::Pink };
        let json = serde_json::to_value(fade).expect("json");
        assert_eq!(json, serde_json::json!({"kind": "fade", "colour": "pink"}));
        assert_eq!(serde_json::from_value::<Transition>(json).expect("back"), fade);
        assert!(serde_json::from_value::<Transition>(serde_json::json!({"kind": "fade", "colour": "mauve"})).is_err());
        assert!(serde_json::from_value::<Transition>(serde_json::json!({"kind": "wipe"})).is_err());
    }
}
