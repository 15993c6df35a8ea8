//! Applying the results that workers reported for the episodes this process holds (see
//! [`crate::queue`]): each goes to its episode's actor as a local run's would, and is
//! acknowledged (removed from the queue) once its commit is durable. A result applied twice is
//! harmless: the episode drops reports of attempts that are no longer running.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::error::EngineError;
use crate::ids::{EpisodeId, InstanceKey};
use crate::pure::command::Command;
use crate::queue::{ReportedRun, RunQueue};
use crate::runtime::actor::Handle;
use crate::runtime::engine::{Shared, lock};

/// How often the reported results are read when no notification came.
const POLL: Duration = Duration::from_millis(500);

type Applying = Arc<Mutex<HashSet<(EpisodeId, InstanceKey, u32)>>>;

/// Starts the task that applies reported results; it ends with the engine.
pub(crate) fn start(shared: &Arc<Shared>, queue: Arc<dyn RunQueue>) {
    let shared: Weak<Shared> = Arc::downgrade(shared);
    tokio::spawn(async move {
        let applying = Applying::default();
        loop {
            queue.wait_for_results(POLL).await;
            let Some(shared) = shared.upgrade() else { return };
            if shared.is_shut_down() {
                return;
            }
            let held: Vec<EpisodeId> = lock(&shared.episodes).keys().copied().collect();
            if held.is_empty() {
                continue;
            }
            let reported = match queue.reported(&held).await {
                Ok(reported) => reported,
                Err(error) => {
                    tracing::warn!(%error, "reading the results workers reported");
                    continue;
                }
            };
            for run in reported {
                if !lock(&applying).insert((run.episode, run.key.clone(), run.attempt)) {
                    continue;
                }
                let handle = lock(&shared.episodes).get(&run.episode).cloned();
                match handle {
                    Some(handle) => {
                        tokio::spawn(apply(handle, queue.clone(), run, applying.clone()));
                    }
                    None => {
                        lock(&applying).remove(&(run.episode, run.key, run.attempt));
                    }
                }
            }
        }
    });
}

/// Applies the results workers reported for `episodes`, just restored, before their recovery
/// counts the runs still in flight as interrupted: a run whose result waits is not done again.
/// What cannot be read now is left for the collector (the run is then done again).
pub(crate) async fn apply_waiting(shared: &Arc<Shared>, episodes: &[(EpisodeId, Handle)]) {
    let Some(queue) = shared.queue.clone() else { return };
    if episodes.is_empty() {
        return;
    }
    let ids: Vec<EpisodeId> = episodes.iter().map(|(id, _)| *id).collect();
    let reported = match queue.reported(&ids).await {
        Ok(reported) => reported,
        Err(error) => {
            tracing::warn!(%error, "reading the results workers reported for restored episodes");
            return;
        }
    };
    let applying = Applying::default();
    let runs = reported.into_iter().filter_map(|run| {
        let handle = episodes.iter().find(|(id, _)| *id == run.episode)?.1.clone();
        lock(&applying).insert((run.episode, run.key.clone(), run.attempt));
        Some(apply(handle, queue.clone(), run, applying.clone()))
    });
    futures::future::join_all(runs).await;
}

/// Applies one result and acknowledges it once durable; a result whose commit failed stays in
/// the queue, for this process or the episode's next holder.
async fn apply(handle: Handle, queue: Arc<dyn RunQueue>, run: ReportedRun, applying: Applying) {
    let command = Command::Finished {
        key: run.key.clone(),
        attempt: run.attempt,
        result: run.produced(),
    };
    let applied = match handle.command(command).await {
        Ok(()) => true,
        Err(EngineError::Store(_) | EngineError::ShuttingDown) => false,
        // Refused by the episode (cancelled, deleted meanwhile): nothing to apply it to.
        Err(error) => {
            tracing::debug!(episode = %run.episode, key = %run.key, %error, "a reported result was not applied");
            true
        }
    };
    if applied && let Err(error) = queue.acknowledge(run.episode, &run.key, run.attempt).await {
        tracing::warn!(episode = %run.episode, %error, "acknowledging an applied result");
    }
    lock(&applying).remove(&(run.episode, run.key, run.attempt));
}
