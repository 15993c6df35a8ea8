//! Confirmations. A regenerate throws work away, so one the classifier is not sure of (below
//! [`CONFIRM_BELOW`]) is proposed rather than done; cancelling the episode ("cancel", "stop")
//! cannot be taken back, so it is always proposed first. The reply asks "yes or no" and carries
//! the [`Proposal`], which is stored with it in the episode's log. The next message answers it: a
//! yes carries it out, a no drops it, anything else is a new message (and the proposal lapses).
//! Because the proposal lives in the log, it survives a restart and any process can answer it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use showrunner_engine::{Engine, EngineError, EpisodeId, EpisodeSnapshot, EpisodeStatus, EventKind, Speaker};

use crate::conversation::{ConversationError, Reply, status};
use crate::intent::IntentKind;

/// Below this confidence a regenerate is proposed, not done.
pub const CONFIRM_BELOW: f32 = 0.8;

/// How far back in the log the last reply is looked for.
const LOOK_BACK: u64 = 64;

/// What a proposal does on a yes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChatProposed))]
#[serde(rename_all = "snake_case")]
pub enum Proposed {
    /// Regenerates the node with the note.
    #[default]
    Regenerate,
    /// Cancels the episode: nothing more runs, approved work is kept.
    Cancel,
}

/// An action waiting for the person's yes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChatProposal))]
pub struct Proposal {
    /// What a yes does.
    #[serde(default)]
    pub action: Proposed,
    /// The node to regenerate; none for a cancel.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub node: Option<String>,
    /// The note to regenerate it with.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub feedback: Option<String>,
    /// The versions of the node's instances when it was proposed: a yes after any of them moved
    /// on is refused.
    #[serde(default)]
    pub versions: Vec<Option<u32>>,
}

/// How a message answers a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Do it.
    Yes,
    /// Don't.
    No,
    /// Not an answer: a new message.
    Other,
}

/// `text` lower-case, single-spaced, without a closing `.` or `!`.
fn plain(text: &str) -> String {
    text.trim()
        .trim_end_matches(['.', '!'])
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How `text` answers a yes-or-no question.
pub fn answer(text: &str) -> Answer {
    match plain(text).as_str() {
        "yes" | "y" | "yeah" | "yep" | "yes please" | "sure" | "ok" | "okay" | "do it" | "go ahead" | "confirm"
        | "please do" => Answer::Yes,
        "no" | "n" | "nope" | "no thanks" | "cancel" | "don't" | "dont" | "never mind" | "nevermind" | "stop"
        | "leave it" => Answer::No,
        _ => Answer::Other,
    }
}

/// True when `text` asks to undo the last action ("undo", "undo that", "take that back").
pub fn is_undo(text: &str) -> bool {
    matches!(
        plain(text).as_str(),
        "undo"
            | "undo that"
            | "undo it"
            | "undo the last change"
            | "undo the last action"
            | "undo last"
            | "revert that"
            | "take that back"
            | "undo the edit"
            | "undo the regenerate"
    )
}

/// True when `text` asks to cancel the episode ("cancel", "stop everything", "abort").
pub fn is_cancel(text: &str) -> bool {
    matches!(
        plain(text).as_str(),
        "cancel"
            | "cancel it"
            | "cancel this"
            | "cancel the episode"
            | "cancel this episode"
            | "cancel everything"
            | "cancel the whole episode"
            | "stop"
            | "stop it"
            | "stop everything"
            | "stop the episode"
            | "stop generating"
            | "abort"
            | "abort it"
            | "abort the episode"
    )
}

/// The actions of the conversation's last reply that did something, with the reply's data.
pub fn last_actions(engine: &Engine, episode: EpisodeId, next_seq: u64) -> Result<Vec<Value>, EngineError> {
    let from = next_seq.saturating_sub(4 * LOOK_BACK).max(1);
    let events = engine.events(episode, from, 4 * LOOK_BACK as usize)?;
    Ok(events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Message {
                author: Speaker::Assistant,
                data,
                ..
            } => data["actions"].as_array().filter(|a| !a.is_empty()).cloned(),
            _ => None,
        })
        .unwrap_or_default())
}

/// The proposal the conversation's last reply left open, if the reply was the last line said.
pub fn pending(engine: &Engine, episode: EpisodeId, next_seq: u64) -> Result<Option<Proposal>, EngineError> {
    // Back through the log a page at a time (a gate can log many events after the question).
    let mut end = next_seq;
    while end > 1 {
        let from = end.saturating_sub(LOOK_BACK).max(1);
        let events = engine.events(episode, from, (end - from) as usize)?;
        let last = events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Message { author, data, .. } => Some((*author, data.clone())),
            _ => None,
        });
        match last {
            Some((Speaker::Assistant, data)) => return Ok(proposal_of(&data)),
            Some(_) => return Ok(None),
            None => end = from,
        }
    }
    Ok(None)
}

fn proposal_of(data: &Value) -> Option<Proposal> {
    serde_json::from_value(data.get("pending")?.clone()).ok()
}

/// Asks before cancelling: a cancelled episode does nothing more, for good.
pub(crate) fn propose_cancel(s: &EpisodeSnapshot) -> Reply {
    let mut reply = Reply::new(IntentKind::Cancel, 1.0, None);
    if matches!(s.header.status, EpisodeStatus::Cancelled | EpisodeStatus::Completed) {
        reply.text = format!("There is nothing to cancel. {}", status(s));
        return reply;
    }
    reply.pending = Some(Proposal {
        action: Proposed::Cancel,
        node: None,
        feedback: None,
        versions: Vec::new(),
    });
    reply.text = "Cancel the episode? Nothing more will run, for good (what was approved is kept). yes / no".into();
    reply
}

/// Cancels the episode, on a yes to a proposed cancel.
pub(crate) async fn cancel(engine: &Engine, episode: EpisodeId) -> Result<Reply, ConversationError> {
    let mut reply = Reply::new(IntentKind::Cancel, 1.0, None);
    match engine.cancel(episode).await {
        Ok(()) => {
            reply.text = "Cancelled: nothing more runs, and what was approved is kept.".into();
        }
        Err(e) if e.is_conflict() => {
            reply.text = format!("I couldn't cancel it: {e}.");
            reply.refused = Some(e.to_string());
        }
        Err(e) => return Err(e.into()),
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_plainly() {
        for yes in ["yes", "Yes.", "  y ", "do it!", "OK", "go ahead"] {
            assert_eq!(answer(yes), Answer::Yes, "{yes}");
        }
        for no in ["no", "Nope", "cancel", "never mind", "don't"] {
            assert_eq!(answer(no), Answer::No, "{no}");
        }
        for other in ["yes, and make it darker", "redo the outline", "what?"] {
            assert_eq!(answer(other), Answer::Other, "{other}");
        }
        assert!(is_undo("Undo that!") && is_undo("take that back") && !is_undo("undo the whole episode"));
        assert!(is_cancel("Cancel.") && is_cancel("stop everything") && !is_cancel("stop the music in scene 2"));
    }
}
