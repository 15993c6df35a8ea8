//! What a regenerate's note asks, as the rules read it, and what they cannot read.
//!
//! The procedural backend, and the revisions of a previous version that every backend shares,
//! act on these notes (the words are matched anywhere in the note, in any case):
//!
//! | stage | what the rules act on | e.g. |
//! |---|---|---|
//! | outline | the tone; a newly named character | "make it hopeful", "add a whale named Old Tom" |
//! | characters | a character's age, clothing, kind, traits; a newly named character | "make the hero older", "Mara wears a red coat" |
//! | scenes | the time of day, the weather, the place; the tone | "at night during the storm", "set it in a forest" |
//! | storyboard | the pace (more or fewer shots); the shot type | "more shots", "use close-ups" |
//!
//! Tones: grim (dark, grim, cold, sad), comic (funny, comic, light, playful), tense (tense,
//! thrill, suspense, faster), hopeful (warm, hope, gentle, kind). A note is cut into clauses (at
//! punctuation and at "and", "but", "also", "then"); [`unread`] gives the clauses none of a
//! stage's rules act on, so a backend that cannot follow them says so instead of ignoring them.

use crate::facts::{Person, read};
use crate::model::ShotType;

/// A text stage a note is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The outline.
    Outline,
    /// The cast.
    Characters,
    /// The scenes.
    Scenes,
    /// The shots.
    Storyboard,
}

impl Stage {
    /// The stage's node name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Outline => "outline",
            Stage::Characters => "characters",
            Stage::Scenes => "scenes",
            Stage::Storyboard => "storyboard",
        }
    }

    /// What the rules act on at this stage, in words.
    pub fn reads(self) -> &'static str {
        match self {
            Stage::Outline => "the tone (hopeful, grim, comic, tense) and newly named characters",
            Stage::Characters => "a character's age, clothing, kind and traits, and newly named characters",
            Stage::Scenes => "the time of day, the weather, the place and the tone",
            Stage::Storyboard => "the pace (more or fewer shots) and the shot type (close-ups, medium, wide)",
        }
    }
}

/// How a note asks the storyboard's pace to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// More, shorter shots.
    Faster,
    /// Fewer, longer shots.
    Slower,
}

fn has(note: &str, words: &[&str]) -> bool {
    let lower = note.to_lowercase();
    words.iter().any(|w| lower.contains(w))
}

/// The tone `note` asks for, if any: `grim`, `comic`, `tense` or `hopeful`.
pub fn tone(note: &str) -> Option<&'static str> {
    if has(note, &["dark", "grim", "cold", "sad"]) {
        Some("grim")
    } else if has(note, &["funny", "funnier", "comic", "light", "playful"]) {
        Some("comic")
    } else if has(note, &["tense", "thrill", "suspense", "faster"]) {
        Some("tense")
    } else if has(note, &["warm", "hope", "gentle", "kind"]) {
        Some("hopeful")
    } else {
        None
    }
}

/// The pace `note` asks the storyboard for, if any.
pub fn pace(note: &str) -> Option<Pace> {
    if has(
        note,
        &["slower", "longer shots", "fewer shots", "less shots", "fewer cuts"],
    ) {
        Some(Pace::Slower)
    } else if has(note, &["faster", "more shots", "quicker", "shorter shots", "more cuts"]) {
        Some(Pace::Faster)
    } else {
        None
    }
}

/// The shot type `note` asks for, if any.
pub fn shot_type(note: &str) -> Option<ShotType> {
    if has(note, &["close-up", "closeup", "close up", "closer"]) {
        Some(ShotType::CloseUp)
    } else if has(note, &["medium shot", "mid shot", "waist"]) {
        Some(ShotType::Medium)
    } else if has(note, &["wide shot", "wider", "establishing", "long shot"]) {
        Some(ShotType::Wide)
    } else {
        None
    }
}

/// The people `text` introduces by name ("a whale named Old Tom", "a girl called Sam"), with
/// what it says of them.
pub fn introductions(text: &str) -> Vec<Person> {
    let lower = text.to_lowercase();
    read(text, None)
        .people
        .into_iter()
        .filter(|p| {
            p.name.as_deref().is_some_and(|name| {
                let name = name.to_lowercase();
                lower.contains(&format!("named {name}")) || lower.contains(&format!("called {name}"))
            })
        })
        .collect()
}

/// Words that carry no request ("please", "thanks"): a clause of only these is not unread.
const FILLER: [&str; 14] = [
    "please", "thanks", "thank", "you", "ok", "okay", "also", "and", "too", "a", "bit", "just", "now", "again",
];

/// `note` cut into clauses: at punctuation and at "and", "but", "also", "then".
fn clauses(note: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in note.split(['.', ',', ';', '!', '?', '\n', '…']) {
        let mut current: Vec<&str> = Vec::new();
        for word in part.split_whitespace() {
            if matches!(word.to_lowercase().as_str(), "and" | "but" | "also" | "then") {
                out.push(current.join(" "));
                current.clear();
            } else {
                current.push(word);
            }
        }
        out.push(current.join(" "));
    }
    out.into_iter()
        .filter(|c| {
            c.split_whitespace()
                .any(|w| !FILLER.contains(&w.to_lowercase().trim_matches(|c: char| !c.is_alphanumeric())))
        })
        .collect()
}

/// Whether `stage`'s rules act on `clause`.
fn acts_on(stage: Stage, clause: &str) -> bool {
    match stage {
        Stage::Outline => tone(clause).is_some() || !introductions(clause).is_empty(),
        Stage::Characters => {
            read(clause, None).people.iter().any(|p| {
                p.age.is_some()
                    || p.clothing.is_some()
                    || p.kind.is_some()
                    || !p.traits.is_empty()
                    || p.pronoun.is_some()
            }) || !introductions(clause).is_empty()
        }
        Stage::Scenes => {
            let facts = read(clause, None);
            tone(clause).is_some() || facts.time_of_day.is_some() || facts.weather.is_some() || facts.place.is_some()
        }
        Stage::Storyboard => pace(clause).is_some() || shot_type(clause).is_some(),
    }
}

/// The clauses of `note` that none of `stage`'s rules act on, as the person wrote them.
pub fn unread(note: &str, stage: Stage) -> Vec<String> {
    clauses(note).into_iter().filter(|c| !acts_on(stage, c)).collect()
}

/// What a run says of the `unread` clauses of its note that `who` (the procedural text backend,
/// the revision of the previous version) did not act on at `stage`.
pub fn remark(who: &str, stage: Stage, unread: &[String]) -> Option<String> {
    if unread.is_empty() {
        return None;
    }
    let quoted: Vec<String> = unread.iter().map(|c| format!("\u{201c}{c}\u{201d}")).collect();
    Some(format!(
        "The {who} did not act on {} in the note: at the {} stage it reads {}.",
        quoted.join(", "),
        stage.name(),
        stage.reads()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_read_clause_by_clause() {
        assert_eq!(
            unread("make it hopeful, and add a whale named Old Tom", Stage::Outline),
            Vec::<String>::new()
        );
        assert_eq!(
            unread("make the hero older and grumpier", Stage::Characters),
            ["grumpier"]
        );
        assert_eq!(unread("at night during the storm", Stage::Scenes), Vec::<String>::new());
        assert_eq!(unread("more shots, please", Stage::Storyboard), Vec::<String>::new());
        assert_eq!(
            unread("use close-ups. Thanks!", Stage::Storyboard),
            Vec::<String>::new()
        );
        assert_eq!(unread("make the hero older", Stage::Outline), ["make the hero older"]);
        assert_eq!(
            unread("more jokes about cheese", Stage::Scenes),
            ["more jokes about cheese"]
        );
    }

    #[test]
    fn introductions_need_a_name_given() {
        let tom = introductions("Mara meets a whale named Old Tom");
        assert_eq!(tom.len(), 1);
        assert_eq!(tom[0].name.as_deref(), Some("Old Tom"));
        assert_eq!(tom[0].kind.as_deref(), Some("whale"));
        assert!(introductions("Mara sets out to find Tobias").is_empty());
    }

    #[test]
    fn the_remark_names_what_was_not_read_and_what_is() {
        let said = remark("procedural text backend", Stage::Characters, &["grumpier".to_owned()]).expect("a remark");
        assert!(said.contains("\u{201c}grumpier\u{201d}"), "{said}");
        assert!(said.contains("age, clothing"), "{said}");
        assert_eq!(remark("procedural text backend", Stage::Characters, &[]), None);
    }
}
