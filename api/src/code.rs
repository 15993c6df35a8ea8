//! [`ErrorCode`]: the stable code of every failed request, each with its one HTTP status. The
//! OpenAPI document's `ErrorCode` lists these, and the table in [`crate::error`] documents them.

use axum::http::StatusCode;

/// Declares the codes: each variant with its wire name and its status, in one table.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = ($name:literal, $status:ident),)*) => {
        /// The stable code of a failed request.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the document's order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it is sent: `snake_case`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }

            /// The HTTP status every error with this code has.
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

codes! {
    /// The body is not JSON, or not of the request's shape.
    BadJson = ("bad_json", BAD_REQUEST),
    /// A malformed id, query parameter or header.
    BadRequest = ("bad_request", BAD_REQUEST),
    /// A malformed content hash.
    BadHash = ("bad_hash", BAD_REQUEST),
    /// No key, or not a key of this server.
    Unauthorized = ("unauthorized", UNAUTHORIZED),
    /// The key may not do this.
    Forbidden = ("forbidden", FORBIDDEN),
    /// A browser request from another origin.
    CrossOriginRefused = ("cross_origin_refused", FORBIDDEN),
    /// A `Host` this server does not answer for.
    HostNotAllowed = ("host_not_allowed", MISDIRECTED_REQUEST),
    /// No such episode (or not the caller's).
    EpisodeNotFound = ("episode_not_found", NOT_FOUND),
    /// No such node or item in the episode.
    NodeNotFound = ("node_not_found", NOT_FOUND),
    /// No such version of the node.
    VersionNotFound = ("version_not_found", NOT_FOUND),
    /// No such workflow.
    WorkflowNotFound = ("workflow_not_found", NOT_FOUND),
    /// No such artifact (or not the caller's).
    ArtifactNotFound = ("artifact_not_found", NOT_FOUND),
    /// No such series (or not the caller's).
    SeriesNotFound = ("series_not_found", NOT_FOUND),
    /// No such character in the series.
    CharacterNotFound = ("character_not_found", NOT_FOUND),
    /// No route for the path.
    RouteNotFound = ("route_not_found", NOT_FOUND),
    /// The route exists without this method.
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED),
    /// The action names a version that is no longer current.
    VersionConflict = ("version_conflict", CONFLICT),
    /// The node's state does not allow the action.
    IllegalAction = ("illegal_action", CONFLICT),
    /// The episode's status does not allow the action.
    IllegalEpisodeAction = ("illegal_episode_action", CONFLICT),
    /// The series changed since the revision the request names.
    SeriesConflict = ("series_conflict", CONFLICT),
    /// The episode's workflow definition is not registered in this build.
    DefinitionUnavailable = ("definition_unavailable", CONFLICT),
    /// The body is over its limit.
    PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE),
    /// A content type the route does not take.
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE),
    /// A `Range` outside the artifact.
    RangeNotSatisfiable = ("range_not_satisfiable", RANGE_NOT_SATISFIABLE),
    /// A well-formed body whose field at `path` is refused.
    InvalidValue = ("invalid_value", UNPROCESSABLE_ENTITY),
    /// A screenplay that is not valid Fountain (with its `line`).
    InvalidScreenplay = ("invalid_screenplay", UNPROCESSABLE_ENTITY),
    /// An upload that is not a whole image within the pixel budget.
    InvalidImage = ("invalid_image", UNPROCESSABLE_ENTITY),
    /// More references than a series or character may hold.
    TooManyReferences = ("too_many_references", UNPROCESSABLE_ENTITY),
    /// An `Idempotency-Key` used before for another request.
    IdempotencyKeyReused = ("idempotency_key_reused", UNPROCESSABLE_ENTITY),
    /// The server failed; the cause is logged, never returned.
    Internal = ("internal", INTERNAL_SERVER_ERROR),
    /// A stored blob that does not match its hash (damaged on disk).
    CorruptArtifact = ("corrupt_artifact", INTERNAL_SERVER_ERROR),
    /// The server is shutting down.
    ShuttingDown = ("shutting_down", SERVICE_UNAVAILABLE),
    /// Another engine process holds the episode and cannot be reached now, or the episode is
    /// changing hands: retry in a moment.
    EpisodeMoving = ("episode_moving", SERVICE_UNAVAILABLE),
    /// The store (a database server) cannot be reached now: retry in a moment (an action whose
    /// commit the connection lost may have taken effect: a retry with the same
    /// `Idempotency-Key` is answered from its record).
    StoreUnavailable = ("store_unavailable", SERVICE_UNAVAILABLE),
    /// The disk is full: nothing was stored.
    InsufficientStorage = ("insufficient_storage", INSUFFICIENT_STORAGE),
    /// The server holds as many connections as it takes.
    TooManyConnections = ("too_many_connections", SERVICE_UNAVAILABLE),
}
