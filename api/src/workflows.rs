//! `GET workflows` and `GET workflows/{name}`: the registered definitions with their DAG.

use axum::Json;
use axum::extract::State;

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ErrorBody};
use crate::extract::PathParams;
use crate::views::WorkflowView;

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

/// One workflow's current definition.
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{name}",
    operation_id = "show_workflow",
    tag = "workflows",
    params(("name" = String, Path, description = "The workflow's name")),
    responses(
        (status = 200, description = "The workflow's current definition", body = Envelope<WorkflowView>),
        (status = 400, description = "`bad_request`: a malformed path", body = ErrorBody),
        (status = 404, description = "`workflow_not_found`", body = ErrorBody),
    ),
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    PathParams(name): PathParams<String>,
) -> Result<Json<Envelope<WorkflowView>>, ApiError> {
    let def = state
        .engine
        .workflow(&name)
        .ok_or(showrunner_engine::EngineError::UnknownWorkflow(name))?;
    Ok(ok(WorkflowView::from(def.as_ref())))
}
