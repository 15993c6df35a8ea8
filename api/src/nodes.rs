//! One node instance: its state and versions, and the actions a person takes at its gate.
//! Every action names the version it acts on; a stale one is a `409` whose details carry the
//! instance's current state and version.

use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use showrunner_engine::{Command, EpisodeId, IdempotencyToken, InstanceKey};
use utoipa::{IntoParams, ToSchema};

use crate::access::Caller;
use crate::code::ErrorCode;
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, NodePath, QueryParams};
use crate::views::{InstanceView, NodeDetail};
use crate::{AppState, limits, openapi, owners};

/// `GET …/nodes/{key}` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// The version whose value to show; the current one when absent.
    #[param(minimum = 1)]
    version: Option<u32>,
}

/// The instance, its versions, and the value of the current (or the asked) version.
#[utoipa::path(
    get,
    path = "/api/v1/episodes/{id}/nodes/{key}",
    operation_id = "show_node",
    tag = "nodes",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("key" = String, Path, description = "The node's key"),
        ShowQuery,
    ),
    responses(
        (status = 200, description = "The instance, its versions and one version's value", body = Envelope<NodeDetail>),
        (status = 400, description = "`bad_request`: a malformed id or query", body = ErrorBody),
        (status = 404, description = "`episode_not_found`, `node_not_found`, `version_not_found`", body = ErrorBody),
        (status = 409, description = "`definition_unavailable`: the episode's workflow definition is not registered", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    QueryParams(query): QueryParams<ShowQuery>,
) -> Result<Json<Envelope<NodeDetail>>, ApiError> {
    let record = state.engine.instance(id, &key).await?;
    if let Some(n) = query.version
        && record.version(n).is_none()
    {
        return Err(
            ApiError::new(ErrorCode::VersionNotFound, format!("`{key}` has no version {n}"))
                .with_details(json!({"node": key.node, "item": key.item, "version": n})),
        );
    }
    let shown = query.version.or(record.current);
    let value = shown.map(|n| state.engine.version_value(id, &key, n)).transpose()?;
    Ok(ok(NodeDetail::new(&record, shown, value)))
}

/// Runs an action, with the request's idempotency key (if any) in its commit; answers with the
/// instance as the action left it, or, when the engine refuses it as stale or illegal, a `409`
/// with the state it refused it in.
async fn act(
    state: &AppState,
    id: EpisodeId,
    key: &InstanceKey,
    command: Command,
    token: Option<Extension<IdempotencyToken>>,
) -> Result<Response, ApiError> {
    match state.engine.act(id, command, token.map(|t| t.0)).await {
        Ok(outcome) => crate::outcome::answer(&outcome),
        Err(e) if e.is_conflict() => {
            let now = state.engine.instance(id, key).await.ok();
            Err(ApiError::conflict(e, now.as_ref()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The body of `approve`, `select` and `revert`: the version acted on.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionBody {
    /// The version acted on.
    #[schema(minimum = 0)]
    version: u32,
}

/// The body of `regenerate`: the current version, and what to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegenerateBody {
    /// The current version; left out (or `null`) for an instance with no version yet, such as
    /// one whose first run failed.
    #[serde(default)]
    #[schema(minimum = 0)]
    version: Option<u32>,
    /// What to change, at most 2000 characters.
    #[serde(default)]
    feedback: Option<String>,
}

/// The body of `edit`: the version the edit was made from (`null` only for an instance with no
/// version yet), and the new value, which must fit the node's output type.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditBody {
    /// The version the edit was made from.
    #[schema(minimum = 0)]
    base_version: Option<u32>,
    /// The new value; it must fit the node's output type. Each string in it has at most 20,000
    /// characters, each list at most 1,000 items, and it nests at most 16 levels deep.
    value: Value,
}

/// The errors every node action can answer, besides its own `422`: one description for the
/// five actions' documents.
pub(crate) struct ActionErrors;

impl utoipa::IntoResponses for ActionErrors {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        [
            (400, "`bad_json`: the body is not JSON; `bad_request`: a malformed id"),
            (404, "`episode_not_found`, `node_not_found`"),
            (
                409,
                "`version_conflict`: the version named is not the current one; `illegal_action`: the instance's \
                 state does not allow it; both with the instance's `state` and `current_version` in the details. \
                 `definition_unavailable`",
            ),
            (413, "`payload_too_large`"),
            (500, "`internal`: the store failed"),
            (503, "`shutting_down`"),
        ]
        .into_iter()
        .map(|(status, description)| {
            let body = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            let response = ResponseBuilder::new()
                .description(description)
                .content("application/json", body)
                .build();
            (status.to_string(), response.into())
        })
        .collect()
    }
}

/// Approves the version waiting at the gate.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/nodes/{key}/approve",
    operation_id = "approve_node",
    tag = "nodes",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("key" = String, Path, description = "The node's key"),
    ),
    request_body = VersionBody,
    responses(
        ActionErrors,
        (status = 200, description = "The instance after the approval", body = Envelope<InstanceView>),
        (status = 422, description = "`invalid_value` (with the field's `path`): a body that does not fit", body = ErrorBody),
    ),
)]
pub(crate) async fn approve(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    token: Option<Extension<IdempotencyToken>>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Response, ApiError> {
    let command = Command::Approve {
        key: key.clone(),
        version: body.version,
    };
    act(&state, id, &key, command, token).await
}

/// Runs the instance again, with feedback.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/nodes/{key}/regenerate",
    operation_id = "regenerate_node",
    tag = "nodes",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("key" = String, Path, description = "The node's key"),
    ),
    request_body = RegenerateBody,
    responses(
        ActionErrors,
        (status = 200, description = "The instance, queued to run again", body = Envelope<InstanceView>),
        (status = 422, description = "`invalid_value` (with the field's `path`): a body that does not fit, feedback over 2000 characters", body = ErrorBody),
    ),
)]
pub(crate) async fn regenerate(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    token: Option<Extension<IdempotencyToken>>,
    JsonBody(body): JsonBody<RegenerateBody>,
) -> Result<Response, ApiError> {
    if let Some(feedback) = &body.feedback {
        limits::text("feedback", feedback, limits::FEEDBACK)?;
    }
    let command = Command::Regenerate {
        key: key.clone(),
        feedback: body.feedback.filter(|f| !f.trim().is_empty()),
        version: body.version,
    };
    act(&state, id, &key, command, token).await
}

/// Stores a person's version and goes on with it.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/nodes/{key}/edit",
    operation_id = "edit_node",
    tag = "nodes",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("key" = String, Path, description = "The node's key"),
    ),
    request_body = EditBody,
    responses(
        ActionErrors,
        (status = 200, description = "The instance with the person's version, approved", body = Envelope<InstanceView>),
        (status = 422, description = "`invalid_value` (with the field's `path`, under `value`): a body or a value that does not fit, a string, list or nesting in the value over its bound", body = ErrorBody),
    ),
)]
pub(crate) async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    NodePath(id, key): NodePath,
    token: Option<Extension<IdempotencyToken>>,
    JsonBody(body): JsonBody<EditBody>,
) -> Result<Response, ApiError> {
    limits::value("value", &body.value)?;
    if !caller.sees_all() {
        let known = state.engine.episode_blobs(id)?;
        owners::check_references(&state, &caller, "value", &body.value, &known)?;
    }
    let command = Command::Edit {
        key: key.clone(),
        value: body.value,
        base_version: body.base_version,
    };
    act(&state, id, &key, command, token).await
}

/// Picks one candidate of a candidates gate.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/nodes/{key}/select",
    operation_id = "select_node",
    tag = "nodes",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("key" = String, Path, description = "The node's key"),
    ),
    request_body = VersionBody,
    responses(
        ActionErrors,
        (status = 200, description = "The instance with the candidate picked, approved", body = Envelope<InstanceView>),
        (status = 422, description = "`invalid_value` (with the field's `path`): a body that does not fit", body = ErrorBody),
    ),
)]
pub(crate) async fn select(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    token: Option<Extension<IdempotencyToken>>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Response, ApiError> {
    let command = Command::Select {
        key: key.clone(),
        version: body.version,
    };
    act(&state, id, &key, command, token).await
}

/// Moves the current pointer back to an older version and approves it.
#[utoipa::path(
    post,
    path = "/api/v1/episodes/{id}/nodes/{key}/revert",
    operation_id = "revert_node",
    tag = "nodes",
    params(
        ("id" = openapi::Ulid, Path, description = "The episode's id"),
        ("key" = String, Path, description = "The node's key"),
    ),
    request_body = VersionBody,
    responses(
        ActionErrors,
        (status = 200, description = "The instance at the older version, approved", body = Envelope<InstanceView>),
        (status = 422, description = "`invalid_value` (with the field's `path`): a body that does not fit", body = ErrorBody),
    ),
)]
pub(crate) async fn revert(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    token: Option<Extension<IdempotencyToken>>,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Response, ApiError> {
    let command = Command::Revert {
        key: key.clone(),
        version: body.version,
    };
    act(&state, id, &key, command, token).await
}
