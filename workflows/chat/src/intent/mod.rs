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
//! behind the same [`Embedder`](showrunner_backend::Embedder) trait; its wider similarity gaps
//! count for more at the same weight. The weight and [`MIN_CONFIDENCE`] were set on the hashed embedder: re-run the
//! labelled set (`workflows/chat/tests/intent.rs`) when swapping it. Prototypes and cues are generic
//! phrasings on purpose; the labelled set in `workflows/chat/tests/fixtures` is not copied into them.
//!
//! The parts: `lexicon` (prototype sentences, cues, word lists), `message` (the message cut into
//! tokens), `classifier` (the vote) and `edits` (the edit and redo shapes it reads).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

mod classifier;
mod edits;
mod lexicon;
mod message;
#[cfg(test)]
mod tests;

pub use classifier::IntentClassifier;

/// What a chat message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Stop the episode for good: said in so many words ("cancel", "stop"), never guessed by
    /// the classifier (it is not in [`IntentKind::ALL`]), and always confirmed first.
    Cancel,
}

impl IntentKind {
    /// Every kind the classifier chooses between, in declaration order.
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
            IntentKind::Cancel => "cancel",
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

/// The confidence below which a caller should ask the reviewer to rephrase rather than act.
/// Rule-decided messages score 0.8 or more; a message that no cue covers and that the embedder
/// places nowhere in particular ("hmm") scores well below. Calibrated on the hashed embedder's
/// labelled set, where every message scores at least 0.59: revisit it with a real embedder.
pub const MIN_CONFIDENCE: f32 = 0.5;
