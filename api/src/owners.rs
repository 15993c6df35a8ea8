//! Who may see what: a user key sees only the episodes and series of its owner; admin keys and
//! keyless servers see everything (see the `access` module for owners and callers).
//!
//! Another owner's episode or series answers exactly as one that does not exist
//! (`404 episode_not_found`, `404 series_not_found`), for every operation, so that a key cannot
//! learn that it exists. The checks run in the extractors of the episode and series routes
//! (`EpisodePath`, `NodePath`, `SeriesPath`), before any body is read.
//!
//! A value a user key sends (an episode's brief, a series, an edit) may name a blob
//! (`blob:<hash>`) only if its owner uploaded it (while the upload record is kept) or the
//! episode or series it changes already references it ([`check_references`]): otherwise naming a
//! hash would make another owner's artifact readable through one's own episode.

use std::collections::HashSet;

use serde_json::Value;
use showrunner_engine::{BlobRef, ContentHash, EngineError, EpisodeId, SeriesId, SeriesRecord};

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

/// Refuses the first blob reference in `value` (sent at `path` of the request body) that the
/// caller may not use: for a user key, one that its owner did not upload and that `known` (what
/// the episode or series being changed references already) does not hold. Another owner's
/// blob and one that is not stored get the same `422 invalid_value`. Admin keys and keyless
/// servers may name any blob (the engine still refuses one that is not stored).
pub(crate) fn check_references(
    state: &AppState,
    caller: &Caller,
    path: &str,
    value: &Value,
    known: &HashSet<ContentHash>,
) -> Result<(), ApiError> {
    if caller.sees_all() {
        return Ok(());
    }
    let mut found = Vec::new();
    references(value, path.to_owned(), &mut found);
    for (at, hash) in found {
        if known.contains(&hash) {
            continue;
        }
        let uploaded = state
            .engine
            .uploads_of(hash)?
            .iter()
            .any(|upload| caller.may_see(upload.owner.as_deref()));
        if !uploaded {
            return Err(ApiError::invalid_value(
                at.clone(),
                format!("{at}: blob:{hash} is not an image this key's owner uploaded (POST /api/v1/uploads first)"),
            ));
        }
    }
    Ok(())
}

/// Every blob reference in `value`, with its path (`characters[0].reference_images[1]`).
fn references(value: &Value, path: String, found: &mut Vec<(String, ContentHash)>) {
    match value {
        Value::String(text) => {
            if let Some(blob) = BlobRef::parse(text) {
                found.push((path, blob.0));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                references(item, format!("{path}[{i}]"), found);
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields {
                let at = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                references(field, at, found);
            }
        }
        _ => {}
    }
}

/// As [`check_references`] for free text (a chat message, which the conversation may turn into
/// an edit): every `blob:<64 hex digits>` inside it must be one the caller may name.
pub(crate) fn check_text_references(
    state: &AppState,
    caller: &Caller,
    path: &str,
    text: &str,
    known: &HashSet<ContentHash>,
) -> Result<(), ApiError> {
    if caller.sees_all() {
        return Ok(());
    }
    for (at, _) in text.match_indices("blob:") {
        if let Some(candidate) = text.get(at..at + 69).filter(|c| BlobRef::parse(c).is_some()) {
            check_references(state, caller, path, &Value::String(candidate.to_owned()), known)?;
        }
    }
    Ok(())
}
