//! Episodes held in a store several processes share: each episode is written by one live
//! process at a time (the store claims it and fences the others' commits). Here the engine
//! finds where a request for an episode belongs ([`Engine::home`]), lets every episode go when
//! its hold lapsed, and picks up the work of episodes whose process died.
//!
//! With a store of one process's own, every episode is here and none is ever unheld.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::error::{EngineError, Result, StoreError};
use crate::ids::EpisodeId;
use crate::runtime::actor;
use crate::runtime::actor::Handle;
use crate::runtime::engine::{Engine, Shared, lock};

/// How often the engine looks for work no live process holds, and for a lapsed hold.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// Where requests for an episode are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Home {
    /// In this process (which holds the episode now, or nobody needs to: it does not exist,
    /// it is finished, or it cannot load; the request's own handling says so).
    Here,
    /// In the live process that holds it, at the URL its API advertised (none when it serves
    /// no API: the request is to be retried).
    Elsewhere {
        /// Where that process's API answers.
        url: Option<String>,
    },
}

impl Engine {
    /// Where requests for `episode` are answered: here (claiming the episode when no live
    /// process holds it), or by the process that holds it. A request that only `reads` a
    /// finished episode is answered here from the store.
    pub async fn home(&self, episode: EpisodeId, reads: bool) -> Result<Home> {
        self.shared.let_go_if_lapsed();
        if self.shared.is_loaded(episode) {
            return Ok(Home::Here);
        }
        let header = match self.shared.store.load_header(episode)? {
            None => return Ok(Home::Here),
            Some(header) if reads && header.status.is_finished() => return Ok(Home::Here),
            Some(header) => header,
        };
        match self.load(episode, &header).await {
            Err(EngineError::Store(StoreError::Elsewhere { url, .. })) => Ok(Home::Elsewhere { url }),
            Err(EngineError::Store(error)) => Err(EngineError::Store(error)),
            // Anything else (an unknown definition, corrupt records) is the request's to report.
            _ => Ok(Home::Here),
        }
    }

    /// What this process's claims came to on a shared store (see [`crate::Store::hold_stats`]).
    pub fn hold_stats(&self) -> Option<crate::store::HoldStats> {
        self.shared.store.hold_stats()
    }

    /// How many runs wait and run in the queue the workers take runs from; `None` when this
    /// engine runs its own work.
    pub async fn queue_depth(&self) -> Option<Result<crate::queue::QueueDepth>> {
        let queue = self.shared.queue.clone()?;
        Some(queue.depth().await.map_err(Into::into))
    }

    /// A worker that performs this engine's queued runs (and any other engine's on the same
    /// store) with its definitions, store and blobs; `None` when this engine runs its own work.
    pub fn worker(&self, config: crate::runtime::worker::WorkerConfig) -> Option<crate::runtime::worker::Worker> {
        let queue = self.shared.queue.clone()?;
        Some(crate::runtime::worker::Worker::new(
            queue,
            self.shared.store.clone(),
            self.shared.blobs.clone(),
            self.definitions(),
            config,
        ))
    }

    /// Records where this process's HTTP API answers; false when the store is this process's
    /// own (see [`crate::Store::advertise`]).
    pub async fn advertise(&self, url: &str) -> Result<bool> {
        Ok(self.shared.store.advertise(url).await?)
    }

    /// Starts the task that lets every episode go when this process's hold lapsed, and resumes
    /// the work no live process holds; it ends with the engine.
    pub(crate) fn start_sweeping(&self) {
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SWEEP_EVERY).await;
                let Some(shared) = shared.upgrade() else { return };
                if shared.is_shut_down() {
                    return;
                }
                shared.let_go_if_lapsed();
                // The episodes let go last time are claimed again (their work goes on here,
                // unless another process took them meanwhile), with those no process holds.
                let let_go = std::mem::take(&mut *lock(&shared.let_go));
                let unheld = shared.store.unheld_work().unwrap_or_else(|error| {
                    tracing::warn!(%error, "looking for work no process holds");
                    Vec::new()
                });
                let engine = Engine { shared };
                for (episode, gone) in let_go
                    .into_iter()
                    .map(|e| (e, false))
                    .chain(unheld.into_iter().map(|e| (e, true)))
                {
                    match engine.handle(episode).await {
                        Ok(_) if gone => tracing::warn!(%episode, "resumed an episode whose process is gone"),
                        Ok(_) => {}
                        // Another process took it first.
                        Err(EngineError::Store(StoreError::Elsewhere { .. })) => {}
                        Err(error) => {
                            tracing::warn!(%episode, %error, "resuming an episode");
                            // A store that could not be reached is tried again next time (the
                            // database may be back by then).
                            if !gone && matches!(error, EngineError::Store(StoreError::Unavailable(_))) {
                                engine.shared.reload_later(episode);
                            }
                        }
                    }
                }
            }
        });
    }
}

impl Shared {
    /// Has the sweeper load `episode` afresh (claiming it again) on its next round, and on
    /// each after while the store fails.
    pub(crate) fn reload_later(&self, episode: EpisodeId) {
        let mut let_go = lock(&self.let_go);
        if !let_go.contains(&episode) {
            let_go.push(episode);
        }
    }

    /// Whether the episode has an actor in memory.
    pub(crate) fn is_loaded(&self, episode: EpisodeId) -> bool {
        lock(&self.episodes).contains_key(&episode)
    }

    /// Makes every actor unreachable, and returns their episodes and handles (to stop them).
    pub(crate) fn forget_all(&self) -> Vec<(EpisodeId, Handle)> {
        lock(&self.episodes).drain().collect()
    }

    /// Makes the actor whose channel is `tx` unreachable (it is stopping), unless another has
    /// taken its place.
    pub(crate) fn forget(&self, episode: EpisodeId, tx: &tokio::sync::mpsc::UnboundedSender<actor::Msg>) {
        let mut episodes = lock(&self.episodes);
        if episodes.get(&episode).is_some_and(|h| h.tx.same_channel(tx)) {
            episodes.remove(&episode);
        }
    }

    /// Whether [`Engine::shutdown`] was called.
    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.is_cancelled()
    }

    /// When the store says this process's hold lapsed, stops every episode actor (and their
    /// runs): another process may hold any of them now. Each is claimed again on its next use.
    pub(crate) fn let_go_if_lapsed(&self) {
        if !self.store.hold_lapsed() {
            return;
        }
        let forgotten = self.forget_all();
        if forgotten.is_empty() {
            return;
        }
        tracing::warn!(
            episodes = forgotten.len(),
            "this process's hold on its episodes lapsed: letting them go, to claim each again"
        );
        for (id, handle) in &forgotten {
            actor::stop(handle);
            self.reload_later(*id);
        }
    }
}
