//! The connection loop under [`Api::serve`](crate::Api::serve): it accepts connections, serves
//! each with hyper's HTTP/1.1 server under three limits, and drains them on shutdown.
//!
//! - **Header timeout** ([`Limits::header_timeout`]): a request's head (request line and headers)
//!   must arrive within it, counted from when the connection opens or its previous answer ends.
//!   A client that sends half a request, or nothing, is closed when it runs out. Since hyper
//!   starts this clock whenever a connection waits for its next request, it is also how long a
//!   kept-alive connection may sit idle between requests.
//! - **Idle timeout** ([`Limits::idle_timeout`]): a connection on which no byte moves either way
//!   for this long is closed, whatever it is doing: a request body that stalls, a client that
//!   stops reading an answer. Event streams send a keep-alive comment more often than this.
//! - **Connection cap** ([`Limits::max_connections`]): one connection more is still accepted,
//!   read, and answered `503 too_many_connections` with `Connection: close`, so a client learns
//!   why rather than waiting in the listen queue; a few such refusals run at once, beyond which
//!   a connection is closed at once. The default cap is what the process's file-descriptor limit
//!   allows, less room for the store's own files ([`default_max_connections`]).
//!
//! Running out of file descriptors anyway (`accept` failing with `EMFILE`) pauses accepting
//! briefly instead of spinning; the connections already open go on being served.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::response::IntoResponse;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::code::ErrorCode;
use crate::error::ApiError;

/// The header timeout unless configured.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The idle timeout unless configured.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many refusals (`503 too_many_connections`) may be under way at once; over the cap and
/// past these, a connection is closed without an answer.
const REFUSALS: usize = 64;

/// How long a refusal may take, from accepting to closing.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// How long accepting pauses after `accept` fails for want of resources (file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The limits a connection is served under (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// For a request's head to arrive.
    pub(crate) header_timeout: Duration,
    /// With no byte moving either way.
    pub(crate) idle_timeout: Duration,
    /// Connections served at once; `None`: [`default_max_connections`].
    pub(crate) max_connections: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
        }
    }
}

/// The connection cap a file-descriptor limit allows: the limit less room for the store's files,
/// the models, the listener and refusals under way (an eighth of it, at least 256), and at least
/// 16. A process with 1024 descriptors serves 768 connections; one with 65,536, 57,344.
pub fn default_max_connections(fd_limit: u64) -> usize {
    let reserve = (fd_limit / 8).max(256);
    usize::try_from(fd_limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(16)
}

/// The cap from this process's current (soft) file-descriptor limit.
fn max_connections_here() -> usize {
    match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok((soft, _hard)) => default_max_connections(soft),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the file-descriptor limit; assuming 1024");
            default_max_connections(1024)
        }
    }
}

/// Serves `router` on `listener` until `stop` is cancelled; then stops accepting, lets the
/// requests in flight finish for up to `drain`, and closes what is left.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
    drain: Duration,
) -> std::io::Result<()> {
    let max = limits.max_connections.unwrap_or_else(max_connections_here);
    let slots = Arc::new(Semaphore::new(max));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let graceful = GracefulShutdown::new();
    // Fired when the drain runs out: the connections still open are dropped.
    let hard_stop = CancellationToken::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let service = TowerToHyperService::new(router);
    tracing::debug!(max_connections = max, "serving");
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(REFUSAL_TIME, refuse(stream, max)).await;
                    drop(refusal);
                });
            }
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let activity = Activity::new();
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let connection = graceful.watch(builder.serve_connection(io, service.clone()));
        let hard_stop = hard_stop.clone();
        let idle_timeout = limits.idle_timeout;
        tokio::spawn(async move {
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                () = activity.idle(idle_timeout) => {
                    tracing::debug!(timeout_s = idle_timeout.as_secs_f64(), "closing an idle connection");
                }
                () = hard_stop.cancelled() => {}
            }
            drop(slot);
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(drain, graceful.shutdown()).await;
    if drained.is_err() {
        tracing::warn!(
            timeout_s = drain.as_secs_f64(),
            "requests still in flight after the drain timeout; closing"
        );
        hard_stop.cancel();
    }
    Ok(())
}

/// Pauses after `accept` fails for want of resources, so that a process out of file descriptors
/// does not spin; a connection that failed before it was accepted is passed over.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        return;
    }
    tracing::warn!(%error, "cannot accept a connection; pausing");
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}

/// Reads one request on a connection over the cap and answers `503 too_many_connections`, with
/// `Connection: close`.
async fn refuse(stream: TcpStream, max: usize) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_TIME)
        .keep_alive(false);
    let answer = hyper::service::service_fn(move |_request| async move {
        let mut response = ApiError::new(
            ErrorCode::TooManyConnections,
            format!("the server holds as many connections as it may ({max}); try again shortly"),
        )
        .with_details(json!({"max_connections": max}))
        .into_response();
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        headers.insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        Ok::<_, Infallible>(response)
    });
    if let Err(e) = builder.serve_connection(TokioIo::new(stream), answer).await {
        tracing::debug!(error = %e, "refusing a connection over the cap");
    }
}

/// When a connection last moved a byte, shared by its stream and its idle watch.
#[derive(Clone)]
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `timeout`.
    async fn idle(&self, timeout: Duration) {
        loop {
            let last = self.start + Duration::from_millis(self.last.load(Ordering::Relaxed));
            let deadline = last + timeout;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A stream that records its activity.
struct Watched {
    inner: TcpStream,
    activity: Activity,
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_leaves_room_for_the_store() {
        assert_eq!(default_max_connections(1024), 768);
        assert_eq!(default_max_connections(20_000), 17_500);
        assert_eq!(default_max_connections(65_536), 57_344);
        assert_eq!(default_max_connections(100), 16);
    }

    #[tokio::test]
    async fn idle_resolves_once_no_byte_has_moved_for_the_timeout() {
        let activity = Activity::new();
        tokio::time::sleep(Duration::from_millis(100)).await;
        activity.touch();
        let started = Instant::now();
        activity.idle(Duration::from_millis(200)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }
}
