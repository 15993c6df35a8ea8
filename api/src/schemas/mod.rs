//! Schemas of the types of other crates that the API's answers and bodies carry: the series
//! model of `showrunner_story`, the chat reply of `showrunner_chat` and the engine's events.
//!
//! These types are only described, never built: each mirrors its original's serde shape field
//! for field (what is always sent is required, what `skip_serializing_if` leaves out is not).
//! The integration tests validate every answer they receive against the document, so a mirror
//! that drifts from its original fails them.

#![allow(dead_code, reason = "schema-only types: described, never built")]

use std::borrow::Cow;

use serde_json::Value;
use utoipa::openapi::schema::{Discriminator, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::openapi::{BlobRef, Hash, Timestamp, Ulid};

/// A series' bible: what every episode of it keeps to.
#[derive(ToSchema)]
pub(crate) struct Bible {
    /// The look, in words ("ink and watercolour, muted greens").
    visual_style: String,
    /// The world the stories happen in.
    world: String,
    /// Rules the stories keep ("no one ever leaves the island").
    rules: Vec<String>,
}

/// A series' bible as a person writes it: each field may be left out.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BibleInput {
    /// The look, in words ("ink and watercolour, muted greens").
    #[serde(default)]
    visual_style: String,
    /// The world the stories happen in.
    #[serde(default)]
    world: String,
    /// Rules the stories keep ("no one ever leaves the island").
    #[serde(default)]
    rules: Vec<String>,
}

/// What does not change about a character.
#[derive(ToSchema)]
pub(crate) struct StaticFeatures {
    /// The face.
    face: String,
    /// The body.
    body: String,
}

/// What may change about a character from scene to scene.
#[derive(ToSchema)]
pub(crate) struct DynamicFeatures {
    /// What they wear.
    clothing: String,
    /// What they carry.
    props: Vec<String>,
}

/// What does not change about a character, as a person writes it.
#[derive(ToSchema)]
pub(crate) struct StaticFeaturesInput {
    /// The face.
    face: String,
    /// The body.
    body: String,
}

/// What may change about a character from scene to scene, as a person writes it.
#[derive(ToSchema)]
pub(crate) struct DynamicFeaturesInput {
    /// What they wear.
    clothing: String,
    /// What they carry.
    props: Vec<String>,
}

/// Which backend and model made an output, with the seed.
#[derive(ToSchema)]
pub(crate) struct Generator {
    /// The backend: `procedural`, `candle`, `onnx`, or `user` for a series' characters.
    backend: String,
    /// The model within the backend.
    model: String,
    /// The seed it ran with.
    seed: u64,
}

/// A character.
#[derive(ToSchema)]
pub(crate) struct Character {
    /// Stable id (a slug of the name), never a position.
    id: String,
    /// Name.
    name: String,
    /// Role in the story.
    role: String,
    static_features: StaticFeatures,
    dynamic_features: DynamicFeatures,
    /// Personality, in words.
    personality: String,
    /// A voice description, for speech.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    voice: Option<String>,
    /// Uploaded reference images (at most 3); left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 3)]
    reference_images: Vec<BlobRef>,
    generated_by: Generator,
}

/// A character as a person writes it into a series: the id is a slug of the name when missing.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CharacterInput {
    /// Stable id: letters, digits, `-` and `_`; a slug of the name when missing.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]+$")]
    id: Option<String>,
    /// Name.
    name: String,
    /// Role in the story.
    #[serde(default)]
    role: String,
    #[serde(default)]
    static_features: StaticFeaturesInput,
    #[serde(default)]
    dynamic_features: DynamicFeaturesInput,
    /// Personality, in words.
    #[serde(default)]
    personality: String,
    /// A voice description, for speech.
    #[serde(default)]
    voice: Option<String>,
    /// Uploaded reference images (at most 3), as `blob:<hash>`: upload them first.
    #[serde(default)]
    #[schema(max_items = 3)]
    reference_images: Vec<BlobRef>,
}

/// How an episode is rendered; each setting left out takes its default.
#[derive(ToSchema)]
pub(crate) struct Settings {
    /// The aspect ratio, as `W:H`.
    #[serde(default)]
    #[schema(default = "16:9")]
    aspect_ratio: String,
    /// Frame width in pixels: even, 16 to 3840.
    #[serde(default)]
    #[schema(default = 640, minimum = 16, maximum = 3840, multiple_of = 2)]
    width: u32,
    /// Frame height in pixels: even, 16 to 2160.
    #[serde(default)]
    #[schema(default = 360, minimum = 16, maximum = 2160, multiple_of = 2)]
    height: u32,
    /// Frames per second, 1 to 120.
    #[serde(default)]
    #[schema(default = 24, minimum = 1, maximum = 120)]
    fps: u32,
    /// The length the episode aims at, 1 to 3600 seconds.
    #[serde(default)]
    #[schema(default = 30.0, minimum = 1.0, maximum = 3600.0)]
    target_duration_s: f64,
    /// The visual style, in words.
    #[serde(default)]
    #[schema(default = "storybook")]
    style: String,
    /// The episode's seed.
    #[serde(default)]
    #[schema(default = 0)]
    seed: u64,
}

/// What a chat message was understood as.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum IntentKind {
    /// Accept the node's output and move on.
    Approve,
    /// Make the node's output again, usually with feedback.
    Regenerate,
    /// Change one field of the output to a given value.
    Edit,
    /// Ask about the episode.
    Question,
}

/// What a chat message did.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ChatActionKind {
    /// Approved the version at the gate.
    Approve,
    /// Asked for a new run.
    Regenerate,
    /// Stored an edited version.
    Edit,
}

/// One action a chat message led to.
#[derive(ToSchema)]
#[schema(as = ChatAction)]
pub(crate) struct Action {
    action: ChatActionKind,
    key: InstanceKey,
    /// The version acted on (for an edit, the version it was made from).
    #[schema(required = true, minimum = 1)]
    version: Option<u32>,
}

/// The answer to a chat message.
#[derive(ToSchema)]
pub(crate) struct Reply {
    intent: IntentKind,
    /// How sure the classifier was, in `[0, 1]`.
    #[schema(minimum = 0.0, maximum = 1.0)]
    confidence: f32,
    /// The node it concerned, if any.
    #[schema(required = true)]
    node: Option<String>,
    /// What was done.
    actions: Vec<Action>,
    /// Why nothing (or not everything) was done, when an action was refused: the engine's word.
    #[schema(required = true)]
    refused: Option<String>,
    /// The answer, in words.
    text: String,
}

/// One node instance of an episode.
#[derive(ToSchema)]
pub(crate) struct InstanceKey {
    /// The node's key.
    node: String,
    /// The item's stable id, for an instance of a map node.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    item: Option<String>,
}

/// Who wrote a line of a conversation.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Speaker {
    /// A person, through a client.
    User,
    /// The assistant answering them.
    Assistant,
}

/// A gate's kind.
#[derive(ToSchema)]
pub(crate) enum GateKind {
    /// Passes every version.
    Auto,
    /// Waits for a person.
    Human,
    /// Passes versions that score well enough.
    Quality,
    /// Offers candidates to pick from.
    Candidates,
}

/// One event of an episode's log, as the `data:` of a server-sent event: one schema per kind,
/// chosen by `type` (a `oneOf` with a discriminator). Each kind's schema, `<Kind>Event`, is the
/// fields of its [`EventKind`] variant with the fields every event has ([`EventHeader`]), so the
/// kinds are described once, by `EventKind`.
pub(crate) struct Event;

/// The fields every event has.
#[derive(ToSchema)]
pub(crate) struct EventHeader {
    #[schema(value_type = Ulid)]
    episode: String,
    /// Its sequence number within the episode, from 1, without gaps.
    #[schema(minimum = 1)]
    seq: u64,
    #[schema(value_type = Timestamp)]
    at: u64,
}

impl Event {
    /// Each kind's schema, by its `type`, with the header's fields.
    fn kinds() -> Vec<(String, Schema)> {
        let RefOr::T(Schema::OneOf(kinds)) = EventKind::schema() else {
            unreachable!("a tagged enum's schema is a oneOf");
        };
        let RefOr::T(Schema::Object(header)) = EventHeader::schema() else {
            unreachable!("a struct's schema is an object");
        };
        kinds
            .items
            .into_iter()
            .filter_map(|kind| match kind {
                RefOr::T(Schema::Object(mut object)) => {
                    let name = match object.properties.get("type") {
                        Some(RefOr::T(Schema::Object(tag))) => tag.enum_values.as_ref()?.first()?.as_str()?.to_owned(),
                        _ => return None,
                    };
                    object.properties.extend(header.properties.clone());
                    object.required.extend(header.required.clone());
                    object.description = object.description.map(|d| format!("`{name}`: {d}"));
                    Some((name, Schema::Object(object)))
                }
                _ => None,
            })
            .collect()
    }
}

impl PartialSchema for Event {
    fn schema() -> RefOr<Schema> {
        let kinds = Self::kinds();
        let mapping = kinds
            .iter()
            .map(|(name, _)| (name.clone(), format!("#/components/schemas/{name}Event")));
        let mut one_of = OneOfBuilder::new()
            .description(Some(
                "One event of an episode's log, as the `data:` of a server-sent event: by `type`, what \
                 happened, with the episode, the sequence number and the time",
            ))
            .discriminator(Some(Discriminator::with_mapping("type", mapping)));
        for (name, _) in &kinds {
            one_of = one_of.item(Ref::from_schema_name(format!("{name}Event")));
        }
        RefOr::T(Schema::OneOf(one_of.build()))
    }
}

impl ToSchema for Event {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Event")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(
            Self::kinds()
                .into_iter()
                .map(|(name, schema)| (format!("{name}Event"), RefOr::T(schema))),
        );
        <EventKind as ToSchema>::schemas(schemas);
        <EventHeader as ToSchema>::schemas(schemas);
    }
}

/// What happened, by `type`.
#[derive(ToSchema)]
#[serde(tag = "type")]
pub(crate) enum EventKind {
    /// The episode was created (or forked from another).
    EpisodeCreated {
        /// The workflow's name.
        workflow: String,
        /// Its definition version.
        definition_version: String,
        /// The episode it was forked from.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Ulid)]
        forked_from: Option<String>,
    },
    /// A map node's item set changed with its source list.
    ItemsChanged {
        /// The map node.
        node: String,
        /// Item ids added.
        added: Vec<String>,
        /// Item ids removed.
        removed: Vec<String>,
    },
    /// An instance's inputs are approved; it is queued.
    NodeReady {
        /// The instance.
        key: InstanceKey,
    },
    /// An instance lost an approved input before it ran; it waits again.
    NodeBlocked {
        /// The instance.
        key: InstanceKey,
    },
    /// A run started.
    NodeStarted {
        /// The instance.
        key: InstanceKey,
        /// Its attempt number.
        attempt: u32,
    },
    /// A running node reported progress.
    NodeProgress {
        /// The instance.
        key: InstanceKey,
        /// The attempt reporting.
        attempt: u32,
        /// Done so far, in `[0, 1]`.
        fraction: f32,
        /// What it is doing.
        message: String,
    },
    /// A run produced a version.
    NodeProduced {
        /// The instance.
        key: InstanceKey,
        /// The new version.
        version: u32,
        /// Its content hash.
        #[schema(value_type = Hash)]
        hash: String,
        /// Its quality score, behind a quality gate.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        score: Option<f64>,
    },
    /// A run failed.
    NodeFailed {
        /// The instance.
        key: InstanceKey,
        /// The attempt that failed.
        attempt: u32,
        /// Why.
        error: String,
        /// When it is retried; left out when it failed for good.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Timestamp)]
        retry_at: Option<u64>,
    },
    /// A run was stopped before it finished (crash, pause, timeout); it runs again.
    NodeInterrupted {
        /// The instance.
        key: InstanceKey,
        /// The attempt stopped.
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// A gate waits for a person.
    GateOpened {
        /// The instance.
        key: InstanceKey,
        /// The gate.
        gate: GateKind,
        /// The version (or, for candidates, versions) to judge.
        versions: Vec<u32>,
    },
    /// A version was approved.
    Approved {
        /// The instance.
        key: InstanceKey,
        /// The version.
        version: u32,
        /// True when a gate passed it on its own.
        automatic: bool,
    },
    /// A candidate was picked.
    Selected {
        /// The instance.
        key: InstanceKey,
        /// The version picked.
        version: u32,
    },
    /// A new run was asked for.
    RegenerateRequested {
        /// The instance.
        key: InstanceKey,
        /// The feedback for it.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        feedback: Option<String>,
        /// True when a quality gate asked.
        automatic: bool,
    },
    /// A person stored their own version.
    Edited {
        /// The instance.
        key: InstanceKey,
        /// The new version.
        version: u32,
    },
    /// The current pointer moved back.
    Reverted {
        /// The instance.
        key: InstanceKey,
        /// The version now current.
        version: u32,
    },
    /// An input changed under an instance's output.
    MarkedStale {
        /// The instance.
        key: InstanceKey,
        /// The input that changed.
        because: InstanceKey,
    },
    /// The episode was paused.
    EpisodePaused,
    /// The episode was resumed.
    EpisodeResumed,
    /// Every instance is approved.
    EpisodeCompleted,
    /// An instance failed for good.
    EpisodeFailed {
        /// The instance.
        key: InstanceKey,
    },
    /// The episode went back to work (an edit or regenerate after it completed or failed).
    EpisodeReopened,
    /// The episode was cancelled.
    EpisodeCancelled,
    /// A line of the episode's conversation.
    Message {
        /// Who wrote it.
        author: Speaker,
        /// The text.
        text: String,
        /// What the line did or understood (intent, action, instance), for clients; left out
        /// when there is nothing.
        #[serde(skip_serializing_if = "Value::is_null")]
        data: Value,
    },
}

/// `POST series` body: a title, a bible and the regular characters.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSeries {
    /// The title (not blank).
    title: String,
    #[serde(default)]
    bible: BibleInput,
    /// The regular characters, who appear in every episode as they are here.
    #[serde(default)]
    characters: Vec<CharacterInput>,
}

/// `PUT series/{id}` body: the whole series, and the revision it was made from.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateSeries {
    /// The revision the update was made from.
    revision: u32,
    /// The title (not blank).
    title: String,
    #[serde(default)]
    bible: BibleInput,
    /// The regular characters, who appear in every episode as they are here.
    #[serde(default)]
    characters: Vec<CharacterInput>,
}

#[cfg(test)]
mod tests;
