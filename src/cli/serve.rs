//! `showrunner serve`: the HTTP API over the engine until SIGTERM or ctrl-c.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use showrunner::engine::{Engine, WorkerConfig};
use tokio_util::sync::CancellationToken;

use showrunner::nodes::backend::Embedder;
use showrunner::nodes::stages::Backends;
use showrunner::onnx::{Device, MINILM_MODEL as MINILM, MiniLmEmbedder};

use super::config::Config;
use super::remote::ServeMark;

/// Serves until a shutdown signal, then stops taking connections and drains the requests in
/// flight; the caller shuts the engine down after (runs in flight are re-queued durably by the
/// next start, as after a crash). Answers to requests with an `Idempotency-Key` are stored under
/// `data/api/idempotency`, so that retries get them across restarts.
/// Chat messages are classified with `embedder` (the configured embeddings model) when given,
/// else with MiniLM when it is installed, else with the built-in embedder.
pub async fn serve(
    engine: &Engine,
    data: &Path,
    config: &Config,
    embedder: Option<Arc<dyn Embedder>>,
    addr: SocketAddr,
    advertise: Option<String>,
    work: Option<WorkerConfig>,
) -> anyhow::Result<()> {
    let keys = config.api.api_keys()?;
    let upload_limit = config.api.upload_limit()?;
    let (header_timeout, idle_timeout, max_connections) = config.api.connection_limits()?;
    let site = config.api.site()?;
    raise_fd_limit();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    // One line that scripts (and the tests) read to find the port when `--addr` says port 0.
    println!("listening on http://{local}");
    std::io::stdout().flush().context("writing to stdout")?;
    // Where the CLI's read-only commands find the API while this process holds the store.
    let reachable = match local.ip() {
        ip if ip.is_unspecified() => SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), local.port()),
        _ => local,
    };
    let _mark = ServeMark::write(data, &format!("http://{reachable}"))?;
    // Where the other processes on a shared store send the requests for this one's episodes.
    let defaulted = advertise.is_none();
    let advertised = advertise.unwrap_or_else(|| format!("http://{reachable}"));
    let shared = engine
        .advertise(advertised.trim_end_matches('/'))
        .await
        .context("recording this server's URL in the store")?;
    if shared && defaulted && local.ip().is_unspecified() {
        eprintln!(
            "the other processes on the database reach this one at {advertised}, which only this machine can: \
             name this machine's address with --advertise"
        );
    }
    if keys.is_open() {
        eprintln!("no API keys configured: the API is open to anyone who can reach {local}");
    }
    let embedder = match embedder {
        Some(configured) => Ok(configured),
        None => chat_embedder(data),
    };
    let embedder = match embedder {
        Ok(embedder) => {
            eprintln!(
                "chat messages are classified with {} embeddings",
                embedder.generator().model
            );
            embedder
        }
        Err(why) => {
            eprintln!("chat messages are classified with the built-in embedder: {why}");
            Backends::procedural().embedder
        }
    };
    let mut api = showrunner_api::Api::new(engine.clone(), embedder)
        .data_dir(data)
        .keys(keys)
        .upload_limit(upload_limit)
        .site(site)
        .header_timeout(header_timeout)
        .idle_timeout(idle_timeout)
        .pages(showrunner_studio::router());
    if let Some(max) = max_connections {
        api = api.max_connections(max);
    }
    // On a shared store, this process performs queued runs too, unless `--no-work`.
    let stop_working = CancellationToken::new();
    let working = work.and_then(|config| {
        let id = config.id.clone();
        let worker = engine.worker(config)?.log(Arc::new(super::worker::print(&id)));
        eprintln!("performing queued runs here as worker {id}");
        Some(tokio::spawn(worker.run(stop_working.clone())))
    });
    let served = api.serve(listener, shutdown_signal()).await.context("serving HTTP");
    stop_working.cancel();
    if let Some(working) = working {
        let _ = working.await;
    }
    served?;
    eprintln!("shutting down");
    Ok(())
}

/// Raises this process's soft limit on open files to its hard limit, so that the connection cap
/// (by default derived from it) is as high as the system allows: the usual soft limit of 1024
/// would hold the server to 768 connections while the hard limit permits far more.
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

/// The MiniLM embedder when `minilm-l6` (and ONNX Runtime) are installed under `data/models`;
/// otherwise why not.
fn chat_embedder(data: &Path) -> Result<Arc<dyn Embedder>, String> {
    let registry = super::registry(data);
    if registry.manifest(MINILM).is_err() {
        return Err(format!(
            "`{MINILM}` is not installed (`showrunner models install onnxruntime {MINILM}` for real embeddings)"
        ));
    }
    MiniLmEmbedder::from_registry(&registry, MINILM, Device::Auto)
        .map(|e| Arc::new(e) as Arc<dyn Embedder>)
        .map_err(|e| e.to_string())
}

/// Resolves on ctrl-c or, on Unix, SIGTERM. When a handler cannot be installed, the other
/// signal still stops the server.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
