//! A parser for [Fountain](https://fountain.io/syntax), the plain-text screenplay format, into
//! scenes, dialogue and characters with stable ids (DESIGN §4: script2video starts here).
//!
//! [`parse`] reads a whole screenplay. It follows the Fountain syntax page, is lenient where the
//! page is lenient, and fails with a [`FountainError`] (carrying the 1-based line) where a
//! screenplay is malformed in a way that would silently lose dialogue.
//!
//! # What is kept
//!
//! - **Title page**: only the `Title:` value is kept ([`Screenplay::title`]), its continuation
//!   lines joined with a space. A title page is recognised only when the first non-blank line is
//!   `Key: value` and the key is a known title-page key (`Title`, `Credit`, `Author`, `Authors`,
//!   `Source`, `Draft date`, `Date`, `Contact`, `Copyright`, `Notes`, `Revision`) or contains a
//!   lowercase letter, so that an opening `FADE IN:` or `CUT TO:` is not taken for one. The
//!   title page ends at the first blank line.
//! - **Scene headings**: a line beginning (case-insensitively) with `INT`, `EXT`, `EST`,
//!   `INT./EXT`, `INT/EXT`, `EXT./INT`, `EXT/INT` or `I/E` followed by `.` or a space, or forced
//!   with a leading `.` (but not `..`). The text after the last ` - ` is the time of day, the
//!   rest the location (so `INT. HOUSE - KITCHEN - NIGHT` is at `HOUSE - KITCHEN`, at `NIGHT`).
//!   A trailing scene number `#12A#` and the forcing `.` are not part of [`ScriptScene::heading`].
//! - **Dialogue**: a character cue (a line with at least one letter and no lowercase letter
//!   outside its parenthesised extensions, or any line forced with `@`), then dialogue and
//!   parenthetical lines up to the next blank line. Extensions (`(V.O.)`, `(O.S.)`, `(CONT'D)`,
//!   …) and the dual-dialogue caret `^` are stripped; dual dialogue is kept as two consecutive
//!   speeches. Parentheticals are kept without their parentheses; several in one speech are
//!   joined with `"; "`. Dialogue text is its lines joined with single spaces.
//! - **Action**: every other line. Consecutive lines make one paragraph, joined with `\n`, each
//!   line trimmed; a whitespace-only line starting with two spaces keeps a paragraph (or a
//!   speech) going. Forced action (`!`), lyrics (`~`) and centred text (`>THE END<`) are action
//!   with their markers removed.
//!
//! # What is dropped
//!
//! Boneyard `/* */` and notes `[[ ]]` (removed before anything else; a line left empty by the
//! removal disappears rather than becoming a blank line), sections `#`, synopses `=`, page breaks
//! `===`, transitions (an upper-case line ending in `TO:`, `FADE IN:`, `FADE OUT.`, `FADE TO
//! BLACK.`, or forced with `>`), and **action before the first scene heading** (there is no
//! prologue).
//!
//! # Decisions where Fountain is ambiguous
//!
//! - A scene heading, a character cue and a transition must follow a blank line (or the start of
//!   the body); a scene heading, a transition, a page break, a section or a synopsis line counts
//!   as such a separator for the line after it, so a cue may directly follow a heading.
//! - An upper-case line followed by a blank line is action (Fountain's rule), *unless* it is
//!   forced with `@` or carries an extension such as `(V.O.)`: then it is a cue with no dialogue,
//!   an error. A cue followed only by parentheticals is the same error.
//! - A character cue (with its dialogue) before the first scene heading is an error
//!   ([`FountainErrorKind::DialogueOutsideScene`], at the cue's line): a speech must belong to a
//!   scene. Parentheticals exist only inside a speech, so this covers them too.
//! - A note must be closed before an empty line (Fountain asks for two spaces on blank lines
//!   inside a note) and before the end; a boneyard before the end. Either error names the line of
//!   the opening `[[` or `/*`.
//! - Character ids are slugs of the name ([`character_id`]); names that slug alike (`MRS. DALE`,
//!   `MRS DALE`) are one character, named as first written.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A parsed screenplay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screenplay {
    /// The `Title:` of the title page, if there is one.
    pub title: Option<String>,
    /// The scenes, in order.
    pub scenes: Vec<ScriptScene>,
    /// Every character who speaks, in order of their first speech.
    pub characters: Vec<ScriptCharacter>,
}

/// Interior, exterior, both, or establishing: the prefix of a scene heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IntExt {
    /// `INT.`
    #[serde(rename = "INT")]
    Interior,
    /// `EXT.`
    #[serde(rename = "EXT")]
    Exterior,
    /// `INT./EXT.`, `INT/EXT`, `EXT./INT.` or `I/E`.
    #[serde(rename = "INT/EXT")]
    Both,
    /// `EST.`: an establishing shot.
    #[serde(rename = "EST")]
    Establishing,
}

impl IntExt {
    /// The canonical spelling: `INT`, `EXT`, `INT/EXT` or `EST`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntExt::Interior => "INT",
            IntExt::Exterior => "EXT",
            IntExt::Both => "INT/EXT",
            IntExt::Establishing => "EST",
        }
    }
}

/// One scene: its heading and what happens in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptScene {
    /// Stable id by order: `scene-1`, `scene-2`, ….
    pub id: String,
    /// The heading line as written, without a forcing `.` or a scene number `#1#`.
    pub heading: String,
    /// The heading's prefix; `None` for a forced heading without one (`.FLASHBACK`).
    pub interior_exterior: Option<IntExt>,
    /// Where: the heading after its prefix, before the last ` - `.
    pub location: String,
    /// When: the heading after the last ` - `, if there is one.
    pub time_of_day: Option<String>,
    /// The 1-based line of the heading.
    pub line: usize,
    /// Action paragraphs, in order (lines within a paragraph joined with `\n`).
    pub action: Vec<String>,
    /// The speeches, in order.
    pub dialogue: Vec<DialogueLine>,
    /// The ids of the characters who speak in the scene, in order of first speech.
    pub character_ids: Vec<String>,
}

/// One speech: a character cue and what follows it up to the next blank line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueLine {
    /// The speaker's id ([`ScriptCharacter::id`]).
    pub character_id: String,
    /// The speaker's name as written on this cue, without extension.
    pub character_name: String,
    /// The parenthetical(s), without parentheses (`beat`), joined with `"; "` if several.
    pub parenthetical: Option<String>,
    /// What is said: the dialogue lines joined with single spaces.
    pub text: String,
    /// The 1-based line of the character cue.
    pub line: usize,
}

/// A character who speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptCharacter {
    /// Stable id: the slug of the name ([`character_id`]), e.g. `mrs-dale`.
    pub id: String,
    /// The name as first written, without extension.
    pub name: String,
    /// The 1-based line of the first cue.
    pub first_line: usize,
    /// How many speeches the character has.
    pub lines: usize,
}

/// What is wrong with a screenplay, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct FountainError {
    /// The 1-based line the problem is on (for [`FountainErrorKind::NoSceneHeading`], 1).
    pub line: usize,
    /// The problem.
    pub kind: FountainErrorKind,
}

impl FountainError {
    /// The message, without the line: what `kind` displays as.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

/// The kinds of [`FountainError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FountainErrorKind {
    /// A character cue with no dialogue line after it (only parentheticals, or a blank line).
    #[error("character cue {name:?} without dialogue")]
    CueWithoutDialogue {
        /// The character's name as written.
        name: String,
    },
    /// A speech before the first scene heading.
    #[error("dialogue before the first scene heading")]
    DialogueOutsideScene,
    /// A scene heading with nothing where the location goes.
    #[error("scene heading without a location")]
    HeadingWithoutLocation,
    /// A `/*` with no `*/` after it.
    #[error("unterminated boneyard: `/*` without `*/`")]
    UnterminatedBoneyard,
    /// A `[[` with no `]]` before the next empty line or the end.
    #[error("unterminated note: `[[` without `]]`")]
    UnterminatedNote,
    /// No scene heading anywhere.
    #[error("no scene heading in the screenplay")]
    NoSceneHeading,
}

/// The stable id of a character name: lowercase, each run of non-alphanumerics turned into one
/// `-`, with none at either end. Extensions such as `(V.O.)` are stripped first.
///
/// ```
/// use showrunner_story::fountain::character_id;
/// assert_eq!(character_id("MRS. DALE"), "mrs-dale");
/// assert_eq!(character_id("BOB (V.O.)"), "bob");
/// ```
pub fn character_id(name: &str) -> String {
    crate::slug(name.split('(').next().unwrap_or_default())
}

/// Parses a screenplay in Fountain. See the [module docs](self) for what is kept, what is
/// dropped, and the decisions taken where Fountain is ambiguous.
pub fn parse(text: &str) -> Result<Screenplay, FountainError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = strip_comments(text)?;
    let (title, body_start) = title_page(&lines);
    Parser::default().run(&lines[body_start..], title)
}

/// A line after boneyard and notes are removed, with the 1-based line it starts on.
#[derive(Debug)]
struct Line {
    text: String,
    no: usize,
}

fn err(line: usize, kind: FountainErrorKind) -> FountainError {
    FountainError { line, kind }
}

/// An empty line: nothing but whitespace, unless it starts with two spaces (Fountain's way to
/// keep a blank line inside a speech or a paragraph).
fn is_blank(line: &str) -> bool {
    line.trim().is_empty() && !line.starts_with("  ")
}

/// Removes boneyard `/* */` and notes `[[ ]]`, keeping each remaining line's original number.
fn strip_comments(text: &str) -> Result<Vec<Line>, FountainError> {
    enum State {
        Text,
        Boneyard(usize),
        Note(usize),
    }
    let mut state = State::Text;
    let mut out = Vec::new();
    // The logical line being built: its text, first line, and whether anything was removed.
    let mut current: Option<(String, usize, bool)> = None;
    for (idx, raw) in text.split('\n').enumerate() {
        let no = idx + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let State::Note(start) = state
            && is_blank(raw)
        {
            return Err(err(start, FountainErrorKind::UnterminatedNote));
        }
        let (buf, _, removed) = current.get_or_insert_with(|| (String::new(), no, false));
        let mut rest = raw;
        while !rest.is_empty() {
            match state {
                State::Text => {
                    let bone = rest.find("/*");
                    let note = rest.find("[[");
                    let (at, next) = match (bone, note) {
                        (Some(b), Some(n)) if n < b => (n, State::Note(no)),
                        (Some(b), _) => (b, State::Boneyard(no)),
                        (None, Some(n)) => (n, State::Note(no)),
                        (None, None) => {
                            buf.push_str(rest);
                            break;
                        }
                    };
                    buf.push_str(&rest[..at]);
                    rest = &rest[at + 2..];
                    *removed = true;
                    state = next;
                }
                State::Boneyard(_) | State::Note(_) => {
                    let close = if matches!(state, State::Boneyard(_)) {
                        "*/"
                    } else {
                        "]]"
                    };
                    match rest.find(close) {
                        Some(at) => {
                            rest = &rest[at + 2..];
                            state = State::Text;
                        }
                        None => break,
                    }
                }
            }
        }
        if matches!(state, State::Text)
            && let Some((text, first, removed)) = current.take()
            && !(removed && text.trim().is_empty())
        {
            out.push(Line { text, no: first });
        }
    }
    match state {
        State::Text => Ok(out),
        State::Boneyard(start) => Err(err(start, FountainErrorKind::UnterminatedBoneyard)),
        State::Note(start) => Err(err(start, FountainErrorKind::UnterminatedNote)),
    }
}

/// Title-page keys recognised even when written in capitals.
const TITLE_KEYS: &[&str] = &[
    "title",
    "credit",
    "author",
    "authors",
    "source",
    "draft date",
    "date",
    "contact",
    "copyright",
    "notes",
    "revision",
];

/// A title-page `Key: value` line: the key (trimmed) and the value.
fn title_key(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    let mut chars = key.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic());
    let rest_ok = chars.all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-'));
    (first_ok && rest_ok && key.len() <= 40).then_some((key, value))
}

/// Finds the title page at the start: the title, and the index of the first body line.
fn title_page(lines: &[Line]) -> (Option<String>, usize) {
    let Some(first) = lines.iter().position(|l| !is_blank(&l.text)) else {
        return (None, 0);
    };
    let opens = title_key(lines[first].text.trim()).is_some_and(|(key, _)| {
        TITLE_KEYS.contains(&key.to_lowercase().as_str()) || key.chars().any(char::is_lowercase)
    });
    if !opens {
        return (None, 0);
    }
    let mut title: Option<Vec<String>> = None;
    let mut in_title = false;
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(first) {
        if is_blank(&line.text) {
            end = i;
            break;
        }
        let indented = line.text.starts_with('\t') || line.text.starts_with("   ");
        match title_key(&line.text) {
            Some((key, value)) if !indented => {
                in_title = key.eq_ignore_ascii_case("title");
                if in_title {
                    title = Some(vec![value.trim().to_owned()]);
                }
            }
            _ => {
                if in_title && let Some(parts) = title.as_mut() {
                    parts.push(line.text.trim().to_owned());
                }
            }
        }
    }
    let title = title
        .map(|parts| {
            parts
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|t| !t.is_empty());
    (title, end)
}

/// What a scene heading says.
struct Heading {
    heading: String,
    int_ext: Option<IntExt>,
    location: String,
    time_of_day: Option<String>,
}

/// Heading prefixes, longest first, lowercase.
const PREFIXES: &[(&str, IntExt)] = &[
    ("int./ext", IntExt::Both),
    ("ext./int", IntExt::Both),
    ("int/ext", IntExt::Both),
    ("ext/int", IntExt::Both),
    ("i/e", IntExt::Both),
    ("int", IntExt::Interior),
    ("ext", IntExt::Exterior),
    ("est", IntExt::Establishing),
];

/// Matches a heading prefix: the prefix and the rest after it (past a `.` and spaces).
fn heading_prefix(line: &str) -> Option<(IntExt, &str)> {
    PREFIXES.iter().find_map(|&(prefix, kind)| {
        let head = line.get(..prefix.len())?;
        if !head.eq_ignore_ascii_case(prefix) {
            return None;
        }
        let rest = &line[prefix.len()..];
        rest.starts_with(['.', ' '])
            .then(|| (kind, rest.trim_start_matches('.').trim_start()))
    })
}

/// Removes a trailing scene number `#12A#`.
fn strip_scene_number(line: &str) -> &str {
    let Some(inner) = line.strip_suffix('#') else {
        return line;
    };
    match inner.rfind('#') {
        Some(at)
            if inner[at + 1..]
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-')) =>
        {
            inner[..at].trim_end()
        }
        _ => line,
    }
}

/// Reads a scene heading, if `line` (trimmed) is one.
fn scene_heading(line: &str, no: usize) -> Option<Result<Heading, FountainError>> {
    let (text, int_ext, rest) = if let Some(forced) = line.strip_prefix('.') {
        if forced.starts_with('.') || forced.starts_with(char::is_whitespace) || forced.is_empty() {
            return None;
        }
        let text = strip_scene_number(forced);
        match heading_prefix(text) {
            Some((kind, rest)) => (text, Some(kind), rest),
            None => (text, None, text),
        }
    } else {
        let text = strip_scene_number(line);
        let (kind, rest) = heading_prefix(text)?;
        (text, Some(kind), rest)
    };
    let (location, time_of_day) = split_time(rest);
    if location.is_empty() {
        return Some(Err(err(no, FountainErrorKind::HeadingWithoutLocation)));
    }
    Some(Ok(Heading {
        heading: text.to_owned(),
        int_ext,
        location,
        time_of_day,
    }))
}

/// Splits `LOCATION - TIME` at the last ` - ` (or en/em dash).
fn split_time(rest: &str) -> (String, Option<String>) {
    let padded = format!(" {} ", rest.trim());
    let found = [" - ", " \u{2013} ", " \u{2014} "]
        .iter()
        .filter_map(|sep| padded.rfind(sep).map(|at| (at, sep.len())))
        .max_by_key(|&(at, _)| at);
    match found {
        Some((at, len)) => {
            let time = padded[at + len..].trim();
            (
                padded[..at].trim().to_owned(),
                (!time.is_empty()).then(|| time.to_owned()),
            )
        }
        None => (padded.trim().to_owned(), None),
    }
}

/// A character cue: the name as written (without extension or caret), and whether it is
/// unmistakably a cue (forced with `@`, or carrying an extension).
struct Cue {
    name: String,
    certain: bool,
}

/// Reads a character cue, if `line` (trimmed) could be one.
fn character_cue(line: &str) -> Option<Cue> {
    let line = line.strip_suffix('^').unwrap_or(line).trim_end();
    if let Some(forced) = line.strip_prefix('@') {
        let name = forced.split('(').next().unwrap_or_default().trim();
        return name.chars().any(char::is_alphanumeric).then(|| Cue {
            name: name.to_owned(),
            certain: true,
        });
    }
    let (name, extension) = match line.find('(') {
        Some(at) => (line[..at].trim(), Some(&line[at..])),
        None => (line, None),
    };
    if extension.is_some_and(|e| !e.ends_with(')')) {
        return None;
    }
    let is_name = name.chars().any(char::is_alphabetic) && !name.chars().any(char::is_lowercase);
    is_name.then(|| Cue {
        name: name.to_owned(),
        certain: extension.is_some(),
    })
}

/// An upper-case transition: `CUT TO:`, `FADE IN:`, `FADE OUT.`, `FADE TO BLACK.`.
fn is_transition(line: &str) -> bool {
    let upper = !line.chars().any(char::is_lowercase);
    upper && (line.ends_with("TO:") || matches!(line, "FADE IN:" | "FADE OUT." | "FADE TO BLACK."))
}

/// Sections `#`, synopses `=` and page breaks `===`: dropped, and separators.
fn is_ignored(line: &str) -> bool {
    line.starts_with('#') || line.starts_with('=')
}

#[derive(Default)]
struct Parser {
    scenes: Vec<ScriptScene>,
    characters: Vec<ScriptCharacter>,
    by_id: HashMap<String, usize>,
    paragraph: Vec<String>,
}

impl Parser {
    fn run(mut self, lines: &[Line], title: Option<String>) -> Result<Screenplay, FountainError> {
        let mut after_break = true;
        let mut i = 0;
        while i < lines.len() {
            let Line { text, no } = &lines[i];
            let no = *no;
            i += 1;
            if is_blank(text) {
                self.flush();
                after_break = true;
                continue;
            }
            let t = text.trim();
            if let Some(forced) = t.strip_prefix(['!', '~']) {
                // Forced action and lyrics: never a heading, a cue or a transition.
                self.paragraph.push(forced.trim().to_owned());
                after_break = false;
                continue;
            }
            if is_ignored(t) {
                self.flush();
                after_break = true;
                continue;
            }
            if after_break && let Some(heading) = scene_heading(t, no) {
                self.start_scene(heading?, no);
                after_break = true;
                continue;
            }
            if let Some(inner) = t.strip_prefix('>') {
                self.flush();
                if let Some(centred) = inner.strip_suffix('<') {
                    self.paragraph.push(centred.trim().to_owned());
                    self.flush();
                }
                after_break = true;
                continue;
            }
            if after_break && is_transition(t) {
                self.flush();
                after_break = true;
                continue;
            }
            if after_break && let Some(cue) = character_cue(t) {
                let speech_len = lines[i..].iter().take_while(|l| !is_blank(&l.text)).count();
                if speech_len > 0 || cue.certain {
                    self.speech(cue, no, &lines[i..i + speech_len])?;
                    i += speech_len;
                    after_break = false;
                    continue;
                }
            }
            after_break = false;
            self.paragraph.push(t.to_owned());
        }
        self.flush();
        if self.scenes.is_empty() {
            return Err(err(1, FountainErrorKind::NoSceneHeading));
        }
        Ok(Screenplay {
            title,
            scenes: self.scenes,
            characters: self.characters,
        })
    }

    /// Ends the action paragraph being built (dropped before the first scene).
    fn flush(&mut self) {
        if self.paragraph.is_empty() {
            return;
        }
        let paragraph = std::mem::take(&mut self.paragraph).join("\n").trim().to_owned();
        if let Some(scene) = self.scenes.last_mut()
            && !paragraph.is_empty()
        {
            scene.action.push(paragraph);
        }
    }

    fn start_scene(&mut self, heading: Heading, no: usize) {
        self.flush();
        self.scenes.push(ScriptScene {
            id: format!("scene-{}", self.scenes.len() + 1),
            heading: heading.heading,
            interior_exterior: heading.int_ext,
            location: heading.location,
            time_of_day: heading.time_of_day,
            line: no,
            action: Vec::new(),
            dialogue: Vec::new(),
            character_ids: Vec::new(),
        });
    }

    /// Reads one speech: the cue on line `no`, then `body` (up to the next blank line).
    fn speech(&mut self, cue: Cue, no: usize, body: &[Line]) -> Result<(), FountainError> {
        self.flush();
        let mut parentheticals = Vec::new();
        let mut words: Vec<&str> = Vec::new();
        for line in body {
            let t = line.text.trim();
            match t.strip_prefix('(').and_then(|p| p.strip_suffix(')')) {
                Some(inner) => parentheticals.push(inner.trim()),
                None => words.extend(t.split_whitespace()),
            }
        }
        if words.is_empty() {
            return Err(err(no, FountainErrorKind::CueWithoutDialogue { name: cue.name }));
        }
        let Some(scene) = self.scenes.last_mut() else {
            return Err(err(no, FountainErrorKind::DialogueOutsideScene));
        };
        let id = character_id(&cue.name);
        match self.by_id.get(&id) {
            Some(&at) => self.characters[at].lines += 1,
            None => {
                self.by_id.insert(id.clone(), self.characters.len());
                self.characters.push(ScriptCharacter {
                    id: id.clone(),
                    name: cue.name.clone(),
                    first_line: no,
                    lines: 1,
                });
            }
        }
        if !scene.character_ids.contains(&id) {
            scene.character_ids.push(id.clone());
        }
        scene.dialogue.push(DialogueLine {
            character_id: id,
            character_name: cue.name,
            parenthetical: (!parentheticals.is_empty()).then(|| parentheticals.join("; ")),
            text: words.join(" "),
            line: no,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Screenplay {
        match parse(text) {
            Ok(play) => play,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn fails(text: &str) -> FountainError {
        match parse(text) {
            Ok(play) => panic!("parsed, but should not have: {play:?}"),
            Err(e) => e,
        }
    }

    fn said(scene: &ScriptScene) -> Vec<(&str, &str, usize)> {
        scene
            .dialogue
            .iter()
            .map(|d| (d.character_id.as_str(), d.text.as_str(), d.line))
            .collect()
    }

    const THREE: &str = "\
INT. KITCHEN - NIGHT

Ann stirs a pot.

ANN
Dinner's ready.

BOB
(muffled)
Coming!

EXT. GARDEN - DAY

BOB
Too hot out here.

ANN
Then come in.

INT./EXT. CAR - MOVING

They drive in silence.
The radio hums.
";

    #[test]
    fn three_scenes_with_their_dialogue_and_lines() {
        let play = ok(THREE);
        assert_eq!(play.title, None);
        assert_eq!(play.scenes.len(), 3);
        let [kitchen, garden, car] = &play.scenes[..] else {
            unreachable!()
        };

        assert_eq!(kitchen.id, "scene-1");
        assert_eq!(kitchen.heading, "INT. KITCHEN - NIGHT");
        assert_eq!(kitchen.interior_exterior, Some(IntExt::Interior));
        assert_eq!(kitchen.location, "KITCHEN");
        assert_eq!(kitchen.time_of_day.as_deref(), Some("NIGHT"));
        assert_eq!(kitchen.line, 1);
        assert_eq!(kitchen.action, ["Ann stirs a pot."]);
        assert_eq!(said(kitchen), [("ann", "Dinner's ready.", 5), ("bob", "Coming!", 8)]);
        assert_eq!(kitchen.dialogue[1].parenthetical.as_deref(), Some("muffled"));
        assert_eq!(kitchen.dialogue[0].parenthetical, None);
        assert_eq!(kitchen.character_ids, ["ann", "bob"]);

        assert_eq!(garden.id, "scene-2");
        assert_eq!(garden.line, 12);
        assert_eq!(garden.interior_exterior, Some(IntExt::Exterior));
        assert_eq!(
            said(garden),
            [("bob", "Too hot out here.", 14), ("ann", "Then come in.", 17)]
        );
        assert_eq!(garden.character_ids, ["bob", "ann"]);
        assert!(garden.action.is_empty());

        assert_eq!(car.id, "scene-3");
        assert_eq!(car.line, 20);
        assert_eq!(car.interior_exterior, Some(IntExt::Both));
        assert_eq!(car.location, "CAR");
        assert_eq!(car.time_of_day.as_deref(), Some("MOVING"));
        assert_eq!(car.action, ["They drive in silence.\nThe radio hums."]);
        assert!(car.dialogue.is_empty() && car.character_ids.is_empty());

        let chars: Vec<_> = play
            .characters
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.first_line, c.lines))
            .collect();
        assert_eq!(chars, [("ann", "ANN", 5, 2), ("bob", "BOB", 8, 2)]);
    }

    #[test]
    fn forced_headings_and_cues() {
        let play = ok("\
.FLASHBACK

@McCLANE
Yippee.

.SNIPER SCOPE POV - NIGHT

@Hans (O.S.)
(calm)
Now.
");
        let [flashback, scope] = &play.scenes[..] else {
            panic!("{play:?}")
        };
        assert_eq!(flashback.heading, "FLASHBACK");
        assert_eq!(flashback.interior_exterior, None);
        assert_eq!(flashback.location, "FLASHBACK");
        assert_eq!(flashback.time_of_day, None);
        assert_eq!(said(flashback), [("mcclane", "Yippee.", 3)]);
        assert_eq!(flashback.dialogue[0].character_name, "McCLANE");
        assert_eq!(scope.location, "SNIPER SCOPE POV");
        assert_eq!(scope.time_of_day.as_deref(), Some("NIGHT"));
        assert_eq!(said(scope), [("hans", "Now.", 8)]);
        assert_eq!(scope.dialogue[0].character_name, "Hans");
        assert_eq!(scope.dialogue[0].parenthetical.as_deref(), Some("calm"));
    }

    #[test]
    fn forced_prefixed_heading_and_not_forced_ellipsis() {
        let play = ok(".int. attic - dusk #4A#\n\n...and then the lights go out.\n");
        let scene = &play.scenes[0];
        assert_eq!(scene.heading, "int. attic - dusk");
        assert_eq!(scene.interior_exterior, Some(IntExt::Interior));
        assert_eq!(scene.location, "attic");
        assert_eq!(scene.action, ["...and then the lights go out."]);
    }

    #[test]
    fn headings_are_case_insensitive_and_lose_scene_numbers() {
        let play = ok("int. kitchen - night #12#\n\nEST. CITY SKYLINE\n\nI/E TRUCK - DAY\n\nEXT./INT. PORCH - DUSK\n");
        let got: Vec<_> = play
            .scenes
            .iter()
            .map(|s| {
                (
                    s.heading.as_str(),
                    s.interior_exterior,
                    s.location.as_str(),
                    s.time_of_day.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("int. kitchen - night", Some(IntExt::Interior), "kitchen", Some("night")),
                ("EST. CITY SKYLINE", Some(IntExt::Establishing), "CITY SKYLINE", None),
                ("I/E TRUCK - DAY", Some(IntExt::Both), "TRUCK", Some("DAY")),
                ("EXT./INT. PORCH - DUSK", Some(IntExt::Both), "PORCH", Some("DUSK")),
            ]
        );
    }

    #[test]
    fn extensions_are_stripped_and_merged_into_one_character() {
        let play = ok("\
INT. OFFICE - DAY

BOB (V.O.)
I never liked this job.

BOB
Morning.

BOB (CONT'D)
(to himself)
Another day.

MRS. DALE (O.S.)
Bob!

MRS DALE
Bob, now!

BOB (cont'd)
Coming.
");
        let chars: Vec<_> = play
            .characters
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.first_line, c.lines))
            .collect();
        assert_eq!(chars, [("bob", "BOB", 3, 4), ("mrs-dale", "MRS. DALE", 13, 2)]);
        let scene = &play.scenes[0];
        assert_eq!(scene.character_ids, ["bob", "mrs-dale"]);
        assert!(scene.dialogue.iter().all(|d| !d.character_name.contains('(')));
        assert_eq!(scene.dialogue[3].character_name, "MRS. DALE");
        assert_eq!(scene.dialogue[4].character_name, "MRS DALE");
        assert_eq!(scene.dialogue[4].character_id, "mrs-dale");
    }

    #[test]
    fn character_ids_are_slugs() {
        assert_eq!(character_id("MRS. DALE"), "mrs-dale");
        assert_eq!(character_id("  DR. JEKYLL/HYDE (V.O.)"), "dr-jekyll-hyde");
        assert_eq!(character_id("O'BRIEN"), "o-brien");
        assert_eq!(character_id("R2-D2"), "r2-d2");
        assert_eq!(character_id("JOSÉ"), "josé");
    }

    #[test]
    fn dual_dialogue_is_tolerated() {
        let play = ok("\
INT. BAR - NIGHT

BRICK
Screw retirement.

STEEL ^
Screw retirement.
");
        assert_eq!(
            said(&play.scenes[0]),
            [("brick", "Screw retirement.", 3), ("steel", "Screw retirement.", 6)]
        );
        assert_eq!(play.characters[1].name, "STEEL");
    }

    #[test]
    fn title_page_with_indented_title_and_dropped_prologue() {
        let play = ok("\
Title:
    _**BRICK & STEEL**_
    _**FULL RETIRED**_
Credit: Written by
Author: Stu Maschwitz

FADE IN:

A prologue that is dropped.

INT. GARAGE - DAY

Brick works.
");
        assert_eq!(play.title.as_deref(), Some("_**BRICK & STEEL**_ _**FULL RETIRED**_"));
        assert_eq!(play.scenes.len(), 1);
        assert_eq!(play.scenes[0].line, 11);
        assert_eq!(play.scenes[0].action, ["Brick works."]);
    }

    #[test]
    fn opening_transition_is_not_a_title_page() {
        let play = ok("FADE IN:\nINT. HOUSE - DAY\n\nBOB\nHi.\n");
        assert_eq!(play.title, None);
        assert_eq!(play.scenes[0].line, 2);
        assert_eq!(said(&play.scenes[0]), [("bob", "Hi.", 4)]);
    }

    #[test]
    fn transitions_sections_synopses_page_breaks_are_dropped() {
        let play = ok("\
INT. A - DAY

# Section
= Synopsis.

Action one.

CUT TO:
EXT. B - NIGHT
BOB
Hi.

> SMASH CUT
===
INT. C - DAY

>THE END<
");
        let got: Vec<_> = play
            .scenes
            .iter()
            .map(|s| (s.location.as_str(), s.action.clone(), s.line))
            .collect();
        assert_eq!(
            got,
            [
                ("A", vec!["Action one.".to_owned()], 1),
                ("B", vec![], 9),
                ("C", vec!["THE END".to_owned()], 15),
            ]
        );
        assert_eq!(said(&play.scenes[1]), [("bob", "Hi.", 10)]);
    }

    #[test]
    fn boneyard_and_notes_keep_line_numbers() {
        let play = ok("\
/* An opening comment
spanning lines */
INT. A - DAY

BOB
[[a note on its own line]]
Hello /* cut words */ there [[inline]] friend.

/*
ANN
A cut speech.
*/

ANN
Bye.
");
        let scene = &play.scenes[0];
        assert_eq!(scene.line, 3);
        assert_eq!(said(scene), [("bob", "Hello there friend.", 5), ("ann", "Bye.", 14)]);
        assert!(scene.action.is_empty());
    }

    #[test]
    fn notes_may_hold_two_space_blank_lines() {
        let play = ok("INT. A - DAY\n\nBOB\nHi. [[a long\n  \nnote]] Bye.\n");
        assert_eq!(said(&play.scenes[0]), [("bob", "Hi. Bye.", 3)]);
    }

    #[test]
    fn leniencies() {
        let play = ok("\
INT. A - DAY\r
\r
BOOM!\r
\r
!ANN\r
Forced action, not a cue.\r
\r
ANN\r
First line.\r
  \r
After a two-space line.\r
\r
~Sing a song\r
");
        let scene = &play.scenes[0];
        assert_eq!(scene.action, ["BOOM!", "ANN\nForced action, not a cue.", "Sing a song"]);
        assert_eq!(said(scene), [("ann", "First line. After a two-space line.", 8)]);
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let play = ok("\u{feff}Title: BOM\n\nINT. A - DAY\n");
        assert_eq!(play.title.as_deref(), Some("BOM"));
        assert_eq!(play.scenes[0].line, 3);
    }

    #[test]
    fn several_parentheticals_are_joined() {
        let play = ok("INT. A - DAY\n\nBOB\n(quietly)\nWell.\n(beat)\nNo.\n");
        let line = &play.scenes[0].dialogue[0];
        assert_eq!(line.parenthetical.as_deref(), Some("quietly; beat"));
        assert_eq!(line.text, "Well. No.");
    }

    #[test]
    fn errors_carry_their_line() {
        let cases: &[(&str, usize, FountainErrorKind)] = &[
            (
                "INT. A - DAY\n\n@BOB\n\nAction.\n",
                3,
                FountainErrorKind::CueWithoutDialogue { name: "BOB".into() },
            ),
            (
                "INT. A - DAY\n\nAction.\n\nBOB (V.O.)\n",
                5,
                FountainErrorKind::CueWithoutDialogue { name: "BOB".into() },
            ),
            (
                "INT. A - DAY\n\nBOB\n(beat)\n\nMore.\n",
                3,
                FountainErrorKind::CueWithoutDialogue { name: "BOB".into() },
            ),
            (
                "Title: X\n\nPrologue.\n\nBOB\nHi.\n\nINT. A - DAY\n",
                5,
                FountainErrorKind::DialogueOutsideScene,
            ),
            (
                "ANN\n(whispering)\nPsst.\n\nINT. A - DAY\n",
                1,
                FountainErrorKind::DialogueOutsideScene,
            ),
            (
                "INT. A - DAY\n\nText.\n\nEXT. - NIGHT\n",
                5,
                FountainErrorKind::HeadingWithoutLocation,
            ),
            ("INT. A - DAY\n\nEXT.\n", 3, FountainErrorKind::HeadingWithoutLocation),
            (
                "INT. A - DAY\n\n/* never\nclosed\n",
                3,
                FountainErrorKind::UnterminatedBoneyard,
            ),
            (
                "INT. A - DAY\n\nHi [[ never closed\n",
                3,
                FountainErrorKind::UnterminatedNote,
            ),
            (
                "INT. A - DAY\n\n[[ open\n\n]]\n",
                3,
                FountainErrorKind::UnterminatedNote,
            ),
            (
                "Just some action.\n\nMore action.\n",
                1,
                FountainErrorKind::NoSceneHeading,
            ),
            ("", 1, FountainErrorKind::NoSceneHeading),
        ];
        for (text, line, kind) in cases {
            let e = fails(text);
            assert_eq!((e.line, &e.kind), (*line, kind), "for {text:?}");
        }
    }

    #[test]
    fn error_display() {
        let e = fails("INT. A - DAY\n\n\n\n\n\n@BOB\n");
        assert_eq!(e.to_string(), "line 7: character cue \"BOB\" without dialogue");
        assert_eq!(e.message(), "character cue \"BOB\" without dialogue");
        assert_eq!(
            fails("\n/*\n").to_string(),
            "line 2: unterminated boneyard: `/*` without `*/`"
        );
    }

    fn sample() -> &'static str {
        include_str!("../tests/fixtures/lighthouse.fountain")
    }

    fn line(id: &str, name: &str, parenthetical: Option<&str>, text: &str, line: usize) -> DialogueLine {
        DialogueLine {
            character_id: id.into(),
            character_name: name.into(),
            parenthetical: parenthetical.map(Into::into),
            text: text.into(),
            line,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn realistic_sample_gives_the_expected_structure() {
        let expected = Screenplay {
            title: Some("The Last Lighthouse".into()),
            scenes: vec![
                ScriptScene {
                    id: "scene-1".into(),
                    heading: "EXT. CLIFFTOP LIGHTHOUSE - DAWN".into(),
                    interior_exterior: Some(IntExt::Exterior),
                    location: "CLIFFTOP LIGHTHOUSE".into(),
                    time_of_day: Some("DAWN".into()),
                    line: 12,
                    action: strings(&[
                        "Waves pound the rocks below. MARA (30s, soaked) climbs the last steps, a duffel on her shoulder.",
                        "She knocks. The door creaks open. ELIAS (70s) squints at her.",
                    ]),
                    dialogue: vec![
                        line(
                            "mara",
                            "MARA",
                            None,
                            "Nobody had lit the lamp in forty years. Nobody but him.",
                            18,
                        ),
                        line("elias", "ELIAS", Some("gruff"), "We're closed.", 24),
                        line("mara", "MARA", None, "You're a lighthouse. You don't close.", 28),
                        line("elias", "ELIAS", Some("beat"), "Watch me.", 31),
                    ],
                    character_ids: strings(&["mara", "elias"]),
                },
                ScriptScene {
                    id: "scene-2".into(),
                    heading: "INT. LIGHTHOUSE - LAMP ROOM - CONTINUOUS".into(),
                    interior_exterior: Some(IntExt::Interior),
                    location: "LIGHTHOUSE - LAMP ROOM".into(),
                    time_of_day: Some("CONTINUOUS".into()),
                    line: 37,
                    action: strings(&["Dust everywhere. A brass lamp, dark."]),
                    dialogue: vec![
                        line("mara", "MARA", None, "It still works?", 41),
                        line("elias", "ELIAS", None, "It works when I say it works.", 44),
                    ],
                    character_ids: strings(&["mara", "elias"]),
                },
                ScriptScene {
                    id: "scene-3".into(),
                    heading: "FLASHBACK - THE STORM OF '81".into(),
                    interior_exterior: None,
                    location: "FLASHBACK".into(),
                    time_of_day: Some("THE STORM OF '81".into()),
                    line: 55,
                    action: strings(&["Rain lashes the glass. YOUNG ELIAS fights the lamp's gears.", "THE END"]),
                    dialogue: vec![
                        line("mcgregor", "McGREGOR", None, "Elias! Get down from there!", 59),
                        line("young-elias", "YOUNG ELIAS", None, "I can't leave it dark!", 62),
                    ],
                    character_ids: strings(&["mcgregor", "young-elias"]),
                },
            ],
            characters: vec![
                ScriptCharacter {
                    id: "mara".into(),
                    name: "MARA".into(),
                    first_line: 18,
                    lines: 3,
                },
                ScriptCharacter {
                    id: "elias".into(),
                    name: "ELIAS".into(),
                    first_line: 24,
                    lines: 3,
                },
                ScriptCharacter {
                    id: "mcgregor".into(),
                    name: "McGREGOR".into(),
                    first_line: 59,
                    lines: 1,
                },
                ScriptCharacter {
                    id: "young-elias".into(),
                    name: "YOUNG ELIAS".into(),
                    first_line: 62,
                    lines: 1,
                },
            ],
        };
        let play = ok(sample());
        assert_eq!(play, expected);

        // Serde round trip, with the heading prefix spelled as screenwriters spell it.
        let json = serde_json::to_string(&play).unwrap_or_default();
        assert!(json.contains(r#""interior_exterior":"EXT""#), "{json}");
        let back: Screenplay = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back, play);
    }
}
