//! The OpenAPI schemas of the engine's values (feature `openapi`): ids, content hashes, blob
//! references and timestamps as the HTTP API documents them, for `value_type` in the schemas derived on the
//! engine's types (the events, instance keys, gate kinds) and on the API's own.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// Declares a schema-only type: `$name` in the document, with the schema `$schema`.
macro_rules! scalar {
    ($(#[$doc:meta])* $ty:ident = $name:literal, $schema:expr) => {
        $(#[$doc])*
        pub struct $ty;

        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                RefOr::T($schema)
            }
        }

        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

/// A string schema with a description, a pattern and perhaps a format.
fn string(description: &str, pattern: &str, format: Option<SchemaFormat>) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .format(format)
        .into()
}

scalar!(
    /// An episode or series id ([`crate::EpisodeId`], [`crate::SeriesId`]): a ULID.
    Ulid = "Ulid",
    string(
        "A ULID, 26 characters of Crockford base 32; ids sort by creation time",
        "^[0-9A-HJKMNP-TV-Z]{26}$",
        Some(SchemaFormat::Custom("ulid".into())),
    )
);

scalar!(
    /// A content hash ([`crate::ContentHash`]).
    Hash = "ContentHash",
    string(
        "A BLAKE3 content hash, 64 lower-case hex digits; fetch the blob at `/api/v1/artifacts/{hash}`",
        "^[0-9a-f]{64}$",
        None,
    )
);

scalar!(
    /// A [`crate::Timestamp`]: milliseconds since the Unix epoch.
    Timestamp = "Timestamp",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .description(Some("Milliseconds since the Unix epoch"))
        .into()
);

impl PartialSchema for crate::BlobRef {
    fn schema() -> RefOr<Schema> {
        RefOr::T(string(
            "A reference to a stored blob, `blob:<64 hex digits>`",
            "^blob:[0-9a-f]{64}$",
            None,
        ))
    }
}

impl ToSchema for crate::BlobRef {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("BlobRef")
    }
}
