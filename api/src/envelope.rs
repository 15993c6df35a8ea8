//! The success envelope: `{"data": …, "meta": …}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A successful answer: the resource in `data`, and in `meta` what is about the answer rather
/// than the resource (pagination); `meta` is `{}` unless the route says otherwise.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Envelope<T, M = NoMeta> {
    data: T,
    meta: M,
}

/// The `meta` of an answer that has nothing to say about itself: `{}`.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoMeta {}

/// `200 OK` with `data` and empty `meta`.
pub(crate) fn ok<T: Serialize>(data: T) -> Json<Envelope<T>> {
    Json(Envelope { data, meta: NoMeta {} })
}

/// `200 OK` with `data` and `meta`.
pub(crate) fn ok_with_meta<T: Serialize, M: Serialize>(data: T, meta: M) -> Json<Envelope<T, M>> {
    Json(Envelope { data, meta })
}

/// `201 Created` with `data`, and `Location` pointing at the new resource.
pub(crate) fn created<T: Serialize>(location: &str, data: T) -> Response {
    let mut response = (StatusCode::CREATED, ok(data)).into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
