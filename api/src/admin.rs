//! Admin routes: `POST admin/gc` collects the blobs nothing references.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::envelope::{Envelope, ok};
use crate::error::ApiError;
use crate::extract::QueryParams;

/// How old an unreferenced blob must be before it goes, unless asked otherwise: long enough for
/// any run in flight to commit the version that references what it wrote.
const DEFAULT_GRACE_S: u64 = 3600;

/// `POST admin/gc` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GcQuery {
    /// Keep unreferenced blobs younger than this many seconds (default one hour).
    grace_s: Option<u64>,
}

/// Deletes the blobs no stored version and no series references, older than the grace period.
pub(crate) async fn collect_garbage(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<GcQuery>,
) -> Result<Json<Envelope<Value>>, ApiError> {
    let grace = Duration::from_secs(query.grace_s.unwrap_or(DEFAULT_GRACE_S));
    let stats = state.engine.collect_garbage(grace).await?;
    Ok(ok(
        json!({"removed": stats.removed, "kept": stats.kept, "grace_s": grace.as_secs()}),
    ))
}
