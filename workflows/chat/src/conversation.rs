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

use crate::confirm::{
    Answer, CONFIRM_BELOW, Proposal, Proposed, answer, cancel, is_cancel, is_undo, last_actions, pending,
    propose_cancel,
};
use crate::fields::{field_home, set_field};
use crate::intent::{EditRequest, Intent, IntentClassifier, IntentKind, MIN_CONFIDENCE};
use crate::show::summary;

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
    /// Moved back to an earlier version (an undo).
    Revert,
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
    /// An action proposed rather than done (a regenerate the classifier was not sure of): the
    /// next message's yes carries it out, a no drops it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub pending: Option<Proposal>,
    /// The answer, in words.
    pub text: String,
}

impl Reply {
    /// A reply that has done nothing yet.
    pub(crate) fn new(intent: IntentKind, confidence: f32, node: Option<String>) -> Self {
        Self {
            intent,
            confidence,
            node,
            actions: Vec::new(),
            refused: None,
            pending: None,
            text: String::new(),
        }
    }
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
        let proposal = pending(&self.engine, episode, snapshot.header.next_seq)?;
        let intent = self.classifier()?.classify(text)?;
        self.engine
            .note(episode, Speaker::User, text.to_owned(), Value::Null)
            .await?;
        let reply = match (proposal, answer(text)) {
            _ if is_undo(text) => self.undo(episode, &snapshot).await?,
            (Some(proposal), Answer::Yes) => self.confirmed(episode, &snapshot, proposal).await?,
            // "cancel" again, to "Cancel the episode?": not a no.
            (Some(proposal), _) if proposal.action == Proposed::Cancel && is_cancel(text) => Reply {
                text: "Say yes to cancel the episode, or no to let it go on.".into(),
                pending: Some(proposal),
                ..Reply::new(IntentKind::Cancel, 1.0, None)
            },
            (Some(proposal), Answer::No) => match (proposal.action, proposal.node) {
                (Proposed::Regenerate, node) => Reply {
                    text: match &node {
                        Some(node) => format!("OK, `{node}` stays as it is."),
                        None => "OK, it stays as it is.".into(),
                    },
                    ..Reply::new(IntentKind::Regenerate, 1.0, node)
                },
                (Proposed::Cancel, _) => Reply {
                    text: "OK, the episode goes on.".into(),
                    ..Reply::new(IntentKind::Cancel, 1.0, None)
                },
            },
            _ if is_cancel(text) => propose_cancel(&snapshot),
            _ => self.act(episode, &snapshot, &intent).await?,
        };
        let data = json!({
            "intent": reply.intent,
            "confidence": reply.confidence,
            "node": reply.node,
            "actions": reply.actions,
            "refused": reply.refused,
            "pending": reply.pending,
        });
        self.engine
            .note(episode, Speaker::Assistant, reply.text.clone(), data)
            .await?;
        Ok(reply)
    }

    async fn act(&self, episode: EpisodeId, s: &EpisodeSnapshot, intent: &Intent) -> Result<Reply, ConversationError> {
        // The node it names; else, for an edit of a character's field, the characters wherever
        // the episode stands; else the open gate.
        let node = intent
            .target
            .clone()
            .filter(|t| s.instances.iter().any(|r| &r.key.node == t))
            .or_else(|| {
                let edit = intent.edit.as_ref().filter(|_| intent.kind == IntentKind::Edit)?;
                field_home(s, &edit.field)
            })
            .or_else(|| open_gate_node(s));
        let mut reply = Reply::new(intent.kind, intent.confidence, node.clone());
        if intent.confidence < MIN_CONFIDENCE {
            reply.text = format!(
                "I'm not sure what you'd like me to do. Say \"approve\", \"redo it with …\", \"set X to Y\" \
                 or ask what's left. {}",
                status(s)
            );
            return Ok(reply);
        }
        // A question about a stage that has content: show it.
        if intent.kind == IntentKind::Question
            && let Some(asked) = intent.target.as_deref()
            && let Some(r) = instances(s, asked).find(|r| r.current.is_some())
            && let Some(version) = r.current
        {
            let value = self.engine.version_value(episode, &r.key, version)?;
            reply.text = format!("`{}` (version {version}):\n{}", r.key, summary(asked, &value));
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
            IntentKind::Regenerate if intent.confidence < CONFIRM_BELOW => {
                // Not sure enough to throw work away: ask first.
                let feedback = intent.feedback.clone().filter(|f| !f.trim().is_empty());
                let with = feedback
                    .as_deref()
                    .map(|f| format!(" with \"{f}\""))
                    .unwrap_or_default();
                reply.pending = Some(Proposal {
                    action: Proposed::Regenerate,
                    node: Some(node.clone()),
                    feedback,
                    versions: instances(s, &node).map(|r| r.current).collect(),
                });
                Ok(Some(format!("Regenerate `{node}`{with}? yes / no")))
            }
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
            // A cancel is never classified (`is_cancel` reads it before the classifier).
            IntentKind::Question | IntentKind::Cancel => Ok(None),
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

    /// Undoes the last reply's edit or regenerate: each instance it acted on goes back to the
    /// version it was acted on (approvals stand: they are undone by a regenerate or an edit).
    async fn undo(&self, episode: EpisodeId, s: &EpisodeSnapshot) -> Result<Reply, ConversationError> {
        let mut reply = Reply::new(IntentKind::Edit, 1.0, None);
        let last: Vec<Action> = last_actions(&self.engine, episode, s.header.next_seq)?
            .into_iter()
            .filter_map(|a| {
                let kind = match a["action"].as_str()? {
                    "edit" => ActionKind::Edit,
                    "regenerate" => ActionKind::Regenerate,
                    "approve" => ActionKind::Approve,
                    _ => ActionKind::Revert,
                };
                let key: InstanceKey = serde_json::from_value(a["key"].clone()).ok()?;
                let version = a["version"].as_u64().and_then(|v| u32::try_from(v).ok());
                Some(Action {
                    action: kind,
                    key,
                    version,
                })
            })
            .collect();
        let undoable: Vec<&Action> = last
            .iter()
            .filter(|a| matches!(a.action, ActionKind::Edit | ActionKind::Regenerate))
            .collect();
        if undoable.is_empty() {
            reply.text = match last.first().map(|a| a.action) {
                Some(ActionKind::Approve) => "An approval is not undone: regenerate or edit instead.".into(),
                Some(ActionKind::Revert) => "The last thing I did was an undo: nothing more to undo.".into(),
                _ => "There is nothing of mine to undo.".into(),
            };
            return Ok(reply);
        }
        for a in undoable {
            let Some(version) = a.version else { continue };
            reply.node = Some(a.key.node.clone());
            match self.engine.revert(episode, a.key.clone(), version).await {
                Ok(()) => reply.actions.push(Action {
                    action: ActionKind::Revert,
                    key: a.key.clone(),
                    version: Some(version),
                }),
                Err(e) if e.is_conflict() || matches!(e, EngineError::InvalidValue { .. }) => {
                    reply.refused = Some(e.to_string());
                }
                Err(e) => return Err(e.into()),
            }
        }
        reply.text = match (&reply.actions[..], &reply.refused) {
            ([], Some(why)) => format!("I couldn't undo that: {why}."),
            (done, _) => format!(
                "Undone: {} back to the version before.",
                done.iter()
                    .map(|a| format!("`{}`", a.key))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Ok(reply)
    }

    /// Carries out a proposal the person said yes to.
    async fn confirmed(
        &self,
        episode: EpisodeId,
        s: &EpisodeSnapshot,
        proposal: Proposal,
    ) -> Result<Reply, ConversationError> {
        let node = match (proposal.action, proposal.node) {
            (Proposed::Regenerate, Some(node)) => node,
            (Proposed::Regenerate, None) => {
                let mut reply = Reply::new(IntentKind::Regenerate, 1.0, None);
                reply.text = "I had nothing to regenerate: say what to redo.".into();
                return Ok(reply);
            }
            (Proposed::Cancel, _) => return cancel(&self.engine, episode).await,
        };
        let mut reply = Reply::new(IntentKind::Regenerate, 1.0, Some(node.clone()));
        // Only as it stood when asked: a node that moved on since is not regenerated on an old yes.
        let now: Vec<Option<u32>> = instances(s, &node).map(|r| r.current).collect();
        if !proposal.versions.is_empty() && now != proposal.versions {
            reply.text =
                format!("`{node}` has moved on since I asked, so I did nothing: say it again if you still want it.");
            return Ok(reply);
        }
        match self
            .regenerate(episode, s, &node, proposal.feedback, &mut reply.actions)
            .await
        {
            Ok(note) => reply.text = note.unwrap_or_else(|| done(&reply.actions, &node)),
            Err(e) if e.is_conflict() => {
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
        // Say what the change sends back to work.
        let after = self.engine.snapshot(episode).await?;
        let mut redone: Vec<&str> = after
            .instances
            .iter()
            .filter(|a| a.key.node != node)
            .filter(|a| {
                let before = s.instances.iter().find(|b| b.key == a.key);
                before.is_some_and(|b| b.state != a.state && !a.state.is_approved())
            })
            .map(|a| a.key.node.as_str())
            .collect();
        redone.dedup();
        if redone.is_empty() {
            return Ok(None);
        }
        Ok(Some(format!(
            "Edited `{}`. That sends back to work: {}.",
            r.key,
            redone.join(", ")
        )))
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
        ActionKind::Revert => "Reverted",
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
