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
use crate::code::ErrorCode;
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
                ApiError::new(ErrorCode::PayloadTooLarge, rejection.body_text())
            } else {
                ApiError::new(ErrorCode::BadRequest, rejection.body_text())
            }
        })?;
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(ErrorCode::BadJson, format!("the body is not JSON: {e}"))
                .with_details(json!({"line": e.line(), "column": e.column()}))
        })?;
        integral(&mut value);
        serde_path_to_error::deserialize(value).map(JsonBody).map_err(|e| {
            let path = e.path().to_string();
            ApiError::invalid_value(path.clone(), format!("at `{path}`: {}", e.inner()))
        })
    }
}

/// Writes every number with no fractional part as an integer: JSON Schema's `integer` takes
/// `3.0`, as JSON itself does not tell `3.0` from `3`, but serde's integer types do not.
fn integral(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0) else {
                return;
            };
            // The bounds are powers of two, exact as f64; within them the cast is exact.
            if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
                *value = Value::from(f as u64);
            } else if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral),
        Value::Object(fields) => fields.values_mut().for_each(integral),
        _ => {}
    }
}

/// The path's parameters, by name.
async fn params<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map(|Path(p)| p)
        .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
}

/// True when `s` is a ULID as the ids are written and the document's `Ulid` pattern says: 26
/// characters of upper-case Crockford base 32 (the parser also takes lower case and wraps
/// overlong values, which the document does not allow).
pub(crate) fn is_ulid_text(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'L' | b'O' | b'U')))
}

/// Parses a ULID-based id (`what` names it in the error); anything but a ULID as
/// [`is_ulid_text`] says is `400 bad_request`.
pub(crate) fn parse_ulid<T: std::str::FromStr<Err: std::fmt::Display>>(s: &str, what: &str) -> Result<T, ApiError> {
    let refused =
        |why: String| ApiError::bad_request(format!("`{s}` is not {what}: {why}")).with_details(json!({"id": s}));
    if !is_ulid_text(s) {
        return Err(refused("ids are 26 characters of upper-case Crockford base 32".into()));
    }
    s.parse().map_err(|e: T::Err| refused(e.to_string()))
}

/// Parses an episode id; anything but a ULID is `400 bad_request`.
pub(crate) fn episode_id(s: &str) -> Result<EpisodeId, ApiError> {
    parse_ulid(s, "an episode id")
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
