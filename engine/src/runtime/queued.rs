//! Runs queued for workers, from the holder's side (see [`crate::queue`]): pushing them once
//! the commit that started them is durable, withdrawing cancelled ones, and applying the
//! progress and results workers report for the episodes this process holds. Each result goes to
//! its episode's actor as a local run's would, and is acknowledged (removed from the queue) once
//! its commit is durable. A result applied twice is harmless: the episode drops reports of
//! attempts that are no longer running.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, Result};
use crate::ids::{EpisodeId, InstanceKey};
use crate::pure::command::Command;
use crate::queue::{QueuedRun, ReportedRun, RunQueue};
use crate::runtime::actor::{Handle, Msg};
use crate::runtime::engine::{Shared, lock};

/// How often the reported results are read when no notification came.
const POLL: Duration = Duration::from_millis(500);

type Applying = Arc<Mutex<HashSet<(EpisodeId, InstanceKey, u32)>>>;

/// Starts the task that applies reported results; it ends with the engine.
pub(crate) fn start(shared: &Arc<Shared>, queue: Arc<dyn RunQueue>) {
    let shared: Weak<Shared> = Arc::downgrade(shared);
    tokio::spawn(async move {
        let applying = Applying::default();
        let mut shown = HashMap::new();
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
            forward_progress(&shared, queue.as_ref(), &held, &mut shown).await;
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

/// The progress each run on a worker reported last, by its number, as already passed on.
type Shown = HashMap<(EpisodeId, InstanceKey, u32), u32>;

/// Passes the progress runs on workers reported since last time to their episodes' actors,
/// which show it as for a local run (a report of an attempt no longer running is dropped).
async fn forward_progress(shared: &Shared, queue: &dyn RunQueue, held: &[EpisodeId], shown: &mut Shown) {
    let progressing = match queue.progressing(held).await {
        Ok(progressing) => progressing,
        Err(error) => {
            tracing::debug!(%error, "reading the progress of runs on workers");
            return;
        }
    };
    let mut still = Shown::new();
    for p in progressing {
        let run = (p.episode, p.key.clone(), p.attempt);
        if shown.get(&run) != Some(&p.seq)
            && let Some(handle) = lock(&shared.episodes).get(&p.episode)
        {
            let _ = handle.tx.send(Msg::Command {
                command: Command::Progress {
                    key: p.key,
                    attempt: p.attempt,
                    fraction: p.fraction,
                    message: p.message,
                },
                reply: None,
                pins: None,
            });
        }
        still.insert(run, p.seq);
    }
    *shown = still;
}

/// Recovers `episodes`, just restored: the results workers reported for them are applied
/// first, and then `Recover` leaves the runs still queued or on workers to go on (they report
/// to whichever process holds the episode) and counts the others that were running as
/// interrupted, so that no run whose result waits, or that a worker is performing, is done
/// again. Every command is sent before any answer is awaited, so nothing the results start (a
/// downstream instance) comes between them and the recovery. What cannot be read now counts
/// as interrupted (the run is then done again). Gives each episode's recovery outcome, in order.
pub(crate) async fn recover(shared: &Arc<Shared>, episodes: &[(EpisodeId, Handle)]) -> Vec<Result<()>> {
    let mut reported = Vec::new();
    let mut in_flight = HashMap::new();
    if let Some(queue) = shared.queue.clone().filter(|_| !episodes.is_empty()) {
        let ids: Vec<EpisodeId> = episodes.iter().map(|(id, _)| *id).collect();
        // Runs in flight before results: a run reported in between is in the second read, and
        // applied; read the other way round, it would be in neither, and done again.
        in_flight = self::in_flight(queue.as_ref(), &ids).await;
        match queue.reported(&ids).await {
            Ok(runs) => reported = runs,
            Err(error) => tracing::warn!(%error, "reading the results workers reported for restored episodes"),
        }
    }
    // Sent in this order on the first poll of `join_all`: each episode's results, then its
    // recovery.
    let applied = reported.iter().filter_map(|run| {
        let handle = &episodes.iter().find(|(id, _)| *id == run.episode)?.1;
        Some(async move {
            let command = Command::Finished {
                key: run.key.clone(),
                attempt: run.attempt,
                result: run.produced(),
            };
            (run, handle.command(command).await)
        })
    });
    let recovered = episodes.iter().map(|(id, h)| {
        h.command(Command::Recover {
            in_flight: in_flight.remove(id).unwrap_or_default(),
        })
    });
    let (applied, recovered) = futures::future::join(join_all(applied), join_all(recovered)).await;
    if let Some(queue) = &shared.queue {
        for (run, outcome) in applied {
            if outcome_is_final(&outcome)
                && let Err(error) = queue.acknowledge(run.episode, &run.key, run.attempt).await
            {
                tracing::warn!(episode = %run.episode, %error, "acknowledging an applied result");
            }
        }
    }
    recovered
}

/// The runs of `episodes` in the queue (still queued, on workers, or reported and not applied
/// yet), by episode: each instance with its attempt (none, when the queue cannot be read: those
/// runs are then done again).
async fn in_flight(queue: &dyn RunQueue, episodes: &[EpisodeId]) -> HashMap<EpisodeId, Vec<(InstanceKey, u32)>> {
    match queue.in_flight(episodes).await {
        Ok(runs) => {
            let mut grouped: HashMap<EpisodeId, Vec<(InstanceKey, u32)>> = HashMap::new();
            for (episode, key, attempt) in runs {
                grouped.entry(episode).or_default().push((key, attempt));
            }
            grouped
        }
        Err(error) => {
            tracing::warn!(%error, "reading the runs in flight on workers");
            HashMap::new()
        }
    }
}

/// Whether a result's outcome settles it: applied, or refused by the episode (cancelled or
/// deleted meanwhile: nothing to apply it to); not when the store failed or the actor stopped.
fn outcome_is_final(outcome: &Result<()>) -> bool {
    match outcome {
        Ok(()) => true,
        Err(EngineError::Store(_) | EngineError::ShuttingDown) => false,
        Err(error) => {
            tracing::debug!(%error, "a reported result was not applied");
            true
        }
    }
}

/// Applies one result and acknowledges it once durable; a result whose commit failed stays in
/// the queue, for this process or the episode's next holder.
async fn apply(handle: Handle, queue: Arc<dyn RunQueue>, run: ReportedRun, applying: Applying) {
    let command = Command::Finished {
        key: run.key.clone(),
        attempt: run.attempt,
        result: run.produced(),
    };
    let applied = outcome_is_final(&handle.command(command).await);
    if applied && let Err(error) = queue.acknowledge(run.episode, &run.key, run.attempt).await {
        tracing::warn!(episode = %run.episode, %error, "acknowledging an applied result");
    }
    lock(&applying).remove(&(run.episode, run.key, run.attempt));
}

/// How long a push that failed waits before it is tried again.
const PUSH_RETRY: Duration = Duration::from_millis(500);

/// Queues a run for the workers, trying again while the store cannot be reached, until the run
/// is cancelled or its actor stops (the episode's next holder queues it again on recovery).
pub(crate) async fn push(queue: Arc<dyn RunQueue>, run: QueuedRun, cancel: CancellationToken) {
    loop {
        let error = tokio::select! {
            pushed = queue.push(&run) => match pushed {
                Ok(()) => return,
                Err(error) => error,
            },
            () = cancel.cancelled() => return,
        };
        tracing::warn!(episode = %run.episode, key = %run.run.key, %error, "queueing a run; trying again");
        tokio::select! {
            () = tokio::time::sleep(PUSH_RETRY) => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// Withdraws a cancelled run of `attempt` from the queue, in the background. A run left behind
/// is refused when it reports: its attempt is no longer the instance's.
pub(crate) fn withdraw(queue: Arc<dyn RunQueue>, episode: EpisodeId, key: InstanceKey, attempt: u32) {
    tokio::spawn(async move {
        if let Err(error) = queue.withdraw(episode, &key, attempt).await {
            tracing::warn!(%episode, %error, "withdrawing a cancelled run");
        }
    });
}
