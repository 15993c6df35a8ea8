//! Showrunner's HTTP facade: one REST and SSE API under `/api/v1`, thin over the
//! [`Engine`] (DESIGN §6).
//!
//! Every handler parses its inputs, calls the engine and serialises the answer; the engine owns
//! every rule (gates, versions, invalidation). The main items:
//!
//! - [`router`] builds the whole [`axum::Router`] over an engine, so tests can drive it with or
//!   without a socket; [`Api`] does the same with options, and [`Api::serve`] runs it on a
//!   listener until a shutdown signal, then drains.
//! - [`ApiError`] is the one error type: every failure becomes
//!   `{"error": {"code", "message", "details"}}` with a stable `code` and the right status.
//!   Successes are `{"data": …, "meta": …}`.
//!
//! The routes (all under `/api/v1`):
//!
//! | route | what |
//! | --- | --- |
//! | `GET health` | the server and its store answer |
//! | `GET openapi.json` | the OpenAPI 3.1 document of every route (see [`openapi()`]) |
//! | `GET workflows`, `GET workflows/{name}` | definitions with their DAG (nodes and edges) |
//! | `GET, POST episodes` | list (`?status=&limit=&cursor=`), create from an idea or a screenplay |
//! | `GET, DELETE episodes/{id}` | every node's state, current version and artifacts; delete |
//! | `POST episodes/{id}/cancel`, `POST episodes/{id}/fork` | cancel; fork into a new episode |
//! | `GET episodes/{id}/events` | the event log as SSE, resumable with `Last-Event-ID` or `?from=` |
//! | `GET episodes/{id}/nodes/{key}[/items/{item}]` | one instance, its versions and a value |
//! | `POST …/nodes/{key}[/items/{item}]/{action}` | `approve`, `regenerate`, `edit`, `select`, `revert` |
//! | `GET episodes/{id}/messages`, `POST episodes/{id}/messages` | the conversation; a chat message acted on |
//! | `GET artifacts/{hash}` | a blob, with its content type, `ETag`, caching and `Range` support (admin, with keys) |
//! | `GET episodes/{id}/artifacts/{hash}`, `GET series/{id}/artifacts/{hash}` | a blob that episode or series references |
//! | `GET, POST series`, `GET, PUT, DELETE series/{id}` | series: a bible and a cast shared by episodes |
//! | `POST series/{id}/characters/{c}/references` | attach an uploaded reference image (3 at most) |
//! | `POST uploads` | a reference image (PNG or JPEG, 10 MB unless configured) |
//! | `POST admin/gc` | collect unreferenced blobs (admin) |
//!
//! With API keys configured ([`Api::keys`]) every route but health and the OpenAPI document
//! needs one; deletions, garbage collection, metrics and blobs by bare hash need an admin key;
//! and a user key sees only its owner's episodes and series, anything else answering `404`
//! (see the `access` and `owners` modules).
//!
//! Against pages in the user's browser ([`Site`]): a foreign `Host` (DNS rebinding) is
//! `421 host_not_allowed`, a state change from another origin `403 cross_origin_refused`, a JSON
//! body without a JSON `Content-Type` `415 unsupported_media_type`. Connections are served under
//! a header timeout, an idle timeout and a cap (`503 too_many_connections` beyond it).
//!
//! Every `POST` under `/api/v1` takes an `Idempotency-Key` header: a retry with the same key
//! gets the first answer again, across restarts when the API has a data directory
//! ([`Api::data_dir`]), and after a crash at any moment for the actions the engine commits with
//! their key; see the `idempotency` module for the rules. Outside `/api/v1`, `GET /metrics` serves Prometheus text (format 0.0.4): requests by
//! method, route template and status, their durations, and the episodes in each status.
//!
//! ```no_run
//! # async fn run(
//! #     engine: showrunner_engine::Engine,
//! #     embedder: std::sync::Arc<dyn showrunner_backend::Embedder>,
//! # ) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let ctrl_c = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! showrunner_api::Api::new(engine.clone(), embedder).serve(listener, ctrl_c).await?;
//! engine.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod access;
mod admin;
mod artifacts;
mod blob_answers;
mod code;
mod envelope;
mod episodes;
mod error;
mod events;
mod extract;
mod forward;
mod health;
mod idempotency;
mod inbox;
mod limits;
mod links;
mod messages;
mod metrics;
mod nodes;
mod openapi;
mod outcome;
mod owners;
mod schemas;
mod series;
mod server;
mod site;
mod uploads;
mod views;
mod workflows;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use showrunner_backend::Embedder;
use showrunner_chat::conversation::Conversation;
use showrunner_engine::Engine;
use tokio_util::sync::CancellationToken;

pub use access::{ApiKeys, KeyError, Role};
pub use code::ErrorCode;
pub use error::ApiError;
pub use openapi::openapi;
pub use server::{DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, default_max_connections};
pub use site::{BadOrigin, Site};
pub use uploads::DEFAULT_UPLOAD_LIMIT;

/// The largest request body accepted: a screenplay or an edited value fits well within it.
pub(crate) const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What every handler shares: the engine and the server's options.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: Engine,
    pub(crate) keep_alive: Duration,
    /// Fires when the server starts shutting down, so that event streams end and connections
    /// can drain.
    pub(crate) shutdown: CancellationToken,
    /// The answers stored under `Idempotency-Key`s, and their locks.
    pub(crate) idempotency: Arc<idempotency::Idempotency>,
    /// The HTTP counters of `GET /metrics`.
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// The API keys; none means open.
    pub(crate) keys: Arc<ApiKeys>,
    /// The `Host` names and origins accepted beyond the server's own.
    pub(crate) site: Arc<Site>,
    /// The largest upload accepted, in bytes.
    pub(crate) upload_limit: usize,
    /// Turns chat messages into actions.
    pub(crate) conversation: Conversation,
}

/// The HTTP facade over an engine, with its options. [`Api::router`] builds the routes;
/// [`Api::serve`] runs them on a listener.
#[derive(Clone)]
pub struct Api {
    state: AppState,
    drain: Duration,
    limits: server::Limits,
    pages: Option<Router>,
}

impl Api {
    /// The API over `engine`, with SSE keep-alives every 15 seconds, a 10-second drain on
    /// shutdown, and chat messages classified with `embedder` (the edge that wires the server
    /// chooses it: real sentence embeddings where installed, else a built-in one).
    pub fn new(engine: Engine, embedder: Arc<dyn Embedder>) -> Self {
        Self {
            state: AppState {
                conversation: Conversation::new(engine.clone(), embedder, showrunner_story::stock::NODES),
                engine,
                keep_alive: Duration::from_secs(15),
                shutdown: CancellationToken::new(),
                idempotency: Arc::new(idempotency::Idempotency::new(None)),
                metrics: Arc::default(),
                keys: Arc::new(ApiKeys::none()),
                site: Arc::new(Site::new()),
                upload_limit: DEFAULT_UPLOAD_LIMIT,
            },
            drain: Duration::from_secs(10),
            limits: server::Limits::default(),
            pages: None,
        }
    }

    /// Pages served beside the API (the studio): routes outside `/api/v1` that need no key,
    /// since a page asks for the key itself. Unknown paths still answer the API's JSON 404.
    pub fn pages(mut self, pages: Router) -> Self {
        self.pages = Some(pages);
        self
    }

    /// How often an idle event stream sends a keep-alive comment, so that proxies and clients
    /// can tell a quiet episode from a dead connection.
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.state.keep_alive = every;
        self
    }

    /// Stores the answers to requests with an `Idempotency-Key` that the engine does not commit
    /// with their action (errors, chat messages, uploads, reference images, garbage collection)
    /// durably under `data/api/idempotency`, so that a retry after a restart still gets the
    /// first answer. Without it they are kept in memory, for the life of the server; the
    /// actions the engine commits keep their key in the store either way.
    pub fn data_dir(mut self, data: impl AsRef<Path>) -> Self {
        self.state.idempotency = Arc::new(idempotency::Idempotency::new(Some(data.as_ref())));
        self
    }

    /// Requires API keys (see [`ApiKeys`]): every route but health then needs one, and the
    /// admin routes an admin key.
    pub fn keys(mut self, keys: ApiKeys) -> Self {
        self.state.keys = Arc::new(keys);
        self
    }

    /// The `Host` names answered and the origins allowed to change state beyond the server's
    /// own (see [`Site`]); by default only `localhost`, IP literals, and same-origin pages.
    pub fn site(mut self, site: Site) -> Self {
        self.state.site = Arc::new(site);
        self
    }

    /// The largest reference image accepted, in bytes (default [`DEFAULT_UPLOAD_LIMIT`]).
    pub fn upload_limit(mut self, bytes: usize) -> Self {
        self.state.upload_limit = bytes;
        self
    }

    /// How long [`Api::serve`] waits for requests in flight once shutdown starts.
    pub fn drain(mut self, timeout: Duration) -> Self {
        self.drain = timeout;
        self
    }

    /// How long a client may take to send a request's head (request line and headers), counted
    /// from when its connection opens or its previous answer ends; then the connection is
    /// closed. So it is also how long a kept-alive connection may wait idle for its next request
    /// (default [`DEFAULT_HEADER_TIMEOUT`]).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_timeout = timeout;
        self
    }

    /// How long a connection may go without a byte moving either way (a stalled request body, a
    /// client that stopped reading) before it is closed (default [`DEFAULT_IDLE_TIMEOUT`]). Keep
    /// it above the event streams' keep-alive ([`Api::keep_alive`]).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// How many connections are served at once; one more is answered
    /// `503 too_many_connections` and closed. By default what the process's file-descriptor
    /// limit allows when [`Api::serve`] starts (see [`default_max_connections`]).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = Some(max.max(1));
        self
    }

    /// Every route under `/api/v1` and `GET /metrics`, with JSON answers for unknown routes and
    /// methods, and the pages given to [`Api::pages`].
    pub fn router(&self) -> Router {
        let episode_routes = Router::new()
            .route("/", get(episodes::list).post(episodes::create))
            .route("/{id}", get(episodes::show).delete(episodes::delete))
            .route("/{id}/cancel", post(episodes::cancel))
            .route("/{id}/fork", post(episodes::fork))
            .route("/{id}/events", get(events::stream))
            .route("/{id}/messages", get(messages::list).post(messages::post))
            .route("/{id}/artifacts/{hash}", get(artifacts::of_episode))
            .merge(node_routes("/{id}/nodes/{key}"))
            .merge(node_routes("/{id}/nodes/{key}/items/{item}"));
        let upload_limit = DefaultBodyLimit::max(self.state.upload_limit);
        let series_routes = Router::new()
            .route("/", get(series::list).post(series::create))
            .route("/{id}", get(series::show).put(series::update).delete(series::delete))
            .route("/{id}/artifacts/{hash}", get(artifacts::of_series))
            .route(
                "/{id}/characters/{character}/references",
                post(series::add_reference).layer(upload_limit),
            );
        let v1 = Router::new()
            .route("/health", get(health::health))
            .route("/openapi.json", get(openapi::document))
            .route("/uploads", post(uploads::upload).layer(upload_limit))
            .route("/uploads/{hash}", get(uploads::get))
            .route("/admin/gc", post(admin::collect_garbage))
            .nest("/series", series_routes)
            .route("/inbox", get(inbox::inbox))
            .route("/workflows", get(workflows::list))
            .route("/workflows/{name}", get(workflows::show))
            .route("/artifacts/{hash}", get(artifacts::get))
            .nest("/episodes", episode_routes);
        let routes = Router::new()
            .nest("/api/v1", v1)
            .route("/metrics", get(metrics::metrics))
            .fallback(error::no_route)
            .method_not_allowed_fallback(error::no_method)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(from_fn_with_state(self.state.clone(), idempotency::layer))
            .layer(from_fn_with_state(self.state.clone(), forward::layer))
            .layer(from_fn_with_state(self.state.clone(), access::layer))
            .layer(from_fn_with_state(self.state.clone(), site::layer));
        // CORS outside the site checks, so that their refusals reach a configured UI readably,
        // and preflights (which carry no key) are answered before the key check.
        let routes = match self.state.site.cors() {
            Some(cors) => routes.layer(cors),
            None => routes,
        };
        let api = routes
            .layer(from_fn_with_state(self.state.clone(), metrics::layer))
            .with_state(self.state.clone());
        match &self.pages {
            Some(pages) => api.merge(pages.clone()),
            None => api,
        }
    }

    /// Serves the API on `listener` until `signal` resolves; then stops taking connections,
    /// ends the event streams, and waits (up to the drain timeout) for requests in flight.
    /// Each connection is served under the header and idle timeouts and the connection cap
    /// ([`Api::header_timeout`], [`Api::idle_timeout`], [`Api::max_connections`]).
    /// The engine is left running: the caller shuts it down after this returns.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if self.limits.idle_timeout <= self.state.keep_alive {
            tracing::warn!(
                idle_timeout_s = self.limits.idle_timeout.as_secs_f64(),
                keep_alive_s = self.state.keep_alive.as_secs_f64(),
                "the idle timeout is not above the event streams' keep-alive: quiet streams will be closed"
            );
        }
        let stop = self.state.shutdown.clone();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = signal => on_signal.cancel(),
                () = on_signal.cancelled() => {}
            }
        });
        let result = server::run(listener, self.router(), self.limits, stop.clone(), self.drain).await;
        // Stops the signal's watch when the server ended by itself.
        stop.cancel();
        result
    }
}

/// The routes of one node instance: `{base}` for its state, `{base}/{action}` for actions.
fn node_routes(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, get(nodes::show))
        .route(&format!("{base}/approve"), post(nodes::approve))
        .route(&format!("{base}/regenerate"), post(nodes::regenerate))
        .route(&format!("{base}/edit"), post(nodes::edit))
        .route(&format!("{base}/select"), post(nodes::select))
        .route(&format!("{base}/revert"), post(nodes::revert))
}

/// The API's router over `engine`, chat messages classified with `embedder`, with the default
/// options of [`Api::new`].
pub fn router(engine: Engine, embedder: Arc<dyn Embedder>) -> Router {
    Api::new(engine, embedder).router()
}
