//! Chat intents: what a reviewer's message at a review gate asks for.
//!
//! The conversational UI posts free text ("looks good", "make the detective older and redo the
//! storyboard", "set Mara's clothing to a red raincoat", "what's left?"). [`IntentClassifier`]
//! turns it into an [`Intent`]: approve, regenerate with feedback, a structured [`EditRequest`],
//! or a question, with the node the message names.
//!
//! # How it decides
//!
//! 1. Pattern rules settle the clear cases outright. A message that opens as a question (a
//!    question word, an auxiliary before its subject as in "should I", or a `?` closing a
//!    message that is not a command) is a [`IntentKind::Question`], even when it names a redo
//!    ("should I redo the outline?"). Next, an edit command is an [`IntentKind::Edit`]:
//!    "set|change|update|make|rename `<subject's>?` `<field>` to|= `<value>`", "replace `<field>`
//!    with `<value>`", or "`<field>` should be `<value>`" for a known field. Polite wrappers
//!    ("please", "can you", "let's") make a command of a question-shaped request.
//! 2. Otherwise weighted keyword cues and the embedder vote together. A negation ("not good",
//!    "don't like") flips a cue between approve and regenerate, and cues before a "but" count
//!    less. The embedder compares the message with prototype sentences per kind, embedded once
//!    when the classifier is built; a kind's similarity is the mean of its top three cosines, so
//!    several close prototypes beat one lucky one. An edit the caller could not apply is no
//!    answer: when no edit shape matched, the best other kind wins, with the edit's share of
//!    the vote lowering its confidence.
//!
//! Why both: the built-in hashed-trigram embedder only sees shared words, so the rules carry the
//! clear cases and the prototypes catch what no cue covers. A real sentence embedder plugs in
//! behind the same [`Embedder`] trait; its wider similarity gaps count for more at the same
//! weight. The weight and [`MIN_CONFIDENCE`] were set on the hashed embedder: re-run the
//! labelled set (`tests/intent.rs`) when swapping it. Prototypes and cues are generic phrasings
//! on purpose; the labelled set in `tests/fixtures` is not copied into them.

use std::fmt;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use showrunner_backend::{BackendError, BackendResult, Embedder, cosine};

/// What a chat message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    /// Accept the node's output and move on.
    Approve,
    /// Make the node's output again, usually with feedback.
    Regenerate,
    /// Change one field of the output to a given value.
    Edit,
    /// Ask about the episode: its status, what is left, what something is.
    Question,
}

impl IntentKind {
    /// Every kind, in declaration order.
    pub const ALL: [IntentKind; 4] = [
        IntentKind::Approve,
        IntentKind::Regenerate,
        IntentKind::Edit,
        IntentKind::Question,
    ];

    /// The snake_case name, as serialized.
    pub fn name(self) -> &'static str {
        match self {
            IntentKind::Approve => "approve",
            IntentKind::Regenerate => "regenerate",
            IntentKind::Edit => "edit",
            IntentKind::Question => "question",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for IntentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A classified chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Intent {
    /// What the message asks for.
    pub kind: IntentKind,
    /// How sure the classifier is, in `(0, 1]`; below [`MIN_CONFIDENCE`], better ask again.
    pub confidence: f32,
    /// The node key the message names, if any ("redo the storyboard" → `storyboard`). A node
    /// right after a command verb wins over one mentioned elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For a regenerate: the message without its command words ("make the detective older");
    /// `None` when nothing is left ("redo the outline").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// For an edit, always: the parsed request. Only a message with one of the edit shapes is an
    /// edit; an edit-like message without one ("give her a red coat") gets the best other kind,
    /// usually a regenerate whose feedback carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<EditRequest>,
}

/// A requested change of one field ("set Mara's clothing to a red raincoat").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EditRequest {
    /// Whose field, lowercased, possessive dropped: `mara`, `the detective`, `scene 3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The field, snake_case: `clothing`, `logline`, `time_of_day`.
    pub field: String,
    /// The new value as written, without surrounding quotes or closing punctuation.
    pub value: String,
}

/// The stock node keys of idea2video and script2video with the words people use for them.
/// Pass it (or the part of it a workflow has: `screenplay` is script2video's only) to
/// [`IntentClassifier::new`]. Character names and roles are not synonyms: "the detective" is a
/// subject, not a node.
pub const STOCK_NODES: &[(&str, &[&str])] = &[
    ("screenplay", &["screenplay", "script", "fountain"]),
    (
        "outline",
        &["outline", "outlines", "logline", "synopsis", "premise", "plot", "beats"],
    ),
    (
        "characters",
        &[
            "characters",
            "character",
            "cast",
            "character list",
            "character sheet",
            "character sheets",
        ],
    ),
    (
        "portraits",
        &[
            "portraits",
            "portrait",
            "headshots",
            "headshot",
            "character art",
            "turnarounds",
        ],
    ),
    ("scenes", &["scenes", "scene", "scene list", "scene breakdown"]),
    (
        "scene_images",
        &[
            "scene images",
            "scene image",
            "scene art",
            "backgrounds",
            "background",
            "backdrops",
            "backdrop",
            "environments",
        ],
    ),
    (
        "storyboard",
        &[
            "storyboard",
            "storyboards",
            "story board",
            "shots",
            "shot",
            "shot list",
            "boards",
        ],
    ),
    (
        "keyframes",
        &["keyframes", "keyframe", "key frames", "key frame", "frames", "stills"],
    ),
    ("clips", &["clips", "clip", "video clips", "animation", "animations"]),
    (
        "final",
        &[
            "final",
            "final video",
            "final cut",
            "final render",
            "final film",
            "final episode",
            "render",
            "export",
        ],
    ),
];

/// The confidence below which a caller should ask the reviewer to rephrase rather than act.
/// Rule-decided messages score 0.8 or more; a message that no cue covers and that the embedder
/// places nowhere in particular ("hmm") scores well below. Calibrated on the hashed embedder's
/// labelled set, where every message scores at least 0.59: revisit it with a real embedder.
pub const MIN_CONFIDENCE: f32 = 0.5;

/// Prototype sentences per kind. Generic phrasings: a real sentence embedder generalises from
/// them, the hashed one matches their words.
const PROTOTYPES: &[(IntentKind, &[&str])] = &[
    (
        IntentKind::Approve,
        &[
            "this looks good",
            "yes, I approve this step",
            "great result, let's continue",
            "perfect, go on to the next stage",
            "that's fine with me",
            "accept this version",
            "I'm happy with how it turned out",
            "nice job, keep it",
            "sounds right, proceed",
            "okay, leave it like that",
            "everything here is correct",
            "this is what I was hoping for",
            "excellent, next please",
            "agreed, mark it approved",
            "wonderful, no notes",
        ],
    ),
    (
        IntentKind::Regenerate,
        &[
            "redo this step",
            "regenerate it with these changes",
            "try once more",
            "I don't like this, make another one",
            "this is wrong, generate it again",
            "make it darker and more dramatic",
            "it is too long and too slow",
            "needs more detail and less clutter",
            "start again from scratch",
            "give me a fresh take on this",
            "the faces look off",
            "it should feel warmer",
            "not good enough, rework it",
            "change the mood, it's too gloomy",
            "can you make them look younger",
        ],
    ),
    (
        IntentKind::Edit,
        &[
            "set the name to something new",
            "change the title to a new title",
            "update this field to a new value",
            "set her outfit to a blue dress",
            "change his age to forty",
            "rename the character to Sam",
            "replace the text with this sentence",
            "the value should be exactly this",
            "set the location to the beach",
            "change the time to morning",
            "set the genre to comedy",
            "edit the description to read as follows",
            "put the duration at twenty seconds",
            "her hair colour should be black",
        ],
    ),
    (
        IntentKind::Question,
        &[
            "what is the current status",
            "what remains to be done",
            "how long will this take",
            "what happens next",
            "where are we now in the process",
            "is it finished yet",
            "what does this step do",
            "which stage is running",
            "how many are there",
            "am I able to undo this later",
            "why is it so slow",
            "explain this to me",
            "what am I looking at",
            "how does this work",
            "when will it be done",
        ],
    ),
];

/// How many of a kind's closest prototypes its similarity averages.
const TOP_K: usize = 3;
/// How much the embedder's similarity counts against one keyword cue (weights ~1).
const EMBEDDING_WEIGHT: f32 = 2.0;
/// Softmax temperature turning combined scores into a confidence.
const TEMPERATURE: f32 = 0.5;
/// How much a cue before a "but" counts: what follows the "but" is what the reviewer wants.
const BEFORE_BUT: f32 = 0.4;

/// Keyword cues: a word or phrase, the kind it votes for (`None`: a negator), and its weight.
/// Words of six letters or more also match with one typo. None votes for an edit: the edit
/// shapes are rules, and a message that has none of them is no edit the caller could apply.
const CUES: &[(&str, Option<IntentKind>, f32)] = {
    use IntentKind::{Approve as A, Question as Q, Regenerate as R};
    &[
        // Approve.
        ("approve", Some(A), 2.0),
        ("approved", Some(A), 2.0),
        ("lgtm", Some(A), 2.5),
        ("accept", Some(A), 1.5),
        ("accepted", Some(A), 1.5),
        ("ship it", Some(A), 2.5),
        ("sign off", Some(A), 1.5),
        ("yes", Some(A), 1.2),
        ("yep", Some(A), 1.2),
        ("yeah", Some(A), 1.2),
        ("yup", Some(A), 1.2),
        ("ok", Some(A), 1.0),
        ("okay", Some(A), 1.0),
        ("sure", Some(A), 0.8),
        ("good", Some(A), 1.0),
        ("great", Some(A), 1.0),
        ("perfect", Some(A), 1.5),
        ("fine", Some(A), 1.0),
        ("nice", Some(A), 1.0),
        ("excellent", Some(A), 1.2),
        ("awesome", Some(A), 1.2),
        ("amazing", Some(A), 1.2),
        ("beautiful", Some(A), 1.0),
        ("lovely", Some(A), 1.0),
        ("wonderful", Some(A), 1.0),
        ("brilliant", Some(A), 1.0),
        ("fantastic", Some(A), 1.2),
        ("solid", Some(A), 0.8),
        ("cool", Some(A), 0.7),
        ("happy", Some(A), 1.0),
        ("satisfied", Some(A), 1.2),
        ("pleased", Some(A), 1.0),
        ("exactly", Some(A), 1.2),
        ("right", Some(A), 0.5),
        ("correct", Some(A), 1.0),
        ("proceed", Some(A), 1.5),
        ("continue", Some(A), 1.5),
        ("next", Some(A), 0.8),
        ("go ahead", Some(A), 1.5),
        ("go on", Some(A), 1.0),
        ("move on", Some(A), 1.5),
        ("move forward", Some(A), 1.5),
        ("carry on", Some(A), 1.5),
        ("keep going", Some(A), 1.5),
        ("keep it", Some(A), 1.5),
        ("as is", Some(A), 1.0),
        ("as it is", Some(A), 1.0),
        ("works", Some(A), 0.8),
        ("works for me", Some(A), 1.5),
        ("that works", Some(A), 1.5),
        ("spot on", Some(A), 1.5),
        ("all good", Some(A), 1.5),
        ("well done", Some(A), 1.5),
        ("nailed it", Some(A), 2.0),
        ("no changes", Some(A), 2.0),
        ("no notes", Some(A), 2.0),
        ("no complaints", Some(A), 2.0),
        ("no issues", Some(A), 2.0),
        ("nothing to change", Some(A), 2.0),
        ("what i wanted", Some(A), 1.5),
        ("what i asked for", Some(A), 1.5),
        ("what i had in mind", Some(A), 1.5),
        ("what i needed", Some(A), 1.5),
        ("👍", Some(A), 2.0),
        ("👌", Some(A), 2.0),
        ("✅", Some(A), 2.0),
        // Regenerate.
        ("redo", Some(R), 2.0),
        ("regenerate", Some(R), 2.0),
        ("regen", Some(R), 2.0),
        ("reroll", Some(R), 2.0),
        ("retry", Some(R), 2.0),
        ("rework", Some(R), 2.0),
        ("rewrite", Some(R), 2.0),
        ("redraw", Some(R), 2.0),
        ("rerender", Some(R), 2.0),
        ("remake", Some(R), 2.0),
        ("again", Some(R), 1.5),
        ("start over", Some(R), 2.0),
        ("from scratch", Some(R), 2.0),
        ("try", Some(R), 0.5),
        ("try something", Some(R), 1.5),
        ("another", Some(R), 1.0),
        ("different", Some(R), 1.0),
        ("new version", Some(R), 1.5),
        ("fix", Some(R), 1.5),
        ("tweak", Some(R), 1.5),
        ("improve", Some(R), 1.5),
        ("adjust", Some(R), 1.2),
        ("refine", Some(R), 1.2),
        ("make", Some(R), 1.0),
        ("more", Some(R), 0.8),
        ("less", Some(R), 0.8),
        ("fewer", Some(R), 0.8),
        ("too", Some(R), 1.0),
        ("needs", Some(R), 0.8),
        ("need", Some(R), 0.8),
        ("should", Some(R), 0.8),
        ("instead", Some(R), 1.0),
        ("nope", Some(R), 2.0),
        ("bad", Some(R), 1.0),
        ("wrong", Some(R), 1.5),
        ("ugly", Some(R), 1.5),
        ("boring", Some(R), 1.2),
        ("bland", Some(R), 1.0),
        ("hate", Some(R), 1.5),
        ("dislike", Some(R), 1.5),
        ("weird", Some(R), 1.0),
        ("awful", Some(R), 1.5),
        ("terrible", Some(R), 1.5),
        ("meh", Some(R), 1.5),
        ("off", Some(R), 0.5),
        ("flat", Some(R), 0.5),
        ("could be better", Some(R), 2.0),
        ("not quite", Some(R), 1.5),
        ("nothing like", Some(R), 1.2),
        ("how about", Some(R), 1.5),
        ("what about", Some(R), 1.5),
        // A change asked for without an edit's shape ("change the outline so …") is feedback.
        ("change", Some(R), 1.0),
        ("set", Some(R), 1.0),
        ("update", Some(R), 1.0),
        ("replace", Some(R), 1.0),
        ("rename", Some(R), 1.0),
        ("alter", Some(R), 1.0),
        ("modify", Some(R), 1.0),
        ("id like", Some(R), 1.0),
        ("i would like", Some(R), 1.0),
        ("i want", Some(R), 1.0),
        ("i wish", Some(R), 1.0),
        ("tighten", Some(R), 1.0),
        ("shorten", Some(R), 1.0),
        ("lengthen", Some(R), 1.0),
        ("brighten", Some(R), 1.0),
        ("darken", Some(R), 1.0),
        ("simplify", Some(R), 1.0),
        ("soften", Some(R), 1.0),
        ("sharpen", Some(R), 1.0),
        ("👎", Some(R), 2.0),
        ("❌", Some(R), 1.5),
        // Question.
        ("status", Some(Q), 1.5),
        ("progress", Some(Q), 1.5),
        ("remaining", Some(Q), 1.2),
        ("left", Some(Q), 0.5),
        ("explain", Some(Q), 1.5),
        ("tell me", Some(Q), 1.0),
        ("show me", Some(Q), 1.0),
        ("remind me", Some(Q), 1.5),
        ("eta", Some(Q), 1.5),
        ("help", Some(Q), 0.7),
        ("wondering", Some(Q), 1.0),
        ("curious", Some(Q), 1.0),
        ("any update", Some(Q), 1.5),
        ("what", Some(Q), 0.7),
        ("whats", Some(Q), 0.7),
        ("how", Some(Q), 0.7),
        ("why", Some(Q), 0.7),
        ("when", Some(Q), 0.7),
        ("where", Some(Q), 0.7),
        ("who", Some(Q), 0.7),
        ("which", Some(Q), 0.7),
        // Negators: flip the next approve or regenerate cue.
        ("not", None, 0.0),
        ("no", None, 0.0),
        ("dont", None, 0.0),
        ("do not", None, 0.0),
        ("doesnt", None, 0.0),
        ("does not", None, 0.0),
        ("didnt", None, 0.0),
        ("did not", None, 0.0),
        ("isnt", None, 0.0),
        ("arent", None, 0.0),
        ("wasnt", None, 0.0),
        ("never", None, 0.0),
        ("hardly", None, 0.0),
        ("cant", None, 0.0),
        ("cannot", None, 0.0),
        ("wont", None, 0.0),
        ("no need", None, 0.0),
    ]
};

/// Words after which comes what the reviewer wants: cues before them count less.
const CONTRASTS: [&str; 5] = ["but", "though", "however", "although", "except"];
/// What an unused negator ("this doesn't look right") adds to regenerate.
const LONE_NEGATOR: f32 = 0.5;
/// How many words a negator reaches over to the cue it flips.
const NEGATION_REACH: usize = 3;

/// Words that open a question.
const QUESTION_WORDS: &str = "what whats how hows why whys when whens where wheres who whos whose which";
/// Auxiliaries that open a question when their subject follows ("should I", "is the").
const AUXILIARIES: &str = concat!(
    "is are was were am does did can could should shall will would has have may might must isnt ",
    "arent doesnt didnt",
);
/// Subjects after an auxiliary.
const SUBJECTS: &str = concat!(
    "i we you u it this that these those there the a an my our your he she they anything ",
    "everything something all",
);
/// Words that open a command; a `?` after one does not make a question ("make it darker?").
const COMMANDS: &str = concat!(
    "redo regenerate regen reroll retry rework rewrite redraw rerender remake make set change ",
    "update rename replace try give fix add remove use approve accept start go keep ship move ",
    "continue proceed tighten shorten brighten darken drop swap put edit",
);
/// Verbs that regenerate a node; the node right after one is the target, and they are trimmed
/// from feedback.
const REDO_VERBS: &str = "redo regenerate regen reroll retry rework rewrite redraw rerender remake try";
/// Verbs after which a named node is the target.
const TARGET_VERBS: &str = concat!(
    "redo regenerate regen reroll retry rework rewrite redraw rerender remake try fix approve ",
    "accept ship over with to",
);
/// Verbs that open an edit.
const EDIT_VERBS: &str = "set change update make rename replace switch alter edit modify";
/// Words that are no part of a message's substance when they open it.
const FILLERS: &str = concat!(
    "ok okay so hey hi hello hmm um uh well alright oh also btw and then but now just quick ",
    "question",
);
/// Determiners dropped in front of a field.
const DETERMINERS: &str = "the a an his her their its my our this that";
/// Words that stand for a whole output rather than a field ("change it to something darker").
const PRONOUNS: &str = "it this that them these those everything all";
/// First words of a value that describe a direction rather than a value ("to be more hopeful",
/// "should be more painterly"): a regenerate, not an edit.
const VAGUE_VALUES: &str = concat!(
    "be have look looks feel sound make match show use include something anything fit seem get ",
    "more less slightly much even somewhat kinda way",
);
/// Fields of the stage data model (and their everyday names) an edit can set.
const FIELDS: &str = concat!(
    "name title logline synopsis summary premise style genre tone setting clothing clothes ",
    "outfit costume props prop face body hair hair_color hair_colour eye_color eyes age role ",
    "personality voice location time_of_day slugline description dialogue line aspect_ratio fps ",
    "frame_rate width height resolution duration target_duration length seed shot_type angle ",
    "camera_angle movement camera_movement beat opening_beat occupation job backstory ",
    "motivation species",
);
/// Whole-episode words: renaming one of them sets the title.
const EPISODE_WORDS: &str = "episode film movie video show story project";

/// One word (or symbol) of a message, with where it sits in the original text.
#[derive(Debug)]
struct Token {
    /// Lowercase, with typographic apostrophes made plain.
    lower: String,
    /// `lower` without apostrophes and hyphens: what cues match.
    bare: String,
    /// Byte range in the original text.
    start: usize,
    end: usize,
    /// Which clause (split at `, ; . ! ? :` and dashes) it is in.
    clause: usize,
}

/// A message cut into tokens.
#[derive(Debug)]
struct Message<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    /// The last visible character is a `?`.
    question_mark: bool,
}

/// Characters that carry nothing: emoji modifiers and joiners.
fn ignorable(c: char) -> bool {
    matches!(c, '\u{fe0f}' | '\u{200d}' | '\u{1f3fb}'..='\u{1f3ff}')
}

impl<'a> Message<'a> {
    fn parse(text: &'a str) -> Self {
        let mut message = Message {
            text,
            tokens: Vec::new(),
            question_mark: text.trim_end().trim_end_matches('!').ends_with('?'),
        };
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let mut clause = 0;
        let mut word_start = None;
        for (n, &(i, c)) in chars.iter().enumerate() {
            if c.is_alphanumeric() || matches!(c, '\'' | '’' | '-') {
                word_start.get_or_insert(i);
                continue;
            }
            if let Some(start) = word_start.take() {
                message.push_word(start, i, &mut clause);
            }
            let digit_at = |k: Option<usize>| k.and_then(|k| chars.get(k)).is_some_and(|(_, c)| c.is_ascii_digit());
            match c {
                '.' | ':' if digit_at(n.checked_sub(1)) && digit_at(Some(n + 1)) => {}
                ',' | ';' | '.' | '!' | '?' | ':' | '…' | '—' | '–' | '(' | ')' | '\n' => clause += 1,
                '=' => message.push(i, i + 1, clause),
                c if !c.is_ascii() && !c.is_whitespace() && !ignorable(c) && !matches!(c, '“' | '”' | '‘') => {
                    message.push(i, i + c.len_utf8(), clause)
                }
                _ => {}
            }
        }
        if let Some(start) = word_start {
            message.push_word(start, text.len(), &mut clause);
        }
        message
    }

    /// Adds the word at `start..end`, trimmed of quotes and dashes around it (a trailing
    /// apostrophe after an `s` is a possessive and stays). A lone dash splits clauses.
    fn push_word(&mut self, mut start: usize, mut end: usize, clause: &mut usize) {
        let text = self.text;
        while let Some(c) = text[start..end]
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '’' | '-'))
        {
            start += c.len_utf8();
        }
        while let Some(c) = text[start..end].chars().next_back() {
            let possessive = matches!(c, '\'' | '’') && text[start..end - c.len_utf8()].ends_with(['s', 'S']);
            if !matches!(c, '\'' | '’' | '-') || possessive {
                break;
            }
            end -= c.len_utf8();
        }
        if start >= end {
            *clause += 1;
            return;
        }
        self.push(start, end, *clause);
    }

    fn push(&mut self, start: usize, end: usize, clause: usize) {
        let lower = self.text[start..end].to_lowercase().replace('’', "'");
        let bare = lower.replace(['\'', '-'], "");
        self.tokens.push(Token {
            lower,
            bare,
            start,
            end,
            clause,
        });
    }

    fn bare(&self, i: usize) -> &str {
        self.tokens.get(i).map_or("", |t| t.bare.as_str())
    }

    /// The token ranges of the clauses, in order, empty ones left out.
    fn clauses(&self) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (i, token) in self.tokens.iter().enumerate() {
            match ranges.last_mut() {
                Some(last) if self.tokens[last.0].clause == token.clause => last.1 = i + 1,
                _ => ranges.push((i, i + 1)),
            }
        }
        ranges
    }

    /// Where the substance of the clause `from..to` starts: after fillers and polite request
    /// wrappers. The flag says whether there was a request wrapper ("can you", "please").
    fn lead(&self, from: usize, to: usize) -> (usize, bool) {
        let mut i = from;
        let mut request = false;
        while i < to {
            let (w0, w1, w2) = (self.bare(i), self.bare(i + 1), self.bare(i + 2));
            let skip = match (w0, w1, w2) {
                ("can" | "could" | "would" | "will", "you" | "u", _) => 2,
                ("let", "us", _) => 2,
                ("id" | "i" | "wed" | "we", "like" | "want" | "need", "you") if self.bare(i + 3) == "to" => 4,
                ("id" | "wed", "like", "to") | ("i" | "we", "want" | "need", "to") => 3,
                ("please" | "pls" | "plz" | "kindly" | "lets", _, _) => 1,
                _ if listed(FILLERS, w0) && i + 1 < to => {
                    i += 1;
                    continue;
                }
                _ => 0,
            };
            if skip == 0 {
                break;
            }
            request = true;
            i += skip;
        }
        (i.min(to), request)
    }

    /// The message opens as a question, or is a single question-marked clause that is not a
    /// command. A request wrapper ("can you …?") makes it a command.
    fn is_question(&self) -> bool {
        let clauses = self.clauses();
        let substantive = clauses
            .iter()
            .find(|&&(from, to)| (from..to).any(|i| !listed(FILLERS, self.bare(i))));
        let Some(&(from, to)) = substantive else {
            return false;
        };
        let (i, request) = self.lead(from, to);
        if request || i >= to {
            return false;
        }
        let (w0, w1) = (self.bare(i), if i + 1 < to { self.bare(i + 1) } else { "" });
        if listed(QUESTION_WORDS, w0) {
            return !matches!((w0, w1), ("how" | "what", "about") | ("why", "not"));
        }
        if w0 == "do" {
            return matches!(w1, "i" | "we" | "you" | "they");
        }
        if listed(AUXILIARIES, w0) && listed(SUBJECTS, w1) {
            return true;
        }
        let last_clause = clauses.last().map_or(from, |&(f, _)| f);
        self.question_mark && last_clause == from && !listed(COMMANDS, w0)
    }
}

/// Optimal string alignment distance, capped: is `a` within one edit of `b`?
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()] <= 1
}

/// A message word matches a vocabulary word: exactly, or with one typo when the vocabulary word
/// is long enough for a typo to be unambiguous (six letters, same first letter).
fn word_matches(word: &str, vocabulary: &str, fuzzy: bool) -> bool {
    word == vocabulary
        || (fuzzy
            && vocabulary.chars().count() >= 6
            && word.chars().next() == vocabulary.chars().next()
            && within_one_edit(word, vocabulary))
}

/// Whether `word` is one of the words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// The word of `list` that `word` is, allowing one typo (see [`word_matches`]).
fn listed_fuzzy(list: &'static str, word: &str) -> Option<&'static str> {
    list.split_whitespace().find(|w| word_matches(word, w, true))
}

/// The words of a phrase as the tokenizer cuts them.
fn words_of(phrase: &str) -> Vec<String> {
    Message::parse(phrase).tokens.into_iter().map(|t| t.bare).collect()
}

/// A keyword cue found in a message.
#[derive(Debug)]
struct Hit {
    start: usize,
    len: usize,
    clause: usize,
    kind: Option<IntentKind>,
    weight: f32,
}

/// A node key and one way of naming it.
#[derive(Debug)]
struct NodeName {
    key: String,
    words: Vec<String>,
}

/// A node named in a message: token range and key.
#[derive(Debug)]
struct Mention {
    start: usize,
    len: usize,
    key: String,
}

/// Classifies chat messages into [`Intent`]s, through an [`Embedder`] plus pattern rules; see the
/// [module docs](self).
pub struct IntentClassifier {
    embedder: Arc<dyn Embedder>,
    /// Prototype vectors per kind, indexed by [`IntentKind::index`].
    prototypes: [Vec<Vec<f32>>; 4],
    /// Node names, longest first.
    nodes: Vec<NodeName>,
    /// Cue words, longest phrase first.
    cues: Vec<(Vec<String>, Option<IntentKind>, f32)>,
}

impl fmt::Debug for IntentClassifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<&str> = self.nodes.iter().map(|n| n.key.as_str()).collect();
        keys.dedup();
        f.debug_struct("IntentClassifier")
            .field("embedder", &self.embedder.generator().model)
            .field("nodes", &keys)
            .finish_non_exhaustive()
    }
}

impl IntentClassifier {
    /// A classifier over `embedder` for a workflow with `nodes`: each node key with the words
    /// people use for it (the key itself, with `_` read as a space, always counts). Embeds the
    /// prototype sentences once, here.
    ///
    /// Fails with [`BackendError::Invalid`] on an empty key or synonym, and with the embedder's
    /// error, or [`BackendError::Failed`] when it returns the wrong number of vectors or vectors
    /// of different sizes.
    pub fn new(embedder: Arc<dyn Embedder>, nodes: &[(&str, &[&str])]) -> BackendResult<Self> {
        let mut names = Vec::new();
        for (key, synonyms) in nodes {
            if key.trim().is_empty() {
                return Err(BackendError::Invalid("a node key is empty".into()));
            }
            let spaced = key.replace('_', " ");
            for phrase in std::iter::once(spaced.as_str()).chain(synonyms.iter().copied()) {
                let words = words_of(phrase);
                if words.is_empty() {
                    return Err(BackendError::Invalid(format!("node {key}: a synonym has no words")));
                }
                names.push(NodeName {
                    key: key.to_string(),
                    words,
                });
            }
        }
        names.sort_by_key(|n| std::cmp::Reverse(n.words.len()));

        let mut cues: Vec<_> = CUES
            .iter()
            .map(|&(phrase, kind, weight)| (words_of(phrase), kind, weight))
            .collect();
        cues.sort_by_key(|c| std::cmp::Reverse(c.0.len()));

        let texts: Vec<&str> = PROTOTYPES
            .iter()
            .flat_map(|(_, sentences)| sentences.iter().copied())
            .collect();
        let vectors = embedder.embed(&texts)?;
        if vectors.len() != texts.len() {
            return Err(BackendError::Failed(format!(
                "the embedder returned {} vectors for {} prototypes",
                vectors.len(),
                texts.len()
            )));
        }
        let dimensions = vectors.first().map_or(0, Vec::len);
        if dimensions == 0 || vectors.iter().any(|v| v.len() != dimensions) {
            return Err(BackendError::Failed(
                "the embedder returned empty or uneven vectors".into(),
            ));
        }
        let mut prototypes: [Vec<Vec<f32>>; 4] = Default::default();
        let mut vectors = vectors.into_iter();
        for (kind, sentences) in PROTOTYPES {
            prototypes[kind.index()].extend(vectors.by_ref().take(sentences.len()));
        }
        Ok(Self {
            embedder,
            prototypes,
            nodes: names,
            cues,
        })
    }

    /// Classifies one chat message.
    ///
    /// A message without words (empty, whitespace, punctuation only) is refused with
    /// [`BackendError::Invalid`] rather than guessed at: the UI should not send one, and a
    /// guess would be acted on. Fails too when the embedder does.
    pub fn classify(&self, text: &str) -> BackendResult<Intent> {
        let message = Message::parse(text);
        if message.tokens.is_empty() {
            return Err(BackendError::Invalid("the message has no words".into()));
        }
        let similarity = self.similarity(text)?;
        let leaning = argmax(&similarity);
        let decided = |kind: IntentKind| if leaning == kind { 0.9 } else { 0.8 };

        if message.is_question() {
            return Ok(Intent {
                kind: IntentKind::Question,
                confidence: decided(IntentKind::Question),
                target: self.target(&message, message.tokens.len(), IntentKind::Question),
                feedback: None,
                edit: None,
            });
        }
        if let Some((edit, separator)) = self.parse_edit(&message) {
            return Ok(Intent {
                kind: IntentKind::Edit,
                confidence: decided(IntentKind::Edit),
                target: self.target(&message, separator, IntentKind::Edit),
                feedback: None,
                edit: Some(edit),
            });
        }

        let cues = self.cue_scores(&message);
        let mut scores = [0.0f32; 4];
        for (i, score) in scores.iter_mut().enumerate() {
            *score = cues[i] + EMBEDDING_WEIGHT * similarity[i];
        }
        // No edit shape matched, so an edit cannot be applied: the best other kind answers, and
        // the edit's share of the softmax (an edit-like message) lowers its confidence.
        let mut kind = argmax(&scores);
        if kind == IntentKind::Edit {
            let mut others = scores;
            others[IntentKind::Edit.index()] = f32::NEG_INFINITY;
            kind = argmax(&others);
        }
        let best = scores[kind.index()];
        let total: f32 = scores.iter().map(|s| ((s - best) / TEMPERATURE).exp()).sum();
        Ok(Intent {
            kind,
            confidence: 1.0 / total,
            target: self.target(&message, message.tokens.len(), kind),
            feedback: (kind == IntentKind::Regenerate)
                .then(|| self.feedback(&message))
                .flatten(),
            edit: None,
        })
    }

    /// Per kind, the mean cosine of the message to its `TOP_K` closest prototypes.
    fn similarity(&self, text: &str) -> BackendResult<[f32; 4]> {
        let vector = self
            .embedder
            .embed(&[text])?
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::Failed("the embedder returned no vector".into()))?;
        let dimensions = self.prototypes[0].first().map_or(0, Vec::len);
        if vector.len() != dimensions {
            return Err(BackendError::Failed(format!(
                "the embedder returned {} dimensions, its prototypes have {dimensions}",
                vector.len()
            )));
        }
        let mut similarity = [0.0f32; 4];
        for (kind, prototypes) in self.prototypes.iter().enumerate() {
            let mut cosines: Vec<f32> = prototypes.iter().map(|p| cosine(&vector, p)).collect();
            cosines.sort_by(|a, b| b.total_cmp(a));
            let top = &cosines[..TOP_K.min(cosines.len())];
            similarity[kind] = top.iter().sum::<f32>() / top.len().max(1) as f32;
        }
        Ok(similarity)
    }

    /// Keyword votes per kind; see [`CUES`].
    fn cue_scores(&self, message: &Message<'_>) -> [f32; 4] {
        let tokens = &message.tokens;
        let mut hits = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            match self.cue_at(message, i) {
                Some(hit) => {
                    i += hit.len;
                    hits.push(hit);
                }
                None => i += 1,
            }
        }

        // Negation: a negator flips the approve or regenerate cue it reaches in its clause.
        let mut used = vec![false; hits.len()];
        for h in 0..hits.len() {
            let Some(kind @ (IntentKind::Approve | IntentKind::Regenerate)) = hits[h].kind else {
                continue;
            };
            let negator = (0..h).rev().find(|&n| {
                hits[n].kind.is_none()
                    && !used[n]
                    && hits[n].clause == hits[h].clause
                    && hits[h].start - (hits[n].start + hits[n].len) <= NEGATION_REACH
            });
            if let Some(n) = negator {
                used[n] = true;
                hits[h].kind = Some(match kind {
                    IntentKind::Approve => IntentKind::Regenerate,
                    _ => IntentKind::Approve,
                });
            }
        }

        let contrast = tokens.iter().rposition(|t| CONTRASTS.contains(&t.bare.as_str()));
        let mut scores = [0.0f32; 4];
        for (h, hit) in hits.iter().enumerate() {
            let damp = if contrast.is_some_and(|c| hit.start < c) {
                BEFORE_BUT
            } else {
                1.0
            };
            match hit.kind {
                Some(kind) => scores[kind.index()] += hit.weight * damp,
                None if !used[h] => scores[IntentKind::Regenerate.index()] += LONE_NEGATOR * damp,
                None => {}
            }
        }
        if message.question_mark {
            scores[IntentKind::Question.index()] += 1.0;
        }
        scores
    }

    /// The longest cue at token `i`, exact matches before one-typo ones.
    fn cue_at(&self, message: &Message<'_>, i: usize) -> Option<Hit> {
        let tokens = &message.tokens;
        let clause = tokens[i].clause;
        let word = tokens[i].bare.as_str();

        // "like"/"love" approve only as the speaker's verb ("I like it", "love it"), not as a
        // comparison ("make it look like a noir film") or a wish ("I'd like you to").
        if matches!(word, "like" | "likes" | "liked" | "love" | "loves" | "loved") {
            let before = if i > 0 && tokens[i - 1].clause == clause {
                message.bare(i - 1)
            } else {
                ""
            };
            let after = if tokens.get(i + 1).is_some_and(|t| t.clause == clause) {
                message.bare(i + 1)
            } else {
                ""
            };
            let speaker = matches!(
                before,
                "" | "i"
                    | "we"
                    | "really"
                    | "dont"
                    | "do"
                    | "didnt"
                    | "totally"
                    | "definitely"
                    | "absolutely"
                    | "actually"
                    | "still"
                    | "just"
            );
            let vote = speaker && !matches!(after, "to" | "you" | "if" | "when");
            return vote.then_some(Hit {
                start: i,
                len: 1,
                clause,
                kind: Some(IntentKind::Approve),
                weight: 1.0,
            });
        }
        // A "no" on its own is a refusal; elsewhere it is a negator.
        if word == "no" && tokens.get(i + 1).is_none_or(|t| t.clause != clause) {
            return Some(Hit {
                start: i,
                len: 1,
                clause,
                kind: Some(IntentKind::Regenerate),
                weight: 1.5,
            });
        }

        for fuzzy in [false, true] {
            for (words, kind, weight) in &self.cues {
                let fits = words.iter().enumerate().all(|(k, w)| {
                    tokens
                        .get(i + k)
                        .is_some_and(|t| t.clause == clause && word_matches(&t.bare, w, fuzzy))
                });
                if fits {
                    return Some(Hit {
                        start: i,
                        len: words.len(),
                        clause,
                        kind: *kind,
                        weight: *weight,
                    });
                }
            }
        }
        None
    }

    /// The nodes named in tokens `..end`, longest names first, without overlaps. A one-word
    /// name right before another name is an adjective ("the final scene"), not a mention.
    fn mentions(&self, message: &Message<'_>, end: usize) -> Vec<Mention> {
        let tokens = &message.tokens[..end.min(message.tokens.len())];
        let mut found: Vec<Mention> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            let name = self.nodes.iter().find(|n| {
                n.words
                    .iter()
                    .enumerate()
                    .all(|(k, w)| tokens.get(i + k).is_some_and(|t| &t.bare == w))
            });
            match name {
                Some(name) => {
                    found.push(Mention {
                        start: i,
                        len: name.words.len(),
                        key: name.key.clone(),
                    });
                    i += name.words.len();
                }
                None => i += 1,
            }
        }
        let adjectives: Vec<usize> = found
            .windows(2)
            .enumerate()
            .filter(|(_, pair)| pair[0].len == 1 && pair[0].start + 1 == pair[1].start)
            .map(|(k, _)| k)
            .collect();
        for k in adjectives.into_iter().rev() {
            found.remove(k);
        }
        found
    }

    /// The node the message names in tokens `..end`: for a regenerate the one right after a
    /// redo verb ("make the detective older and redo the storyboard"), else the one right after
    /// any command verb ("approve the outline"), else the first.
    fn target(&self, message: &Message<'_>, end: usize, kind: IntentKind) -> Option<String> {
        let mentions = self.mentions(message, end);
        let after = |verbs: &'static str| {
            mentions.iter().find(|m| {
                (m.start.saturating_sub(NEGATION_REACH)..m.start).any(|k| {
                    let between_ok =
                        (k + 1..m.start).all(|j| listed(DETERMINERS, message.bare(j)) || message.bare(j) == "on");
                    message.tokens[k].clause == message.tokens[m.start].clause
                        && listed_fuzzy(verbs, message.bare(k)).is_some()
                        && between_ok
                })
            })
        };
        let redone = if kind == IntentKind::Regenerate {
            after(REDO_VERBS)
        } else {
            None
        };
        redone
            .or_else(|| after(TARGET_VERBS))
            .or(mentions.first())
            .map(|m| m.key.clone())
    }

    /// The edit the message asks for, with the index of the token that ends its field part.
    fn parse_edit(&self, message: &Message<'_>) -> Option<(EditRequest, usize)> {
        let tokens = &message.tokens;
        for (from, to) in message.clauses() {
            let (lead, _) = message.lead(from, to);
            // An edit verb opening the clause, or after "and"/"then" inside it.
            let starts = (lead..to)
                .filter(|&i| i == lead || (i > lead && matches!(message.bare(i - 1), "and" | "then" | "also")));
            for i in starts {
                if let Some(verb) = listed_fuzzy(EDIT_VERBS, message.bare(i))
                    && let Some(found) = self.edit_command(message, i, verb)
                {
                    return Some(found);
                }
            }
            // "<subject's>? <field> should be <value>" for a known field.
            for k in lead + 1..to {
                let copula = matches!(
                    (message.bare(k), message.bare(k + 1)),
                    ("should" | "must", "be") | ("is", "now")
                );
                let width = if copula {
                    2
                } else if message.bare(k) == "=" {
                    1
                } else {
                    continue;
                };
                let lhs = &tokens[lead..k];
                if lhs.len() > 6 {
                    continue;
                }
                let Some((subject, field)) = split_field(lhs) else {
                    continue;
                };
                if !is_field(&field) {
                    continue;
                }
                let Some(value) = value_after(message, k + width - 1) else {
                    continue;
                };
                if !concrete(&value) {
                    continue;
                }
                return Some((EditRequest { subject, field, value }, k));
            }
        }
        None
    }

    /// "verb <lhs> to|=|into|with <value>" with the verb at token `i`.
    fn edit_command(&self, message: &Message<'_>, i: usize, verb: &str) -> Option<(EditRequest, usize)> {
        let tokens = &message.tokens;
        let clause = tokens[i].clause;
        let separator = (i + 1..tokens.len().min(i + 8))
            .take_while(|&j| tokens[j].clause == clause)
            .find(|&j| {
                matches!(message.bare(j), "to" | "=" | "into") || (verb == "replace" && message.bare(j) == "with")
            })?;
        let lhs = &tokens[i + 1..separator];
        let core: Vec<&str> = lhs
            .iter()
            .map(|t| t.bare.as_str())
            .skip_while(|w| listed(DETERMINERS, w))
            .collect();
        if core.is_empty() || (core.len() == 1 && listed(PRONOUNS, core[0])) {
            return None;
        }
        let names_a_node = self
            .nodes
            .iter()
            .any(|n| n.words.iter().map(String::as_str).eq(core.iter().copied()));
        if names_a_node && !is_field(&core.join("_")) {
            return None;
        }
        let value = value_after(message, separator)?;
        if !concrete(&value) {
            return None;
        }
        let (subject, field) = if verb == "rename" {
            let field = core.join("_");
            if is_field(&field) {
                (None, field)
            } else if core.len() == 1 && listed(EPISODE_WORDS, core[0]) {
                (None, "title".to_string())
            } else {
                (Some(subject_of(lhs)), "name".to_string())
            }
        } else {
            split_field(lhs)?
        };
        if verb == "make" && !is_field(&field) {
            return None;
        }
        Some((EditRequest { subject, field, value }, separator))
    }

    /// The message without its command words, for a regenerate: clauses that only say "redo
    /// the storyboard" go, and "redo the X with" goes from the front of the others.
    fn feedback(&self, message: &Message<'_>) -> Option<String> {
        let tokens = &message.tokens;
        // Segments: clauses, also cut before "and|then <redo verb>".
        let mut segments = Vec::new();
        for (from, to) in message.clauses() {
            let mut start = from;
            for k in from + 1..to {
                let joins = matches!(message.bare(k), "and" | "then");
                if joins && k + 1 < to && is_redo(message, k + 1) {
                    segments.push((start, k));
                    start = k;
                }
            }
            segments.push((start, to));
        }

        let mut kept = Vec::new();
        for (from, to) in segments {
            let (lead, _) = message.lead(from, to);
            // A bare refusal ("no,") says nothing the kind does not.
            if to - from == 1 && matches!(message.bare(from), "no" | "nope" | "nah" | "meh") {
                continue;
            }
            // Later segments keep their "and"; the first loses its fillers and "can you", and
            // what comes before a "but" ("not bad but …").
            let mut i = if kept.is_empty() { lead } else { from };
            if kept.is_empty()
                && let Some(c) = (i..to).rev().find(|&k| CONTRASTS.contains(&message.bare(k)))
            {
                i = c + 1;
            }
            if lead < to && is_redo(message, lead) {
                i = lead;
                i += if message.bare(i) == "do" { 3 } else { 1 };
                while i < to && (listed(DETERMINERS, message.bare(i)) || listed(PRONOUNS, message.bare(i))) {
                    i += 1;
                }
                if let Some(m) = self.mentions(message, to).into_iter().find(|m| m.start == i) {
                    i += m.len;
                }
                while i < to
                    && matches!(
                        message.bare(i),
                        "again"
                            | "please"
                            | "now"
                            | "over"
                            | "with"
                            | "and"
                            | "but"
                            | "so"
                            | "using"
                            | "from"
                            | "scratch"
                    )
                {
                    i += 1;
                }
            }
            let mut end = to;
            while end > i && matches!(message.bare(end - 1), "please" | "again" | "thanks" | "pls") {
                end -= 1;
            }
            if i < end {
                kept.push(message.text[tokens[i].start..tokens[end - 1].end].trim().to_string());
            }
        }
        let feedback = kept.join(", ");
        (!feedback.is_empty()).then_some(feedback)
    }
}

/// A regenerate command starts at token `i`: a redo verb, or "do it again|over".
fn is_redo(message: &Message<'_>, i: usize) -> bool {
    let word = message.bare(i);
    listed_fuzzy(REDO_VERBS, word).is_some()
        || (word == "do" && matches!(message.bare(i + 2), "again" | "over"))
        || (word == "start" && message.bare(i + 1) == "over")
}

fn argmax(scores: &[f32; 4]) -> IntentKind {
    let mut best = IntentKind::Approve;
    for kind in IntentKind::ALL {
        if scores[kind.index()] > scores[best.index()] {
            best = kind;
        }
    }
    best
}

/// A value names a value rather than a direction; see [`VAGUE_VALUES`].
fn concrete(value: &str) -> bool {
    words_of(value).first().is_none_or(|w| !listed(VAGUE_VALUES, w))
}

/// Whether a snake_case field is one of [`FIELDS`].
fn is_field(field: &str) -> bool {
    listed(FIELDS, field)
}

fn is_possessive(token: &Token) -> bool {
    token.lower.ends_with("'s") || token.lower.ends_with("s'")
}

/// A subject as written, lowercased, its possessive dropped: "the detective's" → "the detective".
fn subject_of(tokens: &[Token]) -> String {
    let words: Vec<&str> = tokens
        .iter()
        .map(|t| {
            t.lower
                .strip_suffix("'s")
                .or_else(|| t.lower.strip_suffix('\''))
                .unwrap_or(&t.lower)
        })
        .collect();
    words.join(" ")
}

/// Splits the words between an edit verb and its value into subject and snake_case field:
/// "Mara's clothing", "the voice of Mara", "the time of day", "Ava props", "the logline".
fn split_field(lhs: &[Token]) -> Option<(Option<String>, String)> {
    let snake = |tokens: &[Token]| -> String {
        tokens
            .iter()
            .map(|t| t.bare.as_str())
            .skip_while(|w| listed(DETERMINERS, w))
            .collect::<Vec<_>>()
            .join("_")
    };
    if let Some(p) = lhs.iter().position(is_possessive) {
        let field = snake(&lhs[p + 1..]);
        return (!field.is_empty()).then(|| (Some(subject_of(&lhs[..=p])), field));
    }
    let skip = lhs.iter().take_while(|t| listed(DETERMINERS, &t.bare)).count();
    let core = &lhs[skip..];
    if core.is_empty() {
        return None;
    }
    let whole = snake(core);
    if is_field(&whole) {
        return Some((None, whole));
    }
    let of = (1..core.len().saturating_sub(1)).filter(|&k| core[k].bare == "of");
    for k in of {
        if is_field(&snake(&core[..k])) || k <= 2 {
            return Some((Some(subject_of(&core[k + 1..])), snake(&core[..k])));
        }
    }
    for s in 1..core.len() {
        if is_field(&snake(&core[s..])) {
            return Some((Some(subject_of(&lhs[..skip + s])), snake(&core[s..])));
        }
    }
    Some((None, whole))
}

/// The value after token `separator`: as written, up to the end of its sentence or a following
/// command ("…, then redo the outline"), without quotes or closing punctuation.
fn value_after(message: &Message<'_>, separator: usize) -> Option<String> {
    let tokens = &message.tokens;
    let start = tokens[separator].end;
    let mut end = message.text.len();
    let rest = &message.text[start..];
    let chars: Vec<(usize, char)> = rest.char_indices().collect();
    for (n, &(k, c)) in chars.iter().enumerate() {
        let closes =
            matches!(c, '.' | '!' | '?' | ';') && chars.get(n + 1).is_none_or(|(_, next)| next.is_whitespace());
        if c == '\n' || (closes && k > 0) {
            end = start + k;
            break;
        }
    }
    for j in separator + 2..tokens.len() {
        if tokens[j].start >= end {
            break;
        }
        let command = listed(COMMANDS, message.bare(j)) || is_redo(message, j);
        if command && matches!(message.bare(j - 1), "and" | "then") {
            end = tokens[j - 1].start;
            break;
        }
        if command && tokens[j].clause != tokens[j - 1].clause {
            end = tokens[j - 1].end;
            break;
        }
    }
    let quotes: &[char] = &['"', '\'', '“', '”', '‘', '’', '`'];
    let value = message.text[start..end]
        .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '-'))
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ':' | '.' | '!' | '?' | ';'))
        .trim_matches(quotes)
        .trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use showrunner_nodes::procedural::embed::HashedEmbedder;

    fn classifier() -> IntentClassifier {
        IntentClassifier::new(Arc::new(HashedEmbedder), STOCK_NODES).expect("classifier")
    }

    #[test]
    fn tokens_keep_possessives_numbers_and_emoji() {
        let message = Message::parse("set Jones' age = 9:16, 'Night' 👍🏽");
        let words: Vec<&str> = message.tokens.iter().map(|t| t.lower.as_str()).collect();
        assert_eq!(words, ["set", "jones'", "age", "=", "9", "16", "night", "👍"]);
        assert_eq!(message.tokens[4].clause, message.tokens[5].clause);
        assert_ne!(message.tokens[5].clause, message.tokens[6].clause);
    }

    #[test]
    fn one_typo_matches_only_long_words() {
        assert!(word_matches("regenrate", "regenerate", true));
        assert!(word_matches("chnage", "change", true));
        assert!(!word_matches("redu", "redo", true));
        assert!(!word_matches("except", "accept", true));
    }

    #[test]
    fn fields_split_from_their_subjects() {
        let split = |text: &str| split_field(&Message::parse(text).tokens);
        assert_eq!(split("the time of day"), Some((None, "time_of_day".into())));
        assert_eq!(split("the voice of Mara"), Some((Some("mara".into()), "voice".into())));
        assert_eq!(
            split("scene 3's location"),
            Some((Some("scene 3".into()), "location".into()))
        );
        assert_eq!(split("Ava props"), Some((Some("ava".into()), "props".into())));
    }

    #[test]
    fn a_wordless_message_is_refused() {
        let classifier = classifier();
        for text in ["", "   ", "?!", "…"] {
            assert!(
                matches!(classifier.classify(text), Err(BackendError::Invalid(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn an_embedder_returning_nothing_fails_the_build() {
        struct Mute;
        impl Embedder for Mute {
            fn generator(&self) -> showrunner_nodes::model::Generator {
                HashedEmbedder.generator()
            }
            fn embed(&self, _: &[&str]) -> BackendResult<Vec<Vec<f32>>> {
                Ok(Vec::new())
            }
        }
        assert!(matches!(
            IntentClassifier::new(Arc::new(Mute), STOCK_NODES),
            Err(BackendError::Failed(_))
        ));
        assert!(matches!(
            IntentClassifier::new(Arc::new(HashedEmbedder), &[("", &[])]),
            Err(BackendError::Invalid(_))
        ));
    }
}
