//! The event envelope around the engine's events, as the `data:` of a server-sent event. The
//! event kinds, instance keys and speakers derive their schemas in the engine, the series model
//! and the settings in `showrunner_story`, and the chat reply in `showrunner_chat`, each under
//! its `openapi` feature; only the composition of the envelope is the API's.
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

use crate::openapi::{Timestamp, Ulid};

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

#[cfg(test)]
mod tests;
