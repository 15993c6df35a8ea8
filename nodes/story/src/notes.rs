//! What a regenerate's note asks, as the rules read it, and what they cannot read.
//!
//! The procedural backend, and the revisions of a previous version that every backend shares,
//! act on these notes (the words are matched anywhere in the note, in any case):
//!
//! | stage | what the rules act on | e.g. |
//! |---|---|---|
//! | outline | the tone; a newly named character | "make it hopeful", "add a whale named Old Tom" |
//! | characters | a character's age, clothing, trade, traits; a newly named character | "make the hero older", "Mara wears a red coat" |
//! | scenes | the time of day, the weather, the place; the tone (not in a revision) | "at night during the storm", "set it in a forest" |
//! | storyboard | the pace (more or fewer shots); the shot type | "more shots", "use close-ups" |
//!
//! Tones: grim (dark, grim, cold, sad, bleak), comic (funny, comic, comedy, light, playful,
//! silly), tense (tense, thrilling, suspense, faster), hopeful (warm, hope, gentle, kind,
//! uplifting). Cues are whole words (a plural `s` allowed); one right after "not", "no", "less",
//! "fewer", "don't", "never", "without" or "too many" does not count ("fewer close-ups" asks for
//! no close-ups). A note is cut into clauses (at punctuation that ends a sentence, and at "and",
//! "but", "also", "then"); [`unread`] gives the clauses a reader does not act on, so a backend
//! that cannot follow them says so instead of ignoring them.

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

    /// What a note can change at this stage, as the rules read it, in words.
    pub fn reads(self) -> &'static str {
        match self {
            Stage::Outline => "the tone (hopeful, grim, comic, tense) or add a named character",
            Stage::Characters => "a character's age, clothing, trade or traits, or add a named character",
            Stage::Scenes => "the time of day, the weather, the place or the tone",
            Stage::Storyboard => "the pace (more or fewer shots) or the shot type (close-ups, medium or wide shots)",
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

/// Who acts on a note: the text backend's rules, or the revision of the previous version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The procedural backend's rules, which write a new version.
    Rules,
    /// The revision of the version being regenerated (`showrunner-nodes`' `revise`), which
    /// changes only what it reads: a character's stated facts and new named characters; the
    /// time of day, weather and place. Never the tone.
    Revision,
}

/// The note's words: lower case, apostrophes dropped ("don't" → "dont"), cut at anything else
/// that is not a letter or digit ("close-ups" → "close", "ups").
fn words(note: &str) -> Vec<String> {
    note.to_lowercase()
        .replace(['\'', '\u{2019}'], "")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Words that turn the cue after them around ("not so sad", "fewer close-ups", "no close-ups").
const NEGATORS: [&str; 9] = ["not", "no", "less", "fewer", "dont", "never", "without", "nor", "many"];

/// Whether `phrase` (its words; a note's word may add a plural `s`) occurs in `w`, not within
/// two words after a negator.
fn said(w: &[String], phrase: &str) -> bool {
    let cue: Vec<&str> = phrase.split(' ').collect();
    (0..w.len()).any(|i| {
        let fits = cue
            .iter()
            .enumerate()
            .all(|(k, c)| w.get(i + k).is_some_and(|x| x == c || x.strip_suffix('s') == Some(*c)));
        // "not sad", "not so sad".
        let negated = w[i.saturating_sub(2)..i].iter().any(|x| NEGATORS.contains(&x.as_str()));
        fits && !negated
    })
}

fn any_said(w: &[String], phrases: &[&str]) -> bool {
    phrases.iter().any(|p| said(w, p))
}

/// The tone `note` asks for, if any: `grim`, `comic`, `tense` or `hopeful`.
pub fn tone(note: &str) -> Option<&'static str> {
    let w = words(note);
    // "kind of" is not kindness.
    let kind = said(&w, "kind") && !said(&w, "kind of");
    if any_said(
        &w,
        &[
            "dark", "darker", "grim", "grimmer", "cold", "colder", "sad", "sadder", "bleak", "bleaker",
        ],
    ) {
        Some("grim")
    } else if any_said(
        &w,
        &[
            "funny", "funnier", "comic", "comedy", "comedic", "light", "lighter", "playful", "silly", "sillier",
        ],
    ) {
        Some("comic")
    } else if any_said(
        &w,
        &[
            "tense",
            "tenser",
            "thrilling",
            "thriller",
            "suspense",
            "suspenseful",
            "faster",
        ],
    ) {
        Some("tense")
    } else if kind
        || any_said(
            &w,
            &[
                "warm",
                "warmer",
                "hope",
                "hopeful",
                "gentle",
                "gentler",
                "kinder",
                "uplifting",
            ],
        )
    {
        Some("hopeful")
    } else {
        None
    }
}

/// The pace `note` asks the storyboard for, if any.
pub fn pace(note: &str) -> Option<Pace> {
    let w = words(note);
    // "fewer shots" and "less shots" are cues themselves, not negations of "shots".
    let slower = w
        .windows(2)
        .any(|p| matches!(p[0].as_str(), "fewer" | "less") && p[1].starts_with("shot"));
    if slower || any_said(&w, &["slower", "longer shot", "fewer cut"]) {
        Some(Pace::Slower)
    } else if any_said(&w, &["faster", "more shot", "quicker", "shorter shot", "more cut"]) {
        Some(Pace::Faster)
    } else {
        None
    }
}

/// The shot type `note` asks for, if any ("fewer close-ups" asks for none).
pub fn shot_type(note: &str) -> Option<ShotType> {
    let w = words(note);
    if any_said(&w, &["close up", "closeup"]) {
        Some(ShotType::CloseUp)
    } else if any_said(&w, &["medium shot", "mid shot", "waist up"]) {
        Some(ShotType::Medium)
    } else if any_said(&w, &["wide shot", "wider shot", "establishing shot", "long shot"]) {
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

/// Words that carry no request ("please", "thanks", "try again"): a clause of only these is not
/// left unread.
const FILLER: [&str; 16] = [
    "please", "thanks", "thank", "you", "ok", "okay", "too", "a", "bit", "just", "now", "again", "try", "redo",
    "another", "one",
];

/// Abbreviations whose full stop ends no sentence.
const ABBREVIATIONS: [&str; 7] = ["dr", "mr", "mrs", "ms", "st", "prof", "capt"];

/// Colours: "black and white" is one colour, not two clauses.
const COLOURS: [&str; 12] = [
    "black", "white", "red", "blue", "green", "yellow", "grey", "gray", "brown", "orange", "purple", "pink",
];

/// `note` cut into sentences: at `; ! ? … ,` and new lines, and at a full stop that ends a
/// sentence (not "Dr. Mara", not "2.5").
fn sentences(note: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = note.char_indices().collect();
    let mut out = Vec::new();
    let mut start = 0;
    for (n, &(i, c)) in chars.iter().enumerate() {
        let next = chars.get(n + 1).map(|&(_, c)| c);
        let ends = match c {
            ';' | '!' | '?' | '\n' | '…' | ',' => true,
            '.' => {
                let before = note[start..i].split_whitespace().last().unwrap_or("").to_lowercase();
                next.is_none_or(char::is_whitespace) && !ABBREVIATIONS.contains(&before.as_str())
            }
            _ => false,
        };
        if ends {
            out.push(&note[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&note[start..]);
    out
}

/// `note` cut into clauses: into sentences, and at "and", "but", "also", "then" (except
/// between colours: "a black and white coat").
fn clauses(note: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in sentences(note) {
        let tokens: Vec<&str> = part.split_whitespace().collect();
        let mut current: Vec<&str> = Vec::new();
        for (i, word) in tokens.iter().enumerate() {
            let plain = |w: &str| w.to_lowercase().trim_matches(|c: char| !c.is_alphanumeric()).to_owned();
            let joins_colours = i > 0
                && COLOURS.contains(&plain(tokens[i - 1]).as_str())
                && tokens.get(i + 1).is_some_and(|n| COLOURS.contains(&plain(n).as_str()));
            if matches!(plain(word).as_str(), "and" | "but" | "also" | "then") && !joins_colours {
                out.push(current.join(" "));
                current.clear();
            } else {
                current.push(word);
            }
        }
        out.push(current.join(" "));
    }
    out.into_iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| words(c).iter().any(|w| !FILLER.contains(&w.as_str())))
        .collect()
}

/// Whether `reader` acts on `clause` at `stage`.
fn acts_on(reader: Reader, stage: Stage, clause: &str) -> bool {
    let facts = || read(clause, None);
    match (reader, stage) {
        (Reader::Rules, Stage::Outline) => tone(clause).is_some() || !introductions(clause).is_empty(),
        (_, Stage::Characters) => {
            !introductions(clause).is_empty()
                || facts().people.iter().any(|p| {
                    p.age.is_some()
                        || p.clothing.is_some()
                        || p.occupation.is_some()
                        || !p.traits.is_empty()
                        // A kind alone ("the dog should be funnier") states nothing.
                        || (p.kind.is_some() && p.name.is_some())
                })
        }
        (_, Stage::Scenes) => {
            let f = facts();
            (reader == Reader::Rules && tone(clause).is_some())
                || f.time_of_day.is_some()
                || f.weather.is_some()
                || f.place.is_some()
        }
        (Reader::Rules, Stage::Storyboard) => pace(clause).is_some() || shot_type(clause).is_some(),
        (Reader::Revision, Stage::Outline | Stage::Storyboard) => false,
    }
}

/// The clauses of `note` that `reader` does not act on at `stage`, as the person wrote them.
pub fn unread(note: &str, stage: Stage, reader: Reader) -> Vec<String> {
    clauses(note)
        .into_iter()
        .filter(|c| !acts_on(reader, stage, c))
        .collect()
}

/// What a run says of the `unread` clauses of its note that `who` (the procedural text backend,
/// the revision of the previous version) did not act on at `stage`: what it can act on there,
/// and which stage would act on a clause meant for another.
pub fn remark(who: &str, stage: Stage, unread: &[String]) -> Option<String> {
    if unread.is_empty() {
        return None;
    }
    let quoted: Vec<String> = unread.iter().map(|c| format!("\u{201c}{c}\u{201d}")).collect();
    let mut said = format!(
        "Not acted on: {} ({who}). At the {} stage a note can change {}.",
        quoted.join(", "),
        stage.name(),
        stage.reads()
    );
    for clause in unread {
        let elsewhere = [Stage::Outline, Stage::Characters, Stage::Scenes, Stage::Storyboard]
            .into_iter()
            .find(|&s| s != stage && acts_on(Reader::Rules, s, clause));
        if let Some(other) = elsewhere {
            said.push_str(&format!(" \u{201c}{clause}\u{201d} is for the {} stage.", other.name()));
        }
    }
    Some(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(note: &str, stage: Stage) -> Vec<String> {
        unread(note, stage, Reader::Rules)
    }

    #[test]
    fn a_note_is_read_clause_by_clause() {
        let none = Vec::<String>::new();
        assert_eq!(
            rules("make it hopeful, and add a whale named Old Tom", Stage::Outline),
            none
        );
        assert_eq!(
            rules("make the hero older and grumpier", Stage::Characters),
            ["grumpier"]
        );
        assert_eq!(rules("at night during the storm", Stage::Scenes), none);
        assert_eq!(rules("more shots, please", Stage::Storyboard), none);
        assert_eq!(rules("use close-ups. Thanks!", Stage::Storyboard), none);
        assert_eq!(rules("make the hero older", Stage::Outline), ["make the hero older"]);
        assert_eq!(
            rules("more jokes about cheese", Stage::Scenes),
            ["more jokes about cheese"]
        );
        assert_eq!(rules("try again", Stage::Scenes), none, "filler only");
        // "black and white" is one colour; "Dr." ends no sentence.
        assert_eq!(
            rules("Mara should wear a black and white coat", Stage::Characters),
            none
        );
        assert_eq!(rules("Dr. Mara should wear a red coat", Stage::Characters), none);
    }

    #[test]
    fn cues_are_whole_words_and_negations_turn_them_off() {
        assert_eq!(tone("set it at the lighthouse"), None, "light is not in lighthouse");
        assert_eq!(tone("it feels hopeless"), None);
        assert_eq!(tone("kind of slow"), None);
        assert_eq!(tone("make it lighter"), Some("comic"));
        assert_eq!(tone("not so sad, more hopeful"), Some("hopeful"));
        assert_eq!(shot_type("use close-ups"), Some(ShotType::CloseUp));
        assert_eq!(shot_type("fewer close-ups"), None);
        assert_eq!(shot_type("too many close ups"), None);
        assert_eq!(shot_type("closer to the book"), None);
        assert_eq!(pace("fewer shots"), Some(Pace::Slower));
        assert_eq!(pace("more shots"), Some(Pace::Faster));
        assert_eq!(pace("a slow burn"), None);
    }

    #[test]
    fn a_revision_reads_no_tone() {
        let note = "make it darker, at night";
        assert_eq!(rules(note, Stage::Scenes), Vec::<String>::new());
        assert_eq!(unread(note, Stage::Scenes, Reader::Revision), ["make it darker"]);
        assert_eq!(
            rules("her lines are too long", Stage::Characters),
            ["her lines are too long"]
        );
        assert_eq!(
            rules("the dog should be funnier", Stage::Characters),
            ["the dog should be funnier"]
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
    fn the_remark_names_what_was_not_read_and_where_it_belongs() {
        let said = remark(
            "the procedural text backend",
            Stage::Outline,
            &["grumpier".to_owned(), "make the hero older".to_owned()],
        )
        .expect("a remark");
        assert!(said.starts_with("Not acted on: \u{201c}grumpier\u{201d}"), "{said}");
        assert!(said.contains("the tone"), "{said}");
        assert!(
            said.contains("\u{201c}make the hero older\u{201d} is for the characters stage"),
            "{said}"
        );
        assert_eq!(remark("the procedural text backend", Stage::Characters, &[]), None);
    }
}
