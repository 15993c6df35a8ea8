//! `GET health`: whether the server answers and its store reads.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use showrunner_engine::EpisodeStatus;

use crate::AppState;
use crate::envelope::{Envelope, ok};

/// `200` with `status: ok` when the store answers a read of its status index; `503` with
/// `status: degraded` when it does not (the cause is logged, not returned).
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Envelope<Value>>) {
    let store = match state.engine.episodes(EpisodeStatus::Active) {
        Ok(_) => "ok",
        Err(e) => {
            tracing::error!(error = %e, "health: the store does not answer");
            "error"
        }
    };
    let (status, overall) = if store == "ok" {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "degraded")
    };
    let shutting_down = state.shutdown.is_cancelled();
    (
        status,
        ok(json!({
            "status": overall,
            "version": env!("CARGO_PKG_VERSION"),
            "shutting_down": shutting_down,
            "components": {"store": store, "workflows": state.engine.workflows().len()},
        })),
    )
}
