//! The document's own schemas for values that have no Rust type of their own: ids, hashes,
//! blob references, bytes, timestamps and the closed sets of names (statuses, states, error
//! codes), each declared with [`schema!`].

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The ids, hashes, blob references and timestamps, as the engine documents them.
pub(crate) use showrunner_engine::BlobRef;
pub(crate) use showrunner_engine::openapi::{Hash, Timestamp, Ulid};

/// A closed set of string values.
pub(crate) fn names<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// Declares a schema-only type: `$name` in the document, with the schema `$schema`.
macro_rules! schema {
    ($(#[$doc:meta])* $ty:ident = $name:literal, $schema:expr) => {
        $(#[$doc])*
        pub(crate) struct $ty;

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

schema!(
    /// Bytes of a media type: an image, a video, subtitles.
    Binary = "Binary",
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .description(Some("The bytes themselves, of the media type given"))
        .into()
);

schema!(
    /// An episode's status.
    EpisodeStatus = "EpisodeStatus",
    names(
        "An episode's status",
        showrunner_engine::EpisodeStatus::ALL.iter().map(|s| s.name()),
    )
);

schema!(
    /// A node instance's state.
    NodeState = "NodeState",
    names(
        "A node instance's state",
        [
            "blocked",
            "ready",
            "running",
            "produced",
            "awaiting_approval",
            "approved",
            "waiting_to_retry",
            "failed",
            "stale",
            "cancelled",
        ],
    )
);

schema!(
    /// A workflow node's kind.
    NodeKind = "WorkflowNodeKind",
    names(
        "`single`, `list`, `map` (one instance per item of `over`) or `reduce` (joins `over`)",
        ["single", "list", "map", "reduce"],
    )
);

schema!(
    /// A workflow gate's kind.
    GateKind = "WorkflowGateKind",
    names(
        "`auto` passes every version, `human` waits for a person, `quality` passes versions that \
         score well enough, `candidates` offers versions to pick from",
        ["auto", "human", "quality", "candidates"],
    )
);

schema!(
    /// What a quality gate does when its attempts run out.
    Escalation = "Escalation",
    names(
        "What a quality gate does when its attempts run out: ask a person, or fail",
        ["human", "fail"],
    )
);

schema!(
    /// The resource a node runs on.
    Resource = "Resource",
    names("The resource a node runs on", ["cpu", "gpu"])
);

schema!(
    /// The image types uploads accept.
    ImageType = "ImageType",
    names("The image types uploads accept", ["image/png", "image/jpeg"])
);

schema!(
    /// An error's stable code.
    ErrorCode = "ErrorCode",
    names(
        "The stable code of an error",
        crate::code::ErrorCode::ALL.iter().map(|code| code.as_str()),
    )
);
