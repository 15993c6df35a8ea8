//! API keys. With no key configured the API is open (a local studio on 127.0.0.1). Once any key
//! is configured, every route but `GET /api/v1/health` and the OpenAPI document
//! (`GET /api/v1/openapi.json`) needs one, as `Authorization: Bearer KEY`
//! or `X-Api-Key: KEY`: a missing or unknown key is `401 unauthorized`. Admin keys may do
//! everything; other keys may not use the admin routes — deletions, garbage collection and
//! `/metrics` — which answer `403 forbidden`.
//!
//! Keys are kept only as BLAKE3 hashes, compared in constant time, and never logged: not the
//! configured ones, not the ones presented.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything but the admin routes.
    User,
    /// Everything.
    Admin,
}

/// The configured keys, as hashes.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(blake3::Hash, Role)>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not even the hashes.
        f.debug_struct("ApiKeys").field("count", &self.keys.len()).finish()
    }
}

impl ApiKeys {
    /// No keys: the API is open.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds a key with its role; empty keys are ignored.
    pub fn with(mut self, key: &str, role: Role) -> Self {
        let key = key.trim();
        if !key.is_empty() {
            self.keys.push((blake3::hash(key.as_bytes()), role));
        }
        self
    }

    /// True when no key is configured.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// The role of a presented key; `None` when it is not configured. Every configured hash is
    /// compared (in constant time), so the answer's timing says nothing about which matched.
    fn role(&self, presented: &str) -> Option<Role> {
        let hash = blake3::hash(presented.as_bytes());
        let mut found = None;
        for (key, role) in &self.keys {
            // `blake3::Hash`'s equality is constant-time.
            if *key == hash && found != Some(Role::Admin) {
                found = Some(*role);
            }
        }
        found
    }
}

/// The key a request presents, from `Authorization: Bearer` or `X-Api-Key`.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    bearer
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

/// True for the routes only admin keys may use: deletions, garbage collection and metrics.
pub(crate) fn admin_only(method: &Method, path: &str) -> bool {
    method == Method::DELETE || path == "/metrics" || path.starts_with("/api/v1/admin/")
}

/// True for the paths open without a key: health, and the OpenAPI document that says how to
/// present one.
pub(crate) fn open_path(path: &str) -> bool {
    path == "/api/v1/health" || path == crate::openapi::PATH
}

/// The middleware.
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.keys.is_open() {
        return next.run(request).await;
    }
    let path = request.uri().path();
    if open_path(path) {
        return next.run(request).await;
    }
    let role = match presented(request.headers()) {
        None => {
            return unauthorized("this API needs a key: send `Authorization: Bearer KEY` or `X-Api-Key: KEY`");
        }
        Some(key) => match state.keys.role(key) {
            None => return unauthorized("the API key is not valid"),
            Some(role) => role,
        },
    };
    if role != Role::Admin && admin_only(request.method(), path) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{} {path} needs an admin key", request.method()),
        )
        .with_details(json!({"role": "user", "needs": "admin"}))
        .into_response();
    }
    next.run(request).await
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_roles_and_unknown_keys_none() {
        let keys = ApiKeys::none()
            .with("user-key", Role::User)
            .with(" admin-key ", Role::Admin)
            .with("", Role::Admin);
        assert_eq!(keys.role("user-key"), Some(Role::User));
        assert_eq!(keys.role("admin-key"), Some(Role::Admin));
        assert_eq!(keys.role("other"), None);
        assert_eq!(keys.role(""), None);
        assert!(!format!("{keys:?}").contains("key-"));
    }

    #[test]
    fn deletions_gc_and_metrics_are_admin_routes() {
        assert!(admin_only(&Method::DELETE, "/api/v1/episodes/x"));
        assert!(admin_only(&Method::GET, "/metrics"));
        assert!(admin_only(&Method::POST, "/api/v1/admin/gc"));
        assert!(!admin_only(&Method::POST, "/api/v1/episodes/x/cancel"));
        assert!(!admin_only(&Method::GET, "/api/v1/episodes"));
    }

    #[test]
    fn health_and_the_openapi_document_are_open() {
        assert!(open_path("/api/v1/health"));
        assert!(open_path("/api/v1/openapi.json"));
        assert!(!open_path("/api/v1/episodes"));
        assert!(!open_path("/api/v1/openapi.json/x"));
        assert!(!open_path("/metrics"));
    }
}
