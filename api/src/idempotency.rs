//! The `Idempotency-Key` header on every `POST` under `/api/v1`: a retried request with the
//! same key, method, path and body gets the first answer again (same status, same body, and
//! its `Content-Type` and `Location`), across server restarts and crashes, without acting a
//! second time.
//!
//! - A key is 1 to 255 bytes of visible ASCII (`!` to `~`); any other is `400 bad_request`.
//!   Keys are kept as blake3 hashes, never as given.
//! - The actions that change an episode or make one (`approve`, `regenerate`, `edit`, `select`,
//!   `revert`, `cancel`, creating and forking an episode) and creating a series hand the key to
//!   the engine with the request's fingerprint (method, path, blake3 of the body). The engine
//!   writes the key, the fingerprint and the action's outcome (the instance or episode as the
//!   action left it, the new episode or series) in the same durable commit as the action
//!   ([`showrunner_engine::IdempotencyRecord`]): the key is on disk exactly when the action is,
//!   so a retry after a crash at any moment either finds the outcome, and gets the answer
//!   rendered from it (the same code renders the first answer: the `outcome` module), or finds
//!   nothing and acts for the first time.
//! - Every other answer (errors other than 5xx, and the `POST`s whose action is not one
//!   engine commit: chat messages, uploads, reference images, garbage collection) is stored one
//!   file per key, `DATA/api/idempotency/<blake3 of the key>.json`, written to a temporary
//!   file, fsynced, renamed into place and the directory fsynced, after the action completes
//!   and before the answer is sent. For those a crash between the action and that write leaves
//!   the retry to act again: harmless for uploads (content-addressed: the same bytes give the
//!   same answer) and garbage collection; a chat message retried after such a crash is
//!   classified and acted on again (its actions name versions, so a repeated approve is
//!   refused in the reply). Without a data directory ([`crate::Api::data_dir`]) these answers
//!   are kept in memory only, for the life of the server.
//! - Keys are scoped by the caller's role and owner (see the `access` module), and only callers
//!   the keys let in are served from them (not the open paths of a keyed server): two users who pick the
//!   same key make two requests, and neither ever sees the other's answer.
//! - The same key reused with another method, path or body is `422 idempotency_key_reused`.
//! - Concurrent requests with one key are serialised (a per-key async mutex): the second waits
//!   for the first and then returns its stored answer. A request with a key runs to its end on
//!   a task of its own, holding the key, even when its client goes away: a retry on a new
//!   connection waits for it rather than acting beside it.
//! - Server errors (5xx: `internal`, `shutting_down`) are not stored, so that a retry after a
//!   transient failure acts again; neither is an answer whose body is not UTF-8.
//! - A replayed answer carries `Idempotent-Replayed: true`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use showrunner_engine::{Engine, IdempotencyToken, RequestFingerprint, write_durably};

use crate::access::Caller;
use crate::code::ErrorCode;
use crate::error::ApiError;
use crate::outcome::Committed;
use crate::{AppState, BODY_LIMIT};

/// The request header.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The response header on a replayed answer.
const REPLAYED: &str = "idempotent-replayed";

/// The longest key accepted, in bytes.
const MAX_KEY_LEN: usize = 255;

/// The response headers kept with an answer.
const KEPT_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

/// One stored answer and what it answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    method: String,
    path: String,
    /// blake3 of the request body, hex.
    body_hash: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// The stored answers and the per-key locks.
#[derive(Default)]
pub(crate) struct Idempotency {
    /// `DATA/api/idempotency`, or `None` to keep answers in memory.
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, Stored>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Idempotency {
    /// Answers stored under `data/api/idempotency`, or in memory without a data directory.
    pub(crate) fn new(data: Option<&Path>) -> Self {
        Self {
            dir: data.map(|d| d.join("api").join("idempotency")),
            ..Self::default()
        }
    }

    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(name.to_owned()).or_default().clone()
    }

    /// Drops the key's lock from the map when no other request holds or waits on it.
    fn release(&self, name: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // One reference in the map, one here: nobody else is waiting.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(name);
        }
    }

    async fn load(&self, name: &str) -> Result<Option<Stored>, ApiError> {
        let Some(dir) = &self.dir else {
            let memory = self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            return Ok(memory.get(name).cloned());
        };
        let file = dir.join(format!("{name}.json"));
        match tokio::fs::read(&file).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| ApiError::internal(format!("reading {}: {e}", file.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ApiError::internal(format!("reading {}: {e}", file.display()))),
        }
    }

    async fn save(&self, name: &str, stored: Stored) -> Result<(), ApiError> {
        let Some(dir) = self.dir.clone() else {
            let mut memory = self.memory.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            memory.insert(name.to_owned(), stored);
            return Ok(());
        };
        let bytes = serde_json::to_vec(&stored).map_err(ApiError::internal)?;
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || store_answer(&dir, &name, &bytes))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::internal(format!("storing an idempotent answer: {e}")))
    }
}

/// Writes `dir/name.json` atomically and durably (see [`write_durably`]).
fn store_answer(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let (tmp, target) = (dir.join(format!("{name}.json.tmp")), dir.join(format!("{name}.json")));
    write_durably(&tmp, &target, bytes).map_err(|e| e.to_string())
}

/// The stored name of `key` sent by a key of `scope` (its role and owner, when keys have
/// owners): blake3 of the key, scoped, so that one user's key never replays, or collides with,
/// another's, nor a user key an admin key's.
fn key_name(scope: Option<&str>, key: &[u8]) -> String {
    let Some(scope) = scope else {
        return blake3::hash(key).to_hex().to_string();
    };
    let mut hasher = blake3::Hasher::new_derive_key("showrunner idempotency key scoped by owner");
    hasher.update(&(scope.len() as u64).to_le_bytes());
    hasher.update(scope.as_bytes());
    hasher.update(key);
    hasher.finalize().to_hex().to_string()
}

/// Checks a key: 1 to 255 bytes of visible ASCII.
fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// The middleware: passes through everything but a `POST` under `/api/v1` with the header.
pub(crate) async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    // The whole path, `/api/v1` included, whichever router this runs in.
    let path = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path().to_owned(), |o| o.0.path().to_owned());
    if !path.starts_with("/api/v1/") {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    if !valid_key(key.as_bytes()) {
        return ApiError::bad_request("the Idempotency-Key header must be 1 to 255 visible ASCII characters")
            .with_details(json!({"header": "Idempotency-Key"}))
            .into_response();
    }
    // Only for a caller the keys let in: on the open paths of a keyed server (health, the
    // document) nothing is stored for anyone who sends a key.
    let Some(caller) = request.extensions().get::<Caller>() else {
        return next.run(request).await;
    };
    let name = key_name(caller.scope().as_deref(), key.as_bytes());
    let method = request.method().to_string();
    let (parts, body) = request.into_parts();
    let limit = BODY_LIMIT.max(state.upload_limit);
    let bytes = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is over {limit} bytes"),
            )
            .into_response();
        }
    };
    let body_hash = blake3::hash(&bytes).to_hex().to_string();
    let store = state.idempotency.clone();
    let lock = store.lock_for(&name);
    let token = IdempotencyToken {
        key: name.clone(),
        fingerprint: RequestFingerprint {
            method,
            path,
            body_hash,
        },
    };
    let mut request = Request::from_parts(parts, Body::from(bytes));
    request.extensions_mut().insert(token.clone());
    // On a task of its own, holding the key's lock to the end: a client (or a process passing
    // the request on) that goes away mid-request must not cut the action short, or release the
    // key while the action is still on its way to its commit; a retry waits for it and replays.
    let engine = state.engine.clone();
    let task = tokio::spawn(async move {
        let held = lock.clone().lock_owned().await;
        let answer = once(&store, &engine, &token, request, next).await;
        drop(held);
        store.release(&name, lock);
        answer
    });
    match task.await {
        Ok(answer) => answer.unwrap_or_else(IntoResponse::into_response),
        Err(_) => ApiError::internal("an idempotent request's task failed").into_response(),
    }
}

/// Under the key's lock: the stored answer (a file, or an outcome the engine committed with
/// the key), or the action's, stored before it is returned unless the engine committed it.
async fn once(
    store: &Idempotency,
    engine: &Engine,
    token: &IdempotencyToken,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let asked = &token.fingerprint;
    if let Some(stored) = store.load(&token.key).await? {
        if stored.method != asked.method || stored.path != asked.path || stored.body_hash != asked.body_hash {
            return Err(reused(&stored.method, &stored.path));
        }
        return Ok(replay(stored));
    }
    if let Some(committed) = engine.idempotent(&token.key)? {
        if committed.fingerprint != *asked {
            return Err(reused(&committed.fingerprint.method, &committed.fingerprint.path));
        }
        let mut response = crate::outcome::answer(&committed.outcome)?;
        response
            .headers_mut()
            .insert(HeaderName::from_static(REPLAYED), HeaderValue::from_static("true"));
        return Ok(response);
    }
    let response = next.run(request).await;
    if response.extensions().get::<Committed>().is_some() {
        // The engine wrote the key with the action.
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.map_err(ApiError::internal)?;
    if !parts.status.is_server_error()
        && let Ok(text) = std::str::from_utf8(&bytes)
    {
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|h| {
                let value = parts.headers.get(h)?.to_str().ok()?;
                Some((h.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let stored = Stored {
            method: asked.method.clone(),
            path: asked.path.clone(),
            body_hash: asked.body_hash.clone(),
            status: parts.status.as_u16(),
            headers,
            body: text.to_owned(),
        };
        store.save(&token.key, stored).await?;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// `422 idempotency_key_reused`: the key answered another request.
fn reused(method: &str, path: &str) -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyReused,
        "this Idempotency-Key was used for another request",
    )
    .with_details(json!({"method": method, "path": path}))
}

/// A stored answer, sent again.
fn replay(stored: Stored) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
    headers.insert(HeaderName::from_static(REPLAYED), HeaderValue::from_static("true"));
    response
}

#[cfg(test)]
mod tests {
    use super::{key_name, valid_key};

    #[test]
    fn one_key_of_two_owners_names_two_records() {
        assert_ne!(key_name(Some("ana"), b"k1"), key_name(Some("bob"), b"k1"));
        assert_ne!(key_name(Some("ana"), b"k1"), key_name(None, b"k1"));
        // Owner and key are not just glued together.
        assert_ne!(key_name(Some("ab"), b"c"), key_name(Some("a"), b"bc"));
        assert_eq!(key_name(Some("ana"), b"k1"), key_name(Some("ana"), b"k1"));
    }

    #[test]
    fn keys_are_visible_ascii_up_to_255_bytes() {
        assert!(valid_key(b"abc-123_~!"));
        assert!(valid_key(&[b'k'; 255]));
        assert!(!valid_key(&[b'k'; 256]));
        assert!(!valid_key(b""));
        assert!(!valid_key(b"has space"));
        assert!(!valid_key("é".as_bytes()));
    }
}
