//! One node instance: its state and versions, and the actions a person takes at its gate.
//! Every action names the version it acts on; a stale one is a `409` whose details carry the
//! instance's current state and version.

use std::future::Future;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use showrunner_engine::{EngineError, EpisodeId, InstanceKey};

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::ApiError;
use crate::extract::{JsonBody, NodePath, QueryParams};
use crate::views::{InstanceView, NodeDetail};

/// `GET …/nodes/{key}` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShowQuery {
    /// The version whose value to show; the current one when absent.
    version: Option<u32>,
}

/// The instance, its versions, and the value of the current (or the asked) version.
pub(crate) async fn show(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    QueryParams(query): QueryParams<ShowQuery>,
) -> Result<Json<Envelope<NodeDetail>>, ApiError> {
    let record = state.engine.instance(id, &key).await?;
    if let Some(n) = query.version {
        if record.version(n).is_none() {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "version_not_found",
                format!("`{key}` has no version {n}"),
            )
            .with_details(json!({"node": key.node, "item": key.item, "version": n})));
        }
    }
    let shown = query.version.or(record.current);
    let value = shown.map(|n| state.engine.version_value(id, &key, n)).transpose()?;
    Ok(ok(NodeDetail::new(&record, shown, value)))
}

/// Runs an action; answers with the instance's state after it, or, when the engine refuses it
/// as stale or illegal, a `409` with the state it refused it in.
async fn act(
    state: &AppState,
    id: EpisodeId,
    key: &InstanceKey,
    action: impl Future<Output = Result<(), EngineError>>,
) -> Result<Json<Envelope<InstanceView>>, ApiError> {
    match action.await {
        Ok(()) => {}
        Err(e) if e.is_conflict() => {
            let now = state.engine.instance(id, key).await.ok();
            return Err(ApiError::conflict(e, now.as_ref()));
        }
        Err(e) => return Err(e.into()),
    }
    let record = state.engine.instance(id, key).await?;
    Ok(ok(InstanceView::from(&record)))
}

/// The body of `approve`, `select` and `revert`: the version acted on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VersionBody {
    version: u32,
}

/// The body of `regenerate`: the current version, and what to change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegenerateBody {
    version: u32,
    #[serde(default)]
    feedback: Option<String>,
}

/// The body of `edit`: the version the edit was made from (`null` only for an instance with no
/// version yet), and the new value, which must fit the node's output type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditBody {
    base_version: Option<u32>,
    value: Value,
}

/// Approves the version waiting at the gate.
pub(crate) async fn approve(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Envelope<InstanceView>>, ApiError> {
    act(&state, id, &key, state.engine.approve(id, key.clone(), body.version)).await
}

/// Runs the instance again, with feedback.
pub(crate) async fn regenerate(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    JsonBody(body): JsonBody<RegenerateBody>,
) -> Result<Json<Envelope<InstanceView>>, ApiError> {
    let feedback = body.feedback.filter(|f| !f.trim().is_empty());
    let action = state.engine.regenerate(id, key.clone(), feedback, Some(body.version));
    act(&state, id, &key, action).await
}

/// Stores a person's version and goes on with it.
pub(crate) async fn edit(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    JsonBody(body): JsonBody<EditBody>,
) -> Result<Json<Envelope<InstanceView>>, ApiError> {
    let action = state.engine.edit(id, key.clone(), body.value, body.base_version);
    act(&state, id, &key, action).await
}

/// Picks one candidate of a candidates gate.
pub(crate) async fn select(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Envelope<InstanceView>>, ApiError> {
    act(&state, id, &key, state.engine.select(id, key.clone(), body.version)).await
}

/// Moves the current pointer back to an older version and approves it.
pub(crate) async fn revert(
    State(state): State<AppState>,
    NodePath(id, key): NodePath,
    JsonBody(body): JsonBody<VersionBody>,
) -> Result<Json<Envelope<InstanceView>>, ApiError> {
    act(&state, id, &key, state.engine.revert(id, key.clone(), body.version)).await
}
