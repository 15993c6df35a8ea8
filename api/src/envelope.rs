//! The success envelope: `{"data": …, "meta": …}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// A successful answer: the resource in `data`, and in `meta` what is about the answer rather
/// than the resource (pagination).
#[derive(Debug, Serialize)]
pub(crate) struct Envelope<T> {
    data: T,
    meta: Map<String, Value>,
}

/// `200 OK` with `data` and empty `meta`.
pub(crate) fn ok<T: Serialize>(data: T) -> Json<Envelope<T>> {
    Json(Envelope { data, meta: Map::new() })
}

/// `200 OK` with `data` and `meta`.
pub(crate) fn ok_with_meta<T: Serialize>(data: T, meta: Map<String, Value>) -> Json<Envelope<T>> {
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
