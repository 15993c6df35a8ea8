//! Admin routes: `POST admin/gc` collects the blobs nothing references.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;

/// How old an unreferenced blob must be before it goes, unless asked otherwise. Safety does not
/// rest on it (the engine pins what runs, uploads and edits are about to commit, whatever the
/// grace); it keeps recent blobs around for clients that hold their hashes.
const DEFAULT_GRACE_S: u64 = 3600;

/// The longest grace accepted: a year.
const MAX_GRACE_S: u64 = 365 * 24 * 3600;

/// `POST admin/gc` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct GcQuery {
    /// Keep unreferenced blobs younger than this many seconds (default one hour; at most a year).
    #[param(minimum = 0, maximum = 31536000)]
    grace_s: Option<u64>,
}

/// What a collection did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GcReport {
    /// Blobs deleted.
    removed: usize,
    /// Blobs kept (live, or too young to judge).
    kept: usize,
    /// The grace period applied, in seconds.
    grace_s: u64,
}

/// Deletes the blobs that no stored version, episode input, series or recent upload (24 hours)
/// references, that no commit on its way names, and that are older than the grace period.
#[utoipa::path(
    post,
    path = "/api/v1/admin/gc",
    operation_id = "collect_garbage",
    tag = "admin",
    params(GcQuery),
    responses(
        (status = 200, description = "What was removed and kept", body = Envelope<GcReport>),
        (status = 400, description = "`bad_request`: a malformed query, a grace over a year", body = ErrorBody),
        (status = 500, description = "`internal`: the store failed", body = ErrorBody),
        (status = 503, description = "`shutting_down`", body = ErrorBody),
    ),
)]
pub(crate) async fn collect_garbage(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<GcQuery>,
) -> Result<Json<Envelope<GcReport>>, ApiError> {
    let grace_s = query.grace_s.unwrap_or(DEFAULT_GRACE_S);
    if grace_s > MAX_GRACE_S {
        return Err(ApiError::bad_request(format!(
            "grace_s must be at most {MAX_GRACE_S} (a year), not {grace_s}"
        )));
    }
    // On a store several processes share, never below its floor (the report says which applied).
    let grace = Duration::from_secs(grace_s).max(state.engine.min_collection_grace());
    let stats = state.engine.collect_garbage(grace).await?;
    Ok(ok(GcReport {
        removed: stats.removed,
        kept: stats.kept,
        grace_s: grace.as_secs(),
    }))
}
