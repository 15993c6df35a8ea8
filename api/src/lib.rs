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
//! | `GET workflows`, `GET workflows/{name}` | definitions with their DAG (nodes and edges) |
//! | `GET, POST episodes` | list (`?status=&limit=&cursor=`), create from an idea or a screenplay |
//! | `GET, DELETE episodes/{id}` | every node's state, current version and artifacts; delete |
//! | `POST episodes/{id}/cancel`, `POST episodes/{id}/fork` | cancel; fork into a new episode |
//! | `GET episodes/{id}/events` | the event log as SSE, resumable with `Last-Event-ID` or `?from=` |
//! | `GET episodes/{id}/nodes/{key}[/items/{item}]` | one instance, its versions and a value |
//! | `POST …/nodes/{key}[/items/{item}]/{action}` | `approve`, `regenerate`, `edit`, `select`, `revert` |
//! | `GET artifacts/{hash}` | a blob, with its content type, `ETag`, caching and `Range` support |
//!
//! Every `POST` under `/api/v1` takes an `Idempotency-Key` header: a retry with the same key
//! gets the first answer again, across restarts when the API has a data directory
//! ([`Api::data_dir`]); see the `idempotency` module for the rules and the one window it cannot
//! cover. Outside `/api/v1`, `GET /metrics` serves Prometheus text (format 0.0.4): requests by
//! method, route template and status, their durations, and the episodes in each status.
//!
//! ```no_run
//! # async fn run(engine: showrunner_engine::Engine) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let ctrl_c = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! showrunner_api::Api::new(engine.clone()).serve(listener, ctrl_c).await?;
//! engine.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod artifacts;
mod envelope;
mod episodes;
mod error;
mod events;
mod extract;
mod health;
mod idempotency;
mod metrics;
mod nodes;
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
use showrunner_engine::Engine;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;

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
}

/// The HTTP facade over an engine, with its options. [`Api::router`] builds the routes;
/// [`Api::serve`] runs them on a listener.
#[derive(Clone)]
pub struct Api {
    state: AppState,
    drain: Duration,
}

impl Api {
    /// The API over `engine`, with SSE keep-alives every 15 seconds and a 10-second drain on
    /// shutdown.
    pub fn new(engine: Engine) -> Self {
        Self {
            state: AppState {
                engine,
                keep_alive: Duration::from_secs(15),
                shutdown: CancellationToken::new(),
                idempotency: Arc::new(idempotency::Idempotency::new(None)),
                metrics: Arc::default(),
            },
            drain: Duration::from_secs(10),
        }
    }

    /// How often an idle event stream sends a keep-alive comment, so that proxies and clients
    /// can tell a quiet episode from a dead connection.
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.state.keep_alive = every;
        self
    }

    /// Stores the answers to requests with an `Idempotency-Key` durably under
    /// `data/api/idempotency`, so that a retry after a restart still gets the first answer.
    /// Without it they are kept in memory, for the life of the server.
    pub fn data_dir(mut self, data: impl AsRef<Path>) -> Self {
        self.state.idempotency = Arc::new(idempotency::Idempotency::new(Some(data.as_ref())));
        self
    }

    /// How long [`Api::serve`] waits for requests in flight once shutdown starts.
    pub fn drain(mut self, timeout: Duration) -> Self {
        self.drain = timeout;
        self
    }

    /// Every route under `/api/v1` and `GET /metrics`, with JSON answers for unknown routes and
    /// methods.
    pub fn router(&self) -> Router {
        let episode_routes = Router::new()
            .route("/", get(episodes::list).post(episodes::create))
            .route("/{id}", get(episodes::show).delete(episodes::delete))
            .route("/{id}/cancel", post(episodes::cancel))
            .route("/{id}/fork", post(episodes::fork))
            .route("/{id}/events", get(events::stream))
            .merge(node_routes("/{id}/nodes/{key}"))
            .merge(node_routes("/{id}/nodes/{key}/items/{item}"));
        let v1 = Router::new()
            .route("/health", get(health::health))
            .route("/workflows", get(workflows::list))
            .route("/workflows/{name}", get(workflows::show))
            .route("/artifacts/{hash}", get(artifacts::get))
            .nest("/episodes", episode_routes);
        Router::new()
            .nest("/api/v1", v1)
            .route("/metrics", get(metrics::metrics))
            .fallback(error::no_route)
            .method_not_allowed_fallback(error::no_method)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(from_fn_with_state(self.state.clone(), idempotency::layer))
            .layer(from_fn_with_state(self.state.clone(), metrics::layer))
            .with_state(self.state.clone())
    }

    /// Serves the API on `listener` until `signal` resolves; then stops taking connections,
    /// ends the event streams, and waits (up to the drain timeout) for requests in flight.
    /// The engine is left running: the caller shuts it down after this returns.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shutdown = self.state.shutdown.clone();
        let stop = shutdown.clone();
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            signal.await;
            stop.cancel();
        });
        let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
        tokio::select! {
            result = &mut server => return result,
            () = shutdown.cancelled() => {}
        }
        match tokio::time::timeout(self.drain, server).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    timeout_s = self.drain.as_secs_f64(),
                    "requests still in flight after the drain timeout; closing"
                );
                Ok(())
            }
        }
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

/// The API's router over `engine`, with the default options of [`Api::new`].
pub fn router(engine: Engine) -> Router {
    Api::new(engine).router()
}
