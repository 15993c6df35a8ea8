//! API keys and their owners. With no key configured the API is open (a local studio on
//! 127.0.0.1) and nothing has an owner. Once any key is configured, every route but
//! `GET /api/v1/health` and the OpenAPI document (`GET /api/v1/openapi.json`) needs one, as
//! `Authorization: Bearer KEY` or `X-Api-Key: KEY`: a missing or unknown key is
//! `401 unauthorized`, and so are two different keys in one request (a Bearer key and another
//! `X-Api-Key`, or two of either): the credentials disagree, and guessing which one was meant
//! would let a wrong key ride along with a right one. The same key sent twice is fine.
//!
//! Every key belongs to an owner, a user or team name ([`ApiKeys::add`]); a key configured
//! without one is its own user, named `key-` and 12 hex digits derived from it
//! ([`ApiKeys::with`]). What a user key creates (episodes, forks, series) belongs to its owner,
//! and a user key sees and acts on only its owner's work: anything else answers `404` as if it
//! did not exist (the `owners` module). Admin keys may do everything and see everything; other
//! keys may not use the admin routes — deletions, garbage collection, `/metrics` and
//! `GET artifacts/{hash}` — which answer `403 forbidden`.
//!
//! Keys are kept only as BLAKE3 hashes, compared in constant time, and never logged: not the
//! configured ones, not the ones presented.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;
use crate::code::ErrorCode;
use crate::error::ApiError;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Its owner's work, and none of the admin routes.
    User,
    /// Everything.
    Admin,
}

/// A key that cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is empty (or only blanks): it would let in a request that sends an empty key.
    #[error("an API key is empty")]
    Empty,
    /// The owner's name is empty.
    #[error("an API key's owner has an empty name")]
    NoOwner,
    /// One key is configured for two owners, so its requests could belong to either.
    #[error("one API key is configured for both `{0}` and `{1}`")]
    TwoOwners(String, String),
}

/// One configured key: its hash (none for an empty key given to [`ApiKeys::with`], which
/// nothing matches), its role and its owner.
#[derive(Clone)]
struct Key {
    hash: Option<blake3::Hash>,
    role: Role,
    owner: String,
}

/// The configured keys, as hashes, with their roles and owners.
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<Key>,
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

    /// Adds a key that is its own user ([`ApiKeys::key_owner`]), for keys written in code; an
    /// empty key is kept as one that nothing matches, so the API is closed all the same (use
    /// [`ApiKeys::add`] to have it refused).
    pub fn with(mut self, key: &str, role: Role) -> Self {
        if self.add(key, None, role).is_err() {
            self.keys.push(Key {
                hash: None,
                role,
                owner: Self::key_owner(key),
            });
        }
        self
    }

    /// Adds a key of `owner` (a user or team name; `None`: the key is its own user, named by
    /// [`ApiKeys::key_owner`]). Blanks around the key are not part of it. An empty key or owner
    /// is refused, and so is a key already configured for another owner; a key configured twice
    /// for one owner keeps the stronger role.
    pub fn add(&mut self, key: &str, owner: Option<&str>, role: Role) -> Result<(), KeyError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        let owner = match owner.map(str::trim) {
            Some("") => return Err(KeyError::NoOwner),
            Some(owner) => owner.to_owned(),
            None => Self::key_owner(key),
        };
        let hash = Some(blake3::hash(key.as_bytes()));
        if let Some(known) = self.keys.iter_mut().find(|k| k.hash == hash) {
            if known.owner != owner {
                return Err(KeyError::TwoOwners(known.owner.clone(), owner));
            }
            if role == Role::Admin {
                known.role = Role::Admin;
            }
            return Ok(());
        }
        self.keys.push(Key { hash, role, owner });
        Ok(())
    }

    /// The owner of a key configured without one: `key-` and 12 hex digits of a BLAKE3 key
    /// derivation from it, stable across restarts and reorderings of the configuration, and of
    /// no use for finding the key.
    pub fn key_owner(key: &str) -> String {
        let derived = blake3::derive_key("showrunner 2026-12 owner of an API key", key.trim().as_bytes());
        let hex: String = derived[..6].iter().map(|b| format!("{b:02x}")).collect();
        format!("key-{hex}")
    }

    /// True when no key is configured.
    pub fn is_open(&self) -> bool {
        self.keys.is_empty()
    }

    /// The caller a presented key stands for; `None` when it is not configured. Every
    /// configured hash is compared (in constant time), so the answer's timing says nothing
    /// about which matched.
    fn caller(&self, presented: &str) -> Option<Caller> {
        let hash = Some(blake3::hash(presented.as_bytes()));
        let mut found = None;
        for key in &self.keys {
            // `blake3::Hash`'s equality is constant-time.
            if key.hash == hash {
                found = Some(key);
            }
        }
        found.map(|key| match key.role {
            Role::Admin => Caller::Admin(key.owner.clone()),
            Role::User => Caller::User(key.owner.clone()),
        })
    }
}

/// Who a request comes from, as the access layer found it (in the request's extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A server without keys: everyone sees everything, and nothing gets an owner.
    Anyone,
    /// An admin key of this owner: sees everything; what it creates is the owner's.
    Admin(String),
    /// A user key of this owner: sees only what the owner owns.
    User(String),
}

impl Caller {
    /// True when the caller may see a record of `owner`. Records without an owner (made
    /// before owners existed, on a keyless server, or by the CLI) are seen by admins and on a
    /// keyless server only.
    pub(crate) fn may_see(&self, owner: Option<&str>) -> bool {
        match self {
            Caller::Anyone | Caller::Admin(_) => true,
            Caller::User(name) => owner == Some(name.as_str()),
        }
    }

    /// True when the caller sees every record, so that there is nothing to check.
    pub(crate) fn sees_all(&self) -> bool {
        !matches!(self, Caller::User(_))
    }

    /// What an `Idempotency-Key` is scoped by: the role and the owner (`None` on a server
    /// without keys).
    pub(crate) fn scope(&self) -> Option<String> {
        match self {
            Caller::Anyone => None,
            Caller::Admin(name) => Some(format!("admin:{name}")),
            Caller::User(name) => Some(format!("user:{name}")),
        }
    }

    /// The owner of what the caller creates.
    pub(crate) fn owner(&self) -> Option<String> {
        match self {
            Caller::Anyone => None,
            Caller::Admin(name) | Caller::User(name) => Some(name.clone()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::internal("a route outside the access layer asks for its caller"))
    }
}

/// Two different keys in one request.
#[derive(Debug, PartialEq, Eq)]
struct Disagree;

/// The key a request presents, from `Authorization: Bearer` or `X-Api-Key` (the scheme's case
/// does not matter, blanks around the key are not part of it). Other `Authorization` schemes
/// and values that are not text are not keys. Several headers naming one key are one key;
/// several keys are [`Disagree`].
fn presented(headers: &HeaderMap) -> Result<Option<&str>, Disagree> {
    let bearers = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (scheme, key) = v.trim_start().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(key)
        });
    let api_keys = headers.get_all("x-api-key").iter().filter_map(|v| v.to_str().ok());
    let mut found: Option<&str> = None;
    for key in bearers.chain(api_keys).map(str::trim) {
        match found {
            Some(seen) if seen != key => return Err(Disagree),
            _ => found = Some(key),
        }
    }
    Ok(found)
}

/// The prefix of the blobs by bare hash.
const ARTIFACTS: &str = "/api/v1/artifacts/";

/// True for the routes only admin keys may use: deletions, garbage collection, metrics, and
/// blobs by bare hash (which no owner's check can guard; user keys read blobs through the
/// episode or series that references them).
pub(crate) fn admin_only(method: &Method, path: &str) -> bool {
    method == Method::DELETE || path == "/metrics" || path.starts_with("/api/v1/admin/") || path.starts_with(ARTIFACTS)
}

/// True for the paths open without a key: health, and the OpenAPI document that says how to
/// present one.
pub(crate) fn open_path(path: &str) -> bool {
    path == "/api/v1/health" || path == crate::openapi::PATH
}

/// The middleware: finds the [`Caller`] and puts it in the request's extensions, or refuses.
pub(crate) async fn layer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    if state.keys.is_open() {
        request.extensions_mut().insert(Caller::Anyone);
        return next.run(request).await;
    }
    let path = request.uri().path();
    if open_path(path) {
        return next.run(request).await;
    }
    let caller = match presented(request.headers()) {
        Err(Disagree) => {
            return unauthorized(
                "the credentials disagree: the request carries two different API keys (in `Authorization` and `X-Api-Key`, or twice); send one",
            );
        }
        Ok(None) => {
            return unauthorized("this API needs a key: send `Authorization: Bearer KEY` or `X-Api-Key: KEY`");
        }
        Ok(Some(key)) => match state.keys.caller(key) {
            None => return unauthorized("the API key is not valid"),
            Some(caller) => caller,
        },
    };
    if matches!(caller, Caller::User(_)) && admin_only(request.method(), path) {
        let hint = if path.starts_with(ARTIFACTS) {
            ": a user key reads artifacts through their episode or series, `GET /api/v1/episodes/{id}/artifacts/{hash}` or `GET /api/v1/series/{id}/artifacts/{hash}`"
        } else {
            ""
        };
        return ApiError::new(
            ErrorCode::Forbidden,
            format!("{} {path} needs an admin key{hint}", request.method()),
        )
        .with_details(json!({"role": "user", "needs": "admin"}))
        .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(ErrorCode::Unauthorized, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_roles_owners_and_unknown_keys_none() {
        let mut keys = ApiKeys::none()
            .with("user-key", Role::User)
            .with(" admin-key ", Role::Admin);
        keys.add("ana-1", Some("ana"), Role::User).expect("a key of ana");
        keys.add("ana-2", Some(" ana "), Role::User)
            .expect("another key of ana");
        let own = ApiKeys::key_owner("user-key");
        assert!(own.starts_with("key-") && own.len() == 16, "{own}");
        assert_eq!(keys.caller("user-key"), Some(Caller::User(own)));
        assert_eq!(
            keys.caller("admin-key"),
            Some(Caller::Admin(ApiKeys::key_owner("admin-key")))
        );
        assert_eq!(keys.caller("ana-2"), Some(Caller::User("ana".into())));
        assert_eq!(keys.caller("other"), None);
        assert_eq!(keys.caller(""), None);
        assert!(!format!("{keys:?}").contains("key-"));
    }

    #[test]
    fn empty_keys_and_owners_and_a_key_of_two_owners_are_refused() {
        let mut keys = ApiKeys::none();
        assert_eq!(keys.add("", None, Role::Admin), Err(KeyError::Empty));
        assert_eq!(keys.add("  ", Some("ana"), Role::User), Err(KeyError::Empty));
        assert_eq!(keys.add("k", Some(" "), Role::User), Err(KeyError::NoOwner));
        assert!(keys.is_open(), "nothing was added");
        keys.add("k", Some("ana"), Role::User).expect("k");
        assert_eq!(
            keys.add("k", Some("bob"), Role::User),
            Err(KeyError::TwoOwners("ana".into(), "bob".into()))
        );
        keys.add("k", Some("ana"), Role::Admin)
            .expect("the same owner, a stronger role");
        assert_eq!(keys.caller("k"), Some(Caller::Admin("ana".into())));
        // An empty key given in code closes the API and lets nobody in, an empty one least.
        let closed = ApiKeys::none().with(" ", Role::Admin);
        assert!(!closed.is_open());
        assert_eq!(closed.caller(""), None);
    }

    #[test]
    fn two_different_keys_in_one_request_disagree() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(
                    axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                    HeaderValue::from_str(value).expect("a value"),
                );
            }
            map
        };
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<Option<&'a str>, Disagree>);
        let cases: [Case; 9] = [
            (&[], Ok(None)),
            (&[("authorization", "Bearer right")], Ok(Some("right"))),
            (&[("authorization", "bearer  right ")], Ok(Some("right"))),
            (&[("x-api-key", "right")], Ok(Some("right"))),
            (
                &[("authorization", "Bearer right"), ("x-api-key", "right")],
                Ok(Some("right")),
            ),
            (
                &[("authorization", "Bearer right"), ("x-api-key", "wrong")],
                Err(Disagree),
            ),
            (&[("x-api-key", "right"), ("x-api-key", "wrong")], Err(Disagree)),
            (
                &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
                Err(Disagree),
            ),
            (
                &[("authorization", "Basic dXNlcg=="), ("x-api-key", "right")],
                Ok(Some("right")),
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(presented(&headers(pairs)), want, "{pairs:?}");
        }
    }

    #[test]
    fn users_see_their_own_admins_and_keyless_servers_everything() {
        let ana = Caller::User("ana".into());
        assert!(ana.may_see(Some("ana")));
        assert!(!ana.may_see(Some("bob")));
        assert!(!ana.may_see(None), "owner-less records are for admins");
        for all in [Caller::Anyone, Caller::Admin("root".into())] {
            assert!(all.may_see(Some("ana")) && all.may_see(None) && all.sees_all());
        }
        assert_eq!(Caller::Anyone.owner(), None);
        assert_eq!(ana.owner().as_deref(), Some("ana"));
    }

    #[test]
    fn deletions_gc_and_metrics_are_admin_routes() {
        assert!(admin_only(&Method::DELETE, "/api/v1/episodes/x"));
        assert!(admin_only(&Method::GET, "/metrics"));
        assert!(admin_only(&Method::POST, "/api/v1/admin/gc"));
        assert!(!admin_only(&Method::POST, "/api/v1/episodes/x/cancel"));
        assert!(!admin_only(&Method::GET, "/api/v1/episodes"));
        assert!(admin_only(
            &Method::GET,
            &format!("/api/v1/artifacts/{}", "0".repeat(64))
        ));
        assert!(!admin_only(&Method::GET, "/api/v1/episodes/x/artifacts/y"));
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
