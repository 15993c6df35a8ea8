//! `showrunner worker`: performs the node runs queued in a PostgreSQL store until SIGTERM or
//! ctrl-c; and the worker settings and log that `serve` shares.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use showrunner::engine::{EpisodeId, Resource, Worker, WorkerConfig, WorkerEvent, WorkflowDef};
use showrunner::storage::{PgRunQueue, PgStore};
use tokio_util::sync::CancellationToken;

use super::args::Work;

/// The worker settings of `work`, with a new id.
pub(super) fn config(work: &Work, lease: Duration) -> WorkerConfig {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = match &work.slots {
        Some(slots) => slots.0.clone(),
        None => [(Resource::Cpu, cores), (Resource::Gpu, 1)].into(),
    };
    WorkerConfig {
        // A ULID, as the engine processes' ids are.
        id: EpisodeId::generate().to_string(),
        tags: work.tags.clone(),
        slots,
        lease,
        per_episode: work.per_episode,
    }
}

/// Prints a worker's log line to stdout: `run started|ended|released EPISODE KEY attempt=N
/// delivery=N at=MS` (for an end, when its work ended), and for an end whether it succeeded and
/// whether its result was taken.
pub(super) fn print(worker: &str) -> impl Fn(WorkerEvent) + Send + Sync + 'static {
    let worker = worker.to_owned();
    move |event| {
        let line = match event {
            WorkerEvent::Started { run, at } => format!(
                "run started {} {} attempt={} delivery={} at={at} worker={worker}",
                run.episode, run.key, run.attempt, run.delivery
            ),
            WorkerEvent::Released { run, at } => format!(
                "run released {} {} attempt={} delivery={} at={at} worker={worker}",
                run.episode, run.key, run.attempt, run.delivery
            ),
            WorkerEvent::Ended {
                run,
                at,
                accepted,
                succeeded,
            } => format!(
                "run ended {} {} attempt={} delivery={} at={at} worker={worker} result={} report={}",
                run.episode,
                run.key,
                run.attempt,
                run.delivery,
                if succeeded { "ok" } else { "failed" },
                if accepted { "accepted" } else { "refused" }
            ),
        };
        // A closed stdout (`| head`) loses the log, not the worker.
        let _ = writeln!(std::io::stdout(), "{line}");
    }
}

/// Runs a worker over the store at `url` until a shutdown signal.
pub(super) async fn run(
    url: &str,
    places: showrunner::Places<'_>,
    data: &std::path::Path,
    definitions: Vec<WorkflowDef>,
    work: &Work,
) -> anyhow::Result<()> {
    let store = Arc::new(PgStore::open(url).context("opening the PostgreSQL store (--store)")?);
    let queue = Arc::new(PgRunQueue::new(store.clone()));
    let blobs = showrunner::open_blobs(data, places.blobs).context("opening the blob store")?;
    let config = config(work, places.lease);
    let id = config.id.clone();
    let slots: Vec<String> = config
        .slots
        .iter()
        .map(|(r, n)| format!("{}={n}", format!("{r:?}").to_lowercase()))
        .collect();
    println!(
        "worker {id} on {}: slots {}, tags [{}]",
        showrunner::storage::redacted_url(url),
        slots.join(","),
        config.tags.join(",")
    );
    let worker =
        Worker::new(queue, store, blobs, definitions.into_iter().map(Arc::new), config).log(Arc::new(print(&id)));
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        super::serve::shutdown_signal().await;
        signal.cancel();
    });
    worker.run(stop).await;
    eprintln!("worker stopped");
    Ok(())
}
