//! `GET health`: whether the server answers and its store reads.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use showrunner_engine::EpisodeStatus;
use utoipa::ToSchema;

use crate::AppState;
use crate::envelope::{Envelope, ok};

/// The server's health.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    status: Overall,
    /// The server's version.
    version: &'static str,
    /// True once the server has started shutting down.
    shutting_down: bool,
    components: Components,
}

/// The health of each part.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = HealthComponents)]
pub(crate) struct Components {
    store: StoreHealth,
    /// How many workflows are registered.
    workflows: usize,
}

/// The server's state as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = HealthStatus)]
pub(crate) enum Overall {
    /// Everything answers.
    Ok,
    /// The store does not answer.
    Degraded,
}

/// The store's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StoreHealth {
    /// A read of the status index answers.
    Ok,
    /// A read of the status index fails.
    Error,
}

/// `200` with `status: ok` when the store answers a read of its status index; `503` with
/// `status: degraded` when it does not (the cause is logged, not returned).
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The server and its store answer", body = Envelope<Health>),
        (status = 503, description = "The store does not answer: `status` is `degraded`", body = Envelope<Health>),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<Envelope<Health>>) {
    let store = match state.engine.episodes(EpisodeStatus::Active) {
        Ok(_) => StoreHealth::Ok,
        Err(e) => {
            tracing::error!(error = %e, "health: the store does not answer");
            StoreHealth::Error
        }
    };
    let (status, overall) = match store {
        StoreHealth::Ok => (StatusCode::OK, Overall::Ok),
        StoreHealth::Error => (StatusCode::SERVICE_UNAVAILABLE, Overall::Degraded),
    };
    (
        status,
        ok(Health {
            status: overall,
            version: env!("CARGO_PKG_VERSION"),
            shutting_down: state.shutdown.is_cancelled(),
            components: Components {
                store,
                workflows: state.engine.workflows().len(),
            },
        }),
    )
}
