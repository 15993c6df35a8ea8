//! `GET workflows` and `GET workflows/{name}`: the registered definitions with their DAG.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PathParams, QueryParams};
use crate::views::WorkflowView;

/// `GET workflows/{name}` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowQuery {
    /// A definition version (an episode's `definition_version`): that definition, when it is
    /// registered, rather than the current one.
    version: Option<String>,
}

/// Every registered workflow's current definition, by name.
#[utoipa::path(
    get,
    path = "/api/v1/workflows",
    operation_id = "list_workflows",
    tag = "workflows",
    responses((status = 200, description = "Every registered workflow, by name", body = Envelope<Vec<WorkflowView>>)),
)]
pub(crate) async fn list(State(state): State<AppState>) -> Json<Envelope<Vec<WorkflowView>>> {
    let defs = state.engine.workflows();
    ok(defs.iter().map(|def| WorkflowView::from(def.as_ref())).collect())
}

/// One workflow's current definition, or the one at a version (an episode's, whose gates may
/// differ: a variant reviews each item).
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{name}",
    operation_id = "show_workflow",
    tag = "workflows",
    params(("name" = String, Path, description = "The workflow's name"), ShowQuery),
    responses(
        (status = 200, description = "The workflow's definition", body = Envelope<WorkflowView>),
        (status = 400, description = "`bad_request`: a malformed path or an unknown parameter", body = ErrorBody),
        (status = 404, description = "`workflow_not_found`: no such workflow, or not at that version", body = ErrorBody),
    ),
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
    QueryParams(query): QueryParams<ShowQuery>,
) -> Result<Json<Envelope<WorkflowView>>, ApiError> {
    let def = match &query.version {
        Some(version) => state.engine.workflow_version(&name, version),
        None => state.engine.workflow(&name),
    };
    let def = def.ok_or(showrunner_engine::EngineError::UnknownWorkflow(name))?;
    Ok(ok(WorkflowView::from(def.as_ref())))
}
