//! Extractors whose rejections are [`ApiError`]s: a JSON body (400 when it is not JSON, 422 with
//! the field path when it does not fit), the episode and node named by the path (of an episode
//! the caller may see), and the query.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::json;
use showrunner_engine::{EpisodeId, InstanceKey};

use crate::access::Caller;
use crate::error::ApiError;
use crate::{AppState, owners};

/// A JSON request body of type `T`. Syntax errors are `400 bad_json` with the line and column;
/// a body that parses but does not fit `T` is `422 invalid_value` with the field's path.
/// The content type is checked before, by the `site` middleware (`415` unless JSON).
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    rejection.body_text(),
                )
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", rejection.body_text())
            }
        })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_json",
                format!("the body is not JSON: {e}"),
            )
            .with_details(json!({"line": e.line(), "column": e.column()}))
        })?;
        serde_path_to_error::deserialize(value).map(JsonBody).map_err(|e| {
            let path = e.path().to_string();
            ApiError::invalid_value(path.clone(), format!("at `{path}`: {}", e.inner()))
        })
    }
}

/// The path's parameters, by name.
async fn params<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map(|Path(p)| p)
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

/// Parses an episode id; anything but a ULID is `400 bad_request`.
pub(crate) fn episode_id(s: &str) -> Result<EpisodeId, ApiError> {
    s.parse()
        .map_err(|e| ApiError::bad_request(format!("`{s}` is not an episode id: {e}")).with_details(json!({"id": s})))
}

/// Path parameters of type `T`. axum's own `Path` answers a parameter that is not UTF-8 once
/// percent-decoded with a plain-text `400`; this answers `400 bad_request` in the API's format.
pub(crate) struct PathParams<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(p)| PathParams(p))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// The episode named by `{id}`, one the caller may see (another owner's is `404
/// episode_not_found`, as if it did not exist; see the `owners` module).
pub(crate) struct EpisodePath(pub(crate) EpisodeId);

impl FromRequestParts<AppState> for EpisodePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let params = params(parts, state).await?;
        let id = params
            .get("id")
            .ok_or_else(|| ApiError::internal("a route without `{id}` uses EpisodePath"))?;
        let id = episode_id(id)?;
        let caller = Caller::from_request_parts(parts, state).await?;
        owners::check_episode(state, &caller, id)?;
        Ok(EpisodePath(id))
    }
}

/// The node instance named by `{id}`, `{key}` and, for an item of a map node, `{item}`, of an
/// episode the caller may see (as [`EpisodePath`]).
pub(crate) struct NodePath(pub(crate) EpisodeId, pub(crate) InstanceKey);

impl FromRequestParts<AppState> for NodePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let mut params = params(parts, state).await?;
        let (Some(id), Some(node)) = (params.remove("id"), params.remove("key")) else {
            return Err(ApiError::internal("a route without `{id}` and `{key}` uses NodePath"));
        };
        let key = InstanceKey {
            node,
            item: params.remove("item"),
        };
        let id = episode_id(&id)?;
        let caller = Caller::from_request_parts(parts, state).await?;
        owners::check_episode(state, &caller, id)?;
        Ok(NodePath(id, key))
    }
}

/// Query parameters of type `T`; a malformed query is `400 bad_request`.
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(q)| QueryParams(q))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}
