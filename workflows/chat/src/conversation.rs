//! The conversational entry to an episode: a chat message is classified (approve, regenerate
//! with feedback, edit, question), turned into engine actions on the gate it concerns, and
//! answered. Both lines are stored in the episode's log, so the conversation lives and dies with
//! the episode and streams with its events.
//!
//! Which instances a message concerns: the node it names ("redo the storyboard"), or else the
//! node whose gate is open (the earliest in the workflow when several are). Approving a map
//! node's gate approves every item of it that waits. An edit ("set Mara's clothing to a red
//! raincoat") changes one text field of the node's current value: inside the list element
//! that the subject names when there is one.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};
use showrunner_backend::{BackendError, Embedder};
use showrunner_engine::{
    Engine, EngineError, EpisodeId, EpisodeSnapshot, EpisodeStatus, InstanceKey, InstanceRecord, NodeState, Speaker,
};

use crate::intent::{EditRequest, Intent, IntentClassifier, IntentKind, MIN_CONFIDENCE};

/// Why a message could not be handled at all (a refused action is an answer, not an error).
#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    /// The episode or the store failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The embedder failed.
    #[error("classifying the message: {0}")]
    Classifier(#[from] BackendError),
    /// An empty message.
    #[error("the message is empty")]
    Empty,
}

/// What a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChatActionKind))]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Approved the version at the gate.
    Approve,
    /// Asked for a new run.
    Regenerate,
    /// Stored an edited version.
    Edit,
}

/// One action a message led to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChatAction))]
pub struct Action {
    /// What was done.
    pub action: ActionKind,
    /// The instance acted on.
    pub key: InstanceKey,
    /// The version acted on (for an edit, the version it was made from).
    #[cfg_attr(feature = "openapi", schema(required = true, minimum = 1))]
    pub version: Option<u32>,
}

/// The answer to a message.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reply {
    /// What the message was understood as.
    pub intent: IntentKind,
    /// How sure the classifier was, in `[0, 1]`.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub confidence: f32,
    /// The node it concerned, if any.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub node: Option<String>,
    /// What was done.
    pub actions: Vec<Action>,
    /// Why nothing (or not everything) was done, when an action was refused: the engine's word.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub refused: Option<String>,
    /// The answer, in words.
    pub text: String,
}

/// Node keys with the words people use for them (the stock workflows': `story::stock::NODES`).
pub type NodeWords = &'static [(&'static str, &'static [&'static str])];

/// Turns chat messages into actions on episodes.
#[derive(Clone)]
pub struct Conversation {
    engine: Engine,
    embedder: Arc<dyn Embedder>,
    /// The node keys the classifier knows, with the words people use for them.
    nodes: NodeWords,
    /// Built on first use (it embeds its prototype sentences), then shared.
    classifier: Arc<Mutex<Option<Arc<IntentClassifier>>>>,
}

impl Conversation {
    /// A conversation over `engine`, classifying through `embedder`, about the nodes in `nodes`
    /// (the stock workflows': `showrunner_story::stock::NODES`).
    pub fn new(engine: Engine, embedder: Arc<dyn Embedder>, nodes: NodeWords) -> Self {
        Self {
            engine,
            embedder,
            nodes,
            classifier: Arc::default(),
        }
    }

    /// The classifier, built now if this is the first message.
    fn classifier(&self) -> Result<Arc<IntentClassifier>, BackendError> {
        let mut slot = self.classifier.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(classifier) = slot.as_ref() {
            return Ok(classifier.clone());
        }
        let classifier = Arc::new(IntentClassifier::new(self.embedder.clone(), self.nodes)?);
        *slot = Some(classifier.clone());
        Ok(classifier)
    }

    /// Stores the message, acts on it, stores and returns the reply.
    pub async fn respond(&self, episode: EpisodeId, text: &str) -> Result<Reply, ConversationError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ConversationError::Empty);
        }
        let snapshot = self.engine.snapshot(episode).await?;
        let intent = self.classifier()?.classify(text)?;
        self.engine
            .note(episode, Speaker::User, text.to_owned(), Value::Null)
            .await?;
        let reply = self.act(episode, &snapshot, &intent).await?;
        let data = json!({
            "intent": reply.intent,
            "confidence": reply.confidence,
            "node": reply.node,
            "actions": reply.actions,
            "refused": reply.refused,
        });
        self.engine
            .note(episode, Speaker::Assistant, reply.text.clone(), data)
            .await?;
        Ok(reply)
    }

    async fn act(&self, episode: EpisodeId, s: &EpisodeSnapshot, intent: &Intent) -> Result<Reply, ConversationError> {
        let node = intent
            .target
            .clone()
            .filter(|t| s.instances.iter().any(|r| &r.key.node == t))
            .or_else(|| open_gate_node(s));
        let mut reply = Reply {
            intent: intent.kind,
            confidence: intent.confidence,
            node: node.clone(),
            actions: Vec::new(),
            refused: None,
            text: String::new(),
        };
        if intent.confidence < MIN_CONFIDENCE {
            reply.text = format!(
                "I'm not sure what you'd like me to do. Say \"approve\", \"redo it with …\", \"set X to Y\" \
                 or ask what's left. {}",
                status(s)
            );
            return Ok(reply);
        }
        let Some(node) = node.filter(|_| intent.kind != IntentKind::Question) else {
            reply.text = match intent.kind {
                IntentKind::Question => status(s),
                _ => format!("Nothing is waiting for you right now. {}", status(s)),
            };
            return Ok(reply);
        };
        let outcome = match intent.kind {
            IntentKind::Approve => self.approve(episode, s, &node, &mut reply.actions).await,
            IntentKind::Regenerate => {
                let feedback = intent.feedback.clone().filter(|f| !f.trim().is_empty());
                self.regenerate(episode, s, &node, feedback, &mut reply.actions).await
            }
            IntentKind::Edit => match &intent.edit {
                Some(edit) => self.edit(episode, s, &node, edit, &mut reply.actions).await,
                None => Ok(Some(
                    "Tell me what to change and to what, for example: set Mara's clothing to a red raincoat.".into(),
                )),
            },
            IntentKind::Question => Ok(None),
        };
        match outcome {
            Ok(note) => reply.text = note.unwrap_or_else(|| done(&reply.actions, &node)),
            Err(e) if e.is_conflict() || matches!(e, EngineError::InvalidValue { .. }) => {
                reply.text = format!("I couldn't do that: {e}.");
                reply.refused = Some(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
        Ok(reply)
    }

    async fn approve(
        &self,
        episode: EpisodeId,
        s: &EpisodeSnapshot,
        node: &str,
        actions: &mut Vec<Action>,
    ) -> Result<Option<String>, EngineError> {
        let waiting: Vec<&InstanceRecord> = instances(s, node)
            .filter(|r| r.state == NodeState::AwaitingApproval {})
            .collect();
        if waiting.is_empty() {
            return Ok(Some(format!("`{node}` is not waiting for approval. {}", status(s))));
        }
        for r in waiting {
            let Some(version) = r.current else { continue };
            if !r.candidates.is_empty() {
                return Ok(Some(format!(
                    "`{}` offers candidates {:?}: pick one rather than approving.",
                    r.key, r.candidates
                )));
            }
            self.engine.approve(episode, r.key.clone(), version).await?;
            actions.push(Action {
                action: ActionKind::Approve,
                key: r.key.clone(),
                version: Some(version),
            });
        }
        Ok(None)
    }

    async fn regenerate(
        &self,
        episode: EpisodeId,
        s: &EpisodeSnapshot,
        node: &str,
        feedback: Option<String>,
        actions: &mut Vec<Action>,
    ) -> Result<Option<String>, EngineError> {
        // At a gate: the waiting instances. Otherwise every instance that has an output.
        let mut chosen: Vec<&InstanceRecord> = instances(s, node)
            .filter(|r| r.state == NodeState::AwaitingApproval {})
            .collect();
        if chosen.is_empty() {
            chosen = instances(s, node).filter(|r| r.current.is_some()).collect();
        }
        if chosen.is_empty() {
            return Ok(Some(format!("`{node}` has nothing to redo yet. {}", status(s))));
        }
        for r in chosen {
            self.engine
                .regenerate(episode, r.key.clone(), feedback.clone(), r.current)
                .await?;
            actions.push(Action {
                action: ActionKind::Regenerate,
                key: r.key.clone(),
                version: r.current,
            });
        }
        Ok(None)
    }

    async fn edit(
        &self,
        episode: EpisodeId,
        s: &EpisodeSnapshot,
        node: &str,
        edit: &EditRequest,
        actions: &mut Vec<Action>,
    ) -> Result<Option<String>, EngineError> {
        let mut all = instances(s, node);
        let (Some(r), None) = (all.next(), all.next()) else {
            return Ok(Some(format!(
                "`{node}` has one part per item: edit an item from its own view."
            )));
        };
        let Some(base) = r.current else {
            return Ok(Some(format!("`{node}` has no version to edit yet.")));
        };
        let mut value = self.engine.version_value(episode, &r.key, base)?;
        if !set_field(&mut value, edit) {
            return Ok(Some(format!(
                "I found no `{}`{} in `{node}` to change.",
                edit.field,
                edit.subject.as_deref().map(|s| format!(" of {s}")).unwrap_or_default()
            )));
        }
        self.engine.edit(episode, r.key.clone(), value, Some(base)).await?;
        actions.push(Action {
            action: ActionKind::Edit,
            key: r.key.clone(),
            version: Some(base),
        });
        Ok(None)
    }
}

/// The instances of `node`.
fn instances<'a>(s: &'a EpisodeSnapshot, node: &'a str) -> impl Iterator<Item = &'a InstanceRecord> {
    s.instances.iter().filter(move |r| r.key.node == node)
}

/// The node whose gate is open: the first in the snapshot's order (the workflow's) when several
/// are.
fn open_gate_node(s: &EpisodeSnapshot) -> Option<String> {
    s.instances
        .iter()
        .find(|r| r.state == NodeState::AwaitingApproval {})
        .map(|r| r.key.node.clone())
}

/// What was done, in words.
fn done(actions: &[Action], node: &str) -> String {
    let Some(first) = actions.first() else {
        return format!("Nothing to do on `{node}`.");
    };
    let what = match first.action {
        ActionKind::Approve => "Approved",
        ActionKind::Regenerate => "Regenerating",
        ActionKind::Edit => "Edited",
    };
    if actions.len() == 1 {
        format!("{what} `{}`.", first.key)
    } else {
        format!("{what} {} parts of `{node}`.", actions.len())
    }
}

/// Where the episode stands, in words: what waits for a person, what runs, what is left.
pub fn status(s: &EpisodeSnapshot) -> String {
    let total = s.instances.len();
    let approved = s.instances.iter().filter(|r| r.state.is_approved()).count();
    let mut text = match s.header.status {
        EpisodeStatus::Completed => return format!("The episode is complete: all {total} parts are approved."),
        EpisodeStatus::Cancelled => return "The episode was cancelled.".to_owned(),
        EpisodeStatus::Paused => format!("The episode is paused; {approved} of {total} parts are approved."),
        EpisodeStatus::Failed => format!("The episode is stuck: {approved} of {total} parts are approved."),
        EpisodeStatus::Active => format!("{approved} of {total} parts are approved."),
    };
    let nodes_where = |pred: fn(&NodeState) -> bool| {
        let mut nodes: Vec<&str> = Vec::new();
        for r in s.instances.iter().filter(|r| pred(&r.state)) {
            if !nodes.contains(&r.key.node.as_str()) {
                nodes.push(&r.key.node);
            }
        }
        nodes
    };
    let waiting = nodes_where(|st| *st == NodeState::AwaitingApproval {});
    let running = nodes_where(|st| matches!(st, NodeState::Running { .. } | NodeState::Ready {}));
    let failed = nodes_where(|st| *st == NodeState::Failed {});
    let left = nodes_where(|st| !st.is_approved());
    if !waiting.is_empty() {
        text.push_str(&format!(" Waiting for you: {}.", waiting.join(", ")));
    }
    if !running.is_empty() {
        text.push_str(&format!(" Working on: {}.", running.join(", ")));
    }
    if !failed.is_empty() {
        text.push_str(&format!(" Failed: {} (regenerate or edit it).", failed.join(", ")));
    }
    if !left.is_empty() {
        text.push_str(&format!(" Left to approve: {}.", left.join(", ")));
    }
    text
}

/// Sets the text field `edit.field` in `value`: in the list element the subject names when the
/// value is a list (or the only element), else at the top level or one object down. True when
/// a field was set.
fn set_field(value: &mut Value, edit: &EditRequest) -> bool {
    match value {
        Value::Array(items) => {
            let index = match edit.subject.as_deref() {
                Some(subject) => items.iter().position(|item| mentions(item, subject)),
                None if items.len() == 1 => Some(0),
                None => None,
            };
            index.is_some_and(|i| set_in_object(&mut items[i], &edit.field, &edit.value))
        }
        other => set_in_object(other, &edit.field, &edit.value),
    }
}

/// True when one of the element's text fields holds the subject (or its last word: "the old
/// detective" finds a "detective").
fn mentions(item: &Value, subject: &str) -> bool {
    let subject = subject.to_lowercase();
    let words: Vec<&str> = subject
        .split_whitespace()
        .filter(|w| !matches!(*w, "the" | "a" | "an" | "our" | "my"))
        .collect();
    let Some(last) = words.last() else { return false };
    let texts: Vec<String> = match item {
        Value::Object(fields) => fields
            .iter()
            .filter_map(|(k, v)| {
                v.as_str()
                    .filter(|_| matches!(k.as_str(), "id" | "name" | "role" | "slugline"))
            })
            .map(str::to_lowercase)
            .collect(),
        _ => Vec::new(),
    };
    texts
        .iter()
        .any(|t| t.contains(&words.join(" ")) || t.split_whitespace().any(|w| w == *last))
}

/// Sets a string field named `field` (spaces as underscores) at the top of `value` or one object
/// down (`dynamic_features.clothing`). A field that holds a list of strings gets a one-element
/// list.
fn set_in_object(value: &mut Value, field: &str, text: &str) -> bool {
    let field = field.trim().to_lowercase().replace([' ', '-'], "_");
    let Value::Object(fields) = value else { return false };
    if let Some(slot) = fields.get_mut(&field) {
        return set_text(slot, text);
    }
    fields
        .values_mut()
        .filter_map(|v| v.as_object_mut())
        .find_map(|inner| inner.get_mut(&field))
        .is_some_and(|slot| set_text(slot, text))
}

fn set_text(slot: &mut Value, text: &str) -> bool {
    match slot {
        Value::String(_) | Value::Null => *slot = Value::String(text.to_owned()),
        Value::Array(items) if items.iter().all(Value::is_string) => *slot = json!([text]),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(subject: Option<&str>, field: &str, value: &str) -> EditRequest {
        EditRequest {
            subject: subject.map(str::to_owned),
            field: field.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn an_edit_finds_the_named_element_and_the_nested_field() {
        let mut cast = json!([
            {"id": "mara", "name": "Mara", "role": "the detective", "dynamic_features": {"clothing": "a grey coat", "props": []}},
            {"id": "ode", "name": "Ode", "role": "the keeper", "dynamic_features": {"clothing": "a blue coat", "props": []}},
        ]);
        assert!(set_field(
            &mut cast,
            &edit(Some("the detective"), "clothing", "a red raincoat")
        ));
        assert_eq!(cast[0]["dynamic_features"]["clothing"], "a red raincoat");
        assert_eq!(cast[1]["dynamic_features"]["clothing"], "a blue coat");
        assert!(set_field(&mut cast, &edit(Some("Ode"), "props", "a lamp")));
        assert_eq!(cast[1]["dynamic_features"]["props"], json!(["a lamp"]));
        assert!(!set_field(&mut cast, &edit(Some("nobody"), "clothing", "x")));
        assert!(
            !set_field(&mut cast, &edit(None, "clothing", "x")),
            "two elements, none named"
        );
    }

    #[test]
    fn an_edit_of_a_single_value_sets_its_top_level_field() {
        let mut outline = json!({"logline": "old", "synopsis": "s", "beats": [{"id": "beat-1", "summary": "s"}]});
        assert!(set_field(
            &mut outline,
            &edit(None, "logline", "A thief steals the moon")
        ));
        assert_eq!(outline["logline"], "A thief steals the moon");
        assert!(
            !set_field(&mut outline, &edit(None, "beats", "x")),
            "not a list of strings"
        );
        assert!(!set_field(&mut outline, &edit(None, "title", "x")));
    }
}
