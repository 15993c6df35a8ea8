//! `GET workflows` and `GET workflows/{name}`: the registered definitions with their DAG.

use axum::Json;
use axum::extract::{Path, State};

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::ApiError;
use crate::views::WorkflowView;

/// Every registered workflow's current definition, by name.
pub(crate) async fn list(State(state): State<AppState>) -> Json<Envelope<Vec<WorkflowView>>> {
    let defs = state.engine.workflows();
    ok(defs.iter().map(|def| WorkflowView::from(def.as_ref())).collect())
}

/// One workflow's current definition.
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Envelope<WorkflowView>>, ApiError> {
    let def = state
        .engine
        .workflow(&name)
        .ok_or(showrunner_engine::EngineError::UnknownWorkflow(name))?;
    Ok(ok(WorkflowView::from(def.as_ref())))
}
