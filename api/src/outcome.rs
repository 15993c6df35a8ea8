//! The answers of the actions whose outcome the engine stores with their idempotency key: one
//! function renders an [`Outcome`] both for the first answer and for a replay, so that a retry
//! gets the same status, headers and body.

use axum::response::{IntoResponse, Response};
use showrunner_engine::Outcome;

use crate::envelope::{created, ok};
use crate::error::ApiError;
use crate::series::SeriesView;
use crate::views::{EpisodeView, InstanceView};

/// Marks an answer rendered from an outcome the engine committed with its idempotency key: the
/// idempotency layer does not store it again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Committed;

/// The answer to an action that produced `outcome`: `200` with the instance or the episode,
/// `201` with `Location` for a new episode or series.
pub(crate) fn answer(outcome: &Outcome) -> Result<Response, ApiError> {
    let mut response = match outcome {
        Outcome::Instance { record, .. } => ok(InstanceView::from(record)).into_response(),
        Outcome::Created { snapshot } => created(
            &crate::episodes::location(snapshot.header.id),
            EpisodeView::from(snapshot),
        ),
        Outcome::Episode { snapshot } => ok(EpisodeView::from(snapshot)).into_response(),
        Outcome::Series { record } => created(&crate::series::location(record.id), SeriesView::from(record)?),
    };
    response.extensions_mut().insert(Committed);
    Ok(response)
}
