//! Requests for an episode another process holds. On a store several engine processes share,
//! one live process writes an episode at a time (see `Engine::home`); any process takes any
//! request, and one for an episode held elsewhere is passed on, whole and streamed both ways,
//! to the process that holds it, and its answer passed back. Event streams are not passed on
//! where the store tells every process of the others' commits (PostgreSQL's): each streams
//! every episode's events itself (`Engine::subscribe`).
//!
//! The request goes on with every header it came with but those about the connection (its
//! `Host`, `Origin` and key included, so the holder's site and key checks judge it as this
//! process's did), marked, so that it is never passed on twice: a process that receives a
//! passed-on request for an episode it does not hold answers `503 episode_moving` (the episode
//! changes hands; retry).

use std::sync::OnceLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use showrunner_engine::{EpisodeId, Home};

use crate::AppState;
use crate::code::ErrorCode;
use crate::error::ApiError;

/// Marks a request one process passed on to another.
const FORWARDED: HeaderName = HeaderName::from_static("x-showrunner-forwarded");

/// How long passing a request on may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Headers about one connection, not the request: never passed on (nor those a `Connection`
/// header names).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
];

/// How long a passed-on request may go without a byte from the holder (an event stream sends
/// a keep-alive every 15 seconds): a holder that stopped answering is given up on.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Passes a request for an episode held by another live process on to it.
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(episode) = episode_of(request.uri().path()) else {
        return next.run(request).await;
    };
    let reads = matches!(*request.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    // An event stream is served here, from the store, whichever process writes the episode.
    if reads && is_event_stream(request.uri().path()) && state.engine.streams_any_episode() {
        return next.run(request).await;
    }
    let home = match state.engine.home(episode, reads).await {
        Ok(home) => home,
        // The request's own handling reports what is wrong.
        Err(_) => return next.run(request).await,
    };
    match home {
        Home::Here => next.run(request).await,
        Home::Elsewhere { url: Some(url) } if !request.headers().contains_key(&FORWARDED) => {
            match pass_on(&url, request).await {
                Ok(response) => response,
                Err(why) => moving(
                    episode,
                    &format!("the process that holds it at {url} did not answer: {why}"),
                ),
            }
        }
        Home::Elsewhere { url } => moving(
            episode,
            match url {
                Some(_) => "another process holds it (it is changing hands)",
                None => "another process that serves no API holds it",
            },
        ),
    }
}

/// The episode a path under `/api/v1/episodes/{id}` names.
fn episode_of(path: &str) -> Option<EpisodeId> {
    let rest = path.strip_prefix("/api/v1/episodes/")?;
    let id = rest.split('/').next()?;
    id.parse().ok()
}

/// Whether `path` is an episode's event stream (`/api/v1/episodes/{id}/events`).
fn is_event_stream(path: &str) -> bool {
    path.strip_prefix("/api/v1/episodes/")
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(_, tail)| tail.trim_end_matches('/') == "events")
}

/// `503 episode_moving`, to retry in a second.
fn moving(episode: EpisodeId, why: &str) -> Response {
    ApiError::new(
        ErrorCode::EpisodeMoving,
        format!("episode {episode} is not served here now: {why}; retry in a moment"),
    )
    .into_response()
}

/// The client that passes requests on: no total timeout (event streams last).
fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .read_timeout(READ_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Sends `request` to the same path and query at `base`, and streams the answer back.
async fn pass_on(base: &str, request: Request) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let target = format!(
        "{base}{}",
        parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str())
    );
    let mut headers = without_hop_by_hop(parts.headers);
    headers.insert(FORWARDED, HeaderValue::from_static("1"));
    let sent = client()?
        .request(parts.method, &target)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Response::builder().status(sent.status());
    if let Some(answer) = response.headers_mut() {
        *answer = without_hop_by_hop(sent.headers().clone());
    }
    response
        .body(Body::from_stream(sent.bytes_stream().map_err(std::io::Error::other)))
        .map_err(|e| e.to_string())
}

/// `headers` less those about one connection.
fn without_hop_by_hop(mut headers: HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
        .collect();
    for name in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        headers.remove(name);
    }
    headers
}
