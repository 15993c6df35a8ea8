//! Who may see what: a user key sees only the episodes and series of its owner; admin keys and
//! keyless servers see everything (see the `access` module for owners and callers).
//!
//! Another owner's episode or series answers exactly as one that does not exist
//! (`404 episode_not_found`, `404 series_not_found`), for every operation, so that a key cannot
//! learn that it exists. The checks run in the extractors of the episode and series routes
//! (`EpisodePath`, `NodePath`, `SeriesPath`), before any body is read.

use showrunner_engine::{EngineError, EpisodeId, SeriesId, SeriesRecord};

use crate::AppState;
use crate::access::Caller;
use crate::error::ApiError;

/// Refuses an episode the caller may not see, as if it did not exist.
pub(crate) fn check_episode(state: &AppState, caller: &Caller, id: EpisodeId) -> Result<(), ApiError> {
    if caller.sees_all() {
        return Ok(());
    }
    let header = state.engine.header(id)?;
    if caller.may_see(header.owner.as_deref()) {
        Ok(())
    } else {
        Err(EngineError::EpisodeNotFound(id).into())
    }
}

/// The series, when the caller may see it; otherwise `404 series_not_found`, as if it did not
/// exist.
pub(crate) fn series(state: &AppState, caller: &Caller, id: SeriesId) -> Result<SeriesRecord, ApiError> {
    let record = state.engine.series(id)?;
    if caller.may_see(record.owner.as_deref()) {
        Ok(record)
    } else {
        Err(EngineError::SeriesNotFound(id).into())
    }
}
