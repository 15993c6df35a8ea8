//! Schemas of the types of other crates that the API's answers and bodies carry: the series
//! model of `showrunner_story`, and the event envelope around the engine's events. The event
//! kinds, instance keys and speakers derive their schemas in the engine, and the chat reply in
//! `showrunner_chat`, each under its `openapi` feature.
//!
//! These types are only described, never built: each mirrors its original's serde shape field
//! for field (what is always sent is required, what `skip_serializing_if` leaves out is not).
//! The integration tests validate every answer they receive against the document, so a mirror
//! that drifts from its original fails them.

#![allow(dead_code, reason = "schema-only types: described, never built")]

use std::borrow::Cow;

use utoipa::openapi::schema::{Discriminator, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use showrunner_engine::EventKind;

use crate::openapi::{BlobRef, Timestamp, Ulid};

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
