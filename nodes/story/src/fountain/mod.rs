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
//! `===`, and **action before the first scene heading** (there is no prologue).
//!
//! # Transitions
//!
//! A transition (an upper-case line ending in `TO:`, `FADE IN:`, `FADE OUT.`, `FADE TO BLACK.`,
//! or forced with `>`) is not action: the last one in a scene becomes the scene's
//! [`ScriptScene::transition`], read by [`Transition::from_fountain`] (`CUT TO:` a cut,
//! `DISSOLVE TO:` a dissolve, `> BURN TO PINK.` a fade through pink).
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

use crate::transition::Transition;
use elements::{Cue, Heading, character_cue, is_ignored, is_transition, scene_heading};
use lines::{is_blank, strip_comments, title_page};

mod elements;
mod emphasis;
mod lines;
#[cfg(test)]
mod tests;

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

impl Screenplay {
    /// The scenes as the stage data model has them, with their characters and dialogue as
    /// written, made by `generated_by` (script2video's scenes stage; a heading without a time of
    /// day is at `day`).
    pub fn model_scenes(&self, generated_by: &crate::model::Generator) -> Vec<crate::model::Scene> {
        self.scenes
            .iter()
            .map(|s| crate::model::Scene {
                id: s.id.clone(),
                slugline: s.heading.clone(),
                location: s.location.clone(),
                time_of_day: s.time_of_day.as_deref().unwrap_or("day").to_lowercase(),
                description: s.action.join(" "),
                character_ids: s.character_ids.clone(),
                script: s
                    .dialogue
                    .iter()
                    .map(|d| crate::model::ScriptLine {
                        character_id: d.character_id.clone(),
                        line: d.text.clone(),
                    })
                    .collect(),
                transition: s.transition,
                generated_by: generated_by.clone(),
            })
            .collect()
    }
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
    /// How the scene gives way to the next: its last transition line, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transition: Option<Transition>,
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
pub(super) struct Line {
    pub(super) text: String,
    pub(super) no: usize,
}

pub(super) fn err(line: usize, kind: FountainErrorKind) -> FountainError {
    FountainError { line, kind }
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
                match inner.strip_suffix('<') {
                    Some(centred) => {
                        self.paragraph.push(centred.trim().to_owned());
                        self.flush();
                    }
                    None => self.transition(inner),
                }
                after_break = true;
                continue;
            }
            if after_break && is_transition(t) {
                self.flush();
                self.transition(t);
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
        let paragraph = emphasis::plain(std::mem::take(&mut self.paragraph).join("\n").trim());
        if let Some(scene) = self.scenes.last_mut()
            && !paragraph.is_empty()
        {
            scene.action.push(paragraph);
        }
    }

    /// A transition line: the current scene's way out (none before the first scene).
    fn transition(&mut self, line: &str) {
        if let Some(scene) = self.scenes.last_mut()
            && let Some(transition) = Transition::from_fountain(line)
        {
            scene.transition = Some(transition);
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
            transition: None,
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
            text: emphasis::plain(&words.join(" ")),
            line: no,
        });
        Ok(())
    }
}
