//! [`ApiError`]: every failure of a request, as `{"error": {"code", "message", "details"}}`
//! with a stable code and the right status.
//!
//! | status | codes |
//! | --- | --- |
//! | 400 | `bad_json`, `bad_request` (a malformed id, query or header), `bad_hash` |
//! | 401 | `unauthorized` |
//! | 403 | `forbidden`, `cross_origin_refused` |
//! | 404 | `episode_not_found`, `node_not_found`, `version_not_found`, `workflow_not_found`, `artifact_not_found`, `series_not_found`, `character_not_found`, `route_not_found` |
//! | 405 | `method_not_allowed` |
//! | 409 | `version_conflict`, `illegal_action`, `illegal_episode_action`, `series_conflict`, `definition_unavailable` |
//! | 413 | `payload_too_large` |
//! | 415 | `unsupported_media_type` |
//! | 416 | `range_not_satisfiable` |
//! | 421 | `host_not_allowed` |
//! | 422 | `invalid_value` (with the field `path`), `invalid_screenplay` (with the `line`), `invalid_image`, `too_many_references`, `idempotency_key_reused` |
//! | 500 | `internal` (a generic message; the cause is logged, never returned), `corrupt_artifact` (a blob damaged on disk) |
//! | 503 | `shutting_down`, `too_many_connections` |
//! | 507 | `insufficient_storage` (the disk is full: nothing was stored; retry once space is freed) |
//!
//! A 409 on a node carries the instance's current `state` and `current_version` in its details,
//! so that a client can reload and decide again. The OpenAPI document lists the codes
//! (`ErrorCode`) and, for each route, the statuses it answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use showrunner_engine::{EngineError, InstanceKey, InstanceRecord, StoreError};
use utoipa::ToSchema;

use crate::code::ErrorCode;
use crate::views::state_name;

/// A failed request: its status, stable code, message for people, and details for programs.
/// Server errors keep their cause apart: it is logged when the response is made and never sent.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Value,
    cause: Option<String>,
}

impl ApiError {
    /// An error with a stable `code` (which has its status) and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: json!({}),
            cause: None,
        }
    }

    /// The same error with machine-readable details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// `400 bad_request`: a malformed id, query parameter or header.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `422 invalid_value`: a well-formed body whose field at `path` is refused.
    pub fn invalid_value(path: impl Into<String>, message: impl Into<String>) -> Self {
        let path = path.into();
        Self::new(ErrorCode::InvalidValue, message).with_details(json!({"path": path}))
    }

    /// `500 internal`: the client sees a generic message; `cause` is logged.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(ErrorCode::Internal, "internal server error")
        }
    }

    /// `507 insufficient_storage`: the disk is full; nothing was stored, and the same request
    /// succeeds once space is freed.
    pub fn insufficient_storage() -> Self {
        Self::new(
            ErrorCode::InsufficientStorage,
            "the server's disk is full: nothing was stored; try again once space is freed",
        )
    }

    /// `500 corrupt_artifact`: the stored blob does not match its hash (damaged on disk).
    pub fn corrupt_artifact(hash: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::CorruptArtifact,
            format!("artifact {hash} is damaged on the server's disk (its bytes do not match its hash)"),
        )
        .with_details(json!({"hash": hash.to_string()}))
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    /// A refusal of a node action (see [`EngineError::is_conflict`]) with the instance's
    /// current state and version in the details, when the instance could be read.
    pub(crate) fn conflict(error: EngineError, now: Option<&InstanceRecord>) -> Self {
        let mut api = Self::from(error);
        if let (Some(record), Value::Object(details)) = (now, &mut api.details) {
            details.insert("state".into(), json!(state_name(&record.state)));
            details.insert("current_version".into(), json!(record.current));
        }
        api
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status().as_u16(), self.code(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// The body of every failed request.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    error: ErrorObject,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorObject {
    #[schema(value_type = crate::openapi::ErrorCode)]
    code: &'static str,
    /// What went wrong, for people.
    message: String,
    /// What went wrong, for programs: the field's `path` of an invalid value, the instance's
    /// current `state` and `current_version` of a conflict, … (`{}` when there is nothing to add).
    #[schema(value_type = Object)]
    details: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            tracing::error!(status = self.status().as_u16(), code = self.code(), %cause, "request failed");
        }
        let status = self.status();
        let body = ErrorBody {
            error: ErrorObject {
                code: self.code.as_str(),
                message: self.message,
                details: self.details,
            },
        };
        let mut response = (status, Json(body)).into_response();
        // Passing conditions: retry in a second.
        if matches!(self.code, ErrorCode::EpisodeMoving | ErrorCode::StoreUnavailable) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

/// The node and item of an instance, for details.
fn instance_details(key: &InstanceKey) -> Value {
    json!({"node": key.node, "item": key.item})
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        let message = error.to_string();
        match error {
            EngineError::EpisodeNotFound(episode) => {
                Self::new(ErrorCode::EpisodeNotFound, message).with_details(json!({"episode": episode}))
            }
            EngineError::InstanceNotFound { episode, key } => {
                let mut details = instance_details(&key);
                details["episode"] = json!(episode);
                Self::new(ErrorCode::NodeNotFound, message).with_details(details)
            }
            EngineError::UnknownWorkflow(workflow) => {
                Self::new(ErrorCode::WorkflowNotFound, message).with_details(json!({"workflow": workflow}))
            }
            EngineError::UnknownVariant(workflow, _) => Self::invalid_value(
                "settings",
                format!("workflow `{workflow}` offers no per-item review or candidates ({message})"),
            ),
            EngineError::VersionConflict { key, given, current } => {
                let now = current.map_or_else(
                    || "it has no version yet".to_owned(),
                    |c| format!("the current one is {c}"),
                );
                let message = format!("version conflict on `{key}`: the action names version {given}; {now}");
                let mut details = instance_details(&key);
                details["given_version"] = json!(given);
                details["current_version"] = json!(current);
                Self::new(ErrorCode::VersionConflict, message).with_details(details)
            }
            EngineError::IllegalAction { action, key, state } => {
                let mut details = instance_details(&key);
                details["action"] = json!(action);
                details["state"] = json!(state.replace(' ', "_"));
                Self::new(ErrorCode::IllegalAction, message).with_details(details)
            }
            EngineError::IllegalEpisodeAction {
                action,
                episode,
                status,
            } => Self::new(ErrorCode::IllegalEpisodeAction, message)
                .with_details(json!({"episode": episode, "action": action, "status": status})),
            EngineError::InvalidValue { key, error } => {
                // The path is relative to the request body, where the value sits under `value`.
                let path = match error.path.as_str() {
                    "" => "value".to_owned(),
                    p if p.starts_with('[') => format!("value{p}"),
                    p => format!("value.{p}"),
                };
                let mut details = instance_details(&key);
                details["path"] = json!(path);
                details["reason"] = json!(error.to_string());
                Self::new(ErrorCode::InvalidValue, message).with_details(details)
            }
            EngineError::SeriesNotFound(series) => {
                Self::new(ErrorCode::SeriesNotFound, message).with_details(json!({"series": series}))
            }
            EngineError::SeriesConflict { series, given, current } => Self::new(ErrorCode::SeriesConflict, message)
                .with_details(json!({"series": series, "given_revision": given, "current_revision": current})),
            EngineError::InvalidInput(reason) => {
                Self::new(ErrorCode::InvalidValue, message).with_details(json!({"path": "", "reason": reason}))
            }
            EngineError::UnknownDefinition {
                episode,
                workflow,
                version,
            } => Self::new(ErrorCode::DefinitionUnavailable, message)
                .with_details(json!({"episode": episode, "workflow": workflow, "definition_version": version})),
            EngineError::MissingBlob(blob) => Self::new(ErrorCode::InvalidValue, message)
                .with_details(json!({"path": "", "reason": "the blob is not stored", "blob": blob})),
            EngineError::Store(error) => Self::from(error),
            EngineError::ShuttingDown => Self::new(ErrorCode::ShuttingDown, "the server is shutting down"),
            EngineError::Definition(_) => Self::internal(message),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Closed => Self::new(ErrorCode::ShuttingDown, "the server is shutting down"),
            StoreError::Full { .. } => Self {
                cause: Some(error.to_string()),
                ..Self::insufficient_storage()
            },
            StoreError::Unavailable(_) => Self {
                cause: Some(error.to_string()),
                ..Self::new(
                    ErrorCode::StoreUnavailable,
                    "the store cannot be reached now; retry in a moment (with the same Idempotency-Key, an action \
                     that took effect before the store went away is answered from its record)",
                )
            },
            // The episode changed hands while the request was being answered.
            StoreError::Elsewhere { .. } => Self::new(
                ErrorCode::EpisodeMoving,
                format!("{error}: it is served there now; retry in a moment"),
            ),
            other => Self::internal(other),
        }
    }
}

/// The answer for a path no route matches.
pub(crate) async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, format!("no route for {}", uri.path()))
}

/// The answer for a route that exists without this method.
pub(crate) async fn no_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use showrunner_engine::{EpisodeId, ValueError};

    #[test]
    fn engine_errors_map_to_stable_codes_and_statuses() {
        let key = InstanceKey::item("keyframes", "s1");
        let cases = [
            (
                EngineError::EpisodeNotFound(EpisodeId::generate()),
                404,
                "episode_not_found",
            ),
            (
                EngineError::VersionConflict {
                    key: key.clone(),
                    given: 1,
                    current: Some(2),
                },
                409,
                "version_conflict",
            ),
            (
                EngineError::IllegalAction {
                    action: "approve",
                    key: key.clone(),
                    state: "awaiting approval".into(),
                },
                409,
                "illegal_action",
            ),
            (EngineError::UnknownWorkflow("nope".into()), 404, "workflow_not_found"),
            (EngineError::ShuttingDown, 503, "shutting_down"),
            (
                EngineError::Store(StoreError::Backend("disk on fire".into())),
                500,
                "internal",
            ),
            (
                EngineError::Store(StoreError::Full {
                    context: "the journal".into(),
                }),
                507,
                "insufficient_storage",
            ),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status().as_u16(), api.code()), (status, code), "{api}");
        }
    }

    #[test]
    fn a_server_error_keeps_its_cause_out_of_the_message() {
        let api = ApiError::from(EngineError::Store(StoreError::Backend("secret path /data".into())));
        assert!(!api.message.contains("secret"));
        assert_eq!(api.cause.as_deref(), Some("storage backend: secret path /data"));
    }

    #[test]
    fn an_invalid_value_names_the_path_in_the_request_body() {
        let api = ApiError::from(EngineError::InvalidValue {
            key: InstanceKey::single("characters"),
            error: ValueError {
                path: "[1].dynamic_features.clothing".into(),
                reason: "invalid type: integer `42`, expected a string".into(),
            },
        });
        assert_eq!(api.status().as_u16(), 422);
        assert_eq!(api.details["path"], json!("value[1].dynamic_features.clothing"));
        let api = ApiError::from(EngineError::InvalidValue {
            key: InstanceKey::single("outline"),
            error: ValueError {
                path: "logline".into(),
                reason: "invalid type".into(),
            },
        });
        assert_eq!(api.details["path"], json!("value.logline"));
    }
}
