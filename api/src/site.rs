//! Who may talk to the API from a browser: the `Host` names it answers for, and the origins
//! whose pages may change state. A keyless server on 127.0.0.1 is exactly what a malicious page
//! in the user's browser can reach, so the middleware here refuses what only such a page sends:
//!
//! - **A foreign `Host`** (DNS rebinding: `evil.example` made to resolve to 127.0.0.1, so that its
//!   page reads and writes the API as its own origin) is `421 host_not_allowed`, on every route,
//!   reads included. Answered are: `localhost`, any IP literal (`127.0.0.1`, `[::1]`, the LAN
//!   address: no DNS name is involved, so nothing can rebind), requests without a `Host` (HTTP/1.0
//!   tools), and the configured names ([`Site::hosts`]; `*` for any). With API keys configured
//!   every name is answered, since a rebinding page cannot present a key: browsers attach none
//!   by themselves. The port is not compared: a tunnel or port forward changes it, and
//!   rebinding needs a foreign name, which is what is checked.
//! - **A cross-origin state change**: a `POST`, `PUT`, `PATCH` or `DELETE` whose `Origin` is not
//!   the server's own (the scheme and `Host` the request came to) nor a configured origin
//!   ([`Site::origins`]), or which comes without `Origin` but with `Sec-Fetch-Site` other than
//!   `same-origin` or `none`, is `403 cross_origin_refused`. Requests without either header
//!   (curl, scripts, other servers) pass: only browsers send them, and they always do.
//! - **A JSON body without a JSON type**: a body sent to a route that takes JSON must say
//!   `Content-Type: application/json` (or `…+json`), else `415 unsupported_media_type`. A form
//!   or `text/plain` body is what a page may send cross-site without asking first (a "simple"
//!   request). The routes that take image bytes (uploads and character references) check their
//!   own types.
//!
//! For the configured origins the server also answers CORS: preflight `OPTIONS` requests, and
//! `Access-Control-Allow-Origin` on answers, so that a UI served from elsewhere can use the API.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use crate::code::ErrorCode;
use crate::error::ApiError;

/// The `Host` names and origins the API accepts beyond its own.
#[derive(Debug, Clone, Default)]
pub struct Site {
    hosts: Vec<String>,
    origins: Vec<String>,
}

/// A configured origin that is not `scheme://host[:port]`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an origin: it must be `http://` or `https://`, a host and perhaps a port, no path")]
pub struct BadOrigin(String);

impl Site {
    /// Only the server's own names and origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers requests whose `Host` is one of `names` (compared without the port, ignoring
    /// case); `*` answers any.
    pub fn hosts(mut self, names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        // A port given with a name is dropped: names are compared without one.
        let name = |n: &str| match Authority::from_str(n.trim()) {
            Ok(authority) if n.trim() != "*" => authority.host().to_owned(),
            _ => n.trim().to_owned(),
        };
        self.hosts = names
            .into_iter()
            .map(|n| name(n.as_ref()).trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        self
    }

    /// Lets pages from `origins` (`https://studio.example.com`, `http://localhost:5173`) change
    /// state, and answers them CORS.
    pub fn origins(mut self, origins: impl IntoIterator<Item = impl AsRef<str>>) -> Result<Self, BadOrigin> {
        self.origins = origins
            .into_iter()
            .map(|o| normalise_origin(o.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// True when a request with this `Host` is answered.
    fn answers_host(&self, host: &str, keyed: bool) -> bool {
        if keyed || self.hosts.iter().any(|h| h == "*") {
            return true;
        }
        let Ok(authority) = Authority::from_str(host) else {
            return false;
        };
        let name = authority.host().trim_end_matches('.').to_ascii_lowercase();
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        name == "localhost" || literal.parse::<IpAddr>().is_ok() || self.hosts.contains(&name)
    }

    /// True when a page from `origin` may change state on a request that came to `host`.
    fn allows_origin(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        self.origins.contains(&origin) || host.is_some_and(|host| same_origin(&origin, host))
    }

    /// The CORS layer for the configured origins; none when there are none.
    pub(crate) fn cors(&self) -> Option<CorsLayer> {
        if self.origins.is_empty() {
            return None;
        }
        let origins: Vec<HeaderValue> = self
            .origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        let custom = |name: &'static str| HeaderName::from_static(name);
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    header::RANGE,
                    header::IF_NONE_MATCH,
                    custom("x-api-key"),
                    custom("idempotency-key"),
                    custom("last-event-id"),
                ])
                .expose_headers([
                    header::LOCATION,
                    header::ETAG,
                    header::CONTENT_RANGE,
                    header::RETRY_AFTER,
                    custom("idempotent-replayed"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }
}

/// `origin` lower-cased, without a trailing `/`, when it is `scheme://host[:port]`.
fn normalise_origin(origin: &str) -> Result<String, BadOrigin> {
    let bad = || BadOrigin(origin.to_owned());
    let trimmed = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let uri = Uri::from_str(&trimmed).map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    if !scheme_ok || uri.host().is_none() || !bare || trimmed.contains('@') {
        return Err(bad());
    }
    Ok(trimmed)
}

/// True when `origin` (lower-cased) is the origin of a request to `host`: the same host and
/// port, over HTTP, or HTTPS through a proxy that keeps the `Host`.
fn same_origin(origin: &str, host: &str) -> bool {
    let (Ok(origin), Ok(host)) = (Uri::from_str(origin), Authority::from_str(host)) else {
        return false;
    };
    let default_port = match origin.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return false,
    };
    let (Some(origin_host), origin_port) = (origin.host(), origin.port_u16().unwrap_or(default_port)) else {
        return false;
    };
    origin_host.eq_ignore_ascii_case(host.host()) && host.port_u16().unwrap_or(default_port) == origin_port
}

/// True for the methods that change state.
fn unsafe_method(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// True for the routes whose body is an image, not JSON.
pub(crate) fn takes_image(path: &str) -> bool {
    path == "/api/v1/uploads" || (path.starts_with("/api/v1/series/") && path.ends_with("/references"))
}

/// True when the request may carry a body.
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    length.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

/// True for `application/json` and `…+json`, with any parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The middleware.
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// Why a request is refused, if it is.
fn check(state: &AppState, request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let host = text(header::HOST).or_else(|| request.uri().authority().map(Authority::as_str));
    if let Some(host) = host
        && !state.site.answers_host(host, !state.keys.is_open())
    {
        return Err(ApiError::new(
            ErrorCode::HostNotAllowed,
            format!(
                "this server does not answer for the host `{host}`; if the name is the server's, add it to \
                 `api.allowed_hosts` (SHOWRUNNER_ALLOWED_HOSTS)"
            ),
        )
        .with_details(json!({"host": host})));
    }
    if !unsafe_method(request.method()) {
        return Ok(());
    }
    let origin = text(header::ORIGIN);
    let cross = match origin {
        Some(origin) => !state.site.allows_origin(origin, host),
        None => {
            text(HeaderName::from_static("sec-fetch-site")).is_some_and(|site| site != "same-origin" && site != "none")
        }
    };
    if cross {
        let origin = origin.unwrap_or("");
        return Err(ApiError::new(
            ErrorCode::CrossOriginRefused,
            "a page from another origin may not change state here; to allow a UI served elsewhere, add its origin \
             to `api.allowed_origins` (SHOWRUNNER_ALLOWED_ORIGINS)",
        )
        .with_details(json!({"origin": origin})));
    }
    if !takes_image(request.uri().path()) && has_body(headers) {
        let content_type = text(header::CONTENT_TYPE);
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "the body must be JSON, sent with `Content-Type: application/json`",
            )
            .with_details(json!({"content_type": content_type, "accepted": ["application/json"]})));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_answered_are_local_literal_or_configured() {
        let site = Site::new().hosts(["Studio.Example.com", "studio.lan:8080"]);
        for host in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:1",
            "[::1]:8080",
            "192.168.1.5",
            "studio.example.com:443",
            "studio.lan",
        ] {
            assert!(site.answers_host(host, false), "{host}");
        }
        for host in ["evil.example", "evil.example:8080", "localhost.evil.example", "", "a b"] {
            assert!(!site.answers_host(host, false), "{host}");
            assert!(site.answers_host(host, true), "keyed: {host}");
        }
        assert!(Site::new().hosts(["*"]).answers_host("anything.example", false));
    }

    #[test]
    fn the_own_origin_is_the_scheme_and_host_the_request_came_to() {
        let site = Site::new().origins(["https://UI.example.com/"]).expect("an origin");
        assert!(site.allows_origin("http://localhost:8080", Some("localhost:8080")));
        assert!(site.allows_origin("http://example.com", Some("example.com:80")));
        assert!(site.allows_origin("https://ui.example.com", Some("localhost:8080")));
        assert!(!site.allows_origin("http://localhost:3000", Some("localhost:8080")));
        assert!(!site.allows_origin("https://evil.example", Some("localhost:8080")));
        assert!(!site.allows_origin("null", Some("localhost:8080")));
        assert!(!site.allows_origin("http://localhost:8080", None));
    }

    #[test]
    fn origins_must_be_scheme_host_and_port() {
        assert!(
            Site::new()
                .origins(["http://localhost:5173", "https://a.example/"])
                .is_ok()
        );
        for bad in [
            "localhost:5173",
            "ftp://a.example",
            "https://a.example/ui",
            "https://u@a.example",
            "*",
        ] {
            assert!(Site::new().origins([bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_types_and_image_routes() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(takes_image("/api/v1/uploads"));
        assert!(takes_image("/api/v1/series/S/characters/c/references"));
        assert!(!takes_image("/api/v1/episodes"));
    }
}
