//! How an episode comes into memory: claimed in the store (see [`crate::Store::claim`]),
//! restored from what it holds, its actor started; one load of an episode at a time in a
//! process, so that two requests that meet an episode not in memory start one actor under one
//! claim. And how a call reaches an actor that stopped under it (let go, fenced): it loads the
//! episode again.

use std::future::Future;
use std::sync::Arc;

use crate::error::{EngineError, Result, StoreError};
use crate::ids::EpisodeId;
use crate::pure::definition::WorkflowDef;
use crate::pure::episode::Episode;
use crate::record::EpisodeRecord;
use crate::runtime::actor::Handle;
use crate::runtime::engine::{Engine, lock};

/// How often a call tries an actor that stopped under it before it gives up.
const TRIES: usize = 3;

/// An episode to read ([`Engine::readable`]).
pub(crate) enum Readable {
    /// Its actor.
    Live(Handle),
    /// Its committed state restored from the store, with no actor: a finished episode, or one
    /// another process holds.
    Stored(Arc<WorkflowDef>, Box<Episode>),
}

impl Engine {
    /// The episode's actor, loading the episode when it is not in memory.
    pub(crate) async fn handle(&self, episode: EpisodeId) -> Result<Handle> {
        if let Some(handle) = lock(&self.shared.episodes).get(&episode) {
            return Ok(handle.clone());
        }
        let header = self.header(episode)?;
        self.load(episode, &header).await
    }

    /// Loads the episode whose stored header is `header` (its actor, if another call loaded it
    /// meanwhile).
    pub(crate) async fn load(&self, episode: EpisodeId, header: &EpisodeRecord) -> Result<Handle> {
        let gate = {
            let mut loading = lock(&self.shared.loading);
            loading.entry(episode).or_default().clone()
        };
        let loaded = async {
            let _one = gate.lock().await;
            if self.shared.is_shut_down() {
                return Err(EngineError::ShuttingDown);
            }
            // Another call may have loaded it while this one waited.
            if let Some(handle) = lock(&self.shared.episodes).get(&episode) {
                return Ok(handle.clone());
            }
            // Only an episode this process can run is claimed (a claim leaves a row in a shared
            // store, and keeps the others from the episode).
            self.definition_of(episode, header)?;
            // Claimed before it is read, so that what loads is what the last holder committed.
            let claim = self.shared.store.claim(episode).await?;
            let (def, restored) = self.restore(episode)?;
            let handle = self.shared.adopt(def, restored, claim);
            let recovered = crate::runtime::queued::recover(&self.shared, &[(episode, handle.clone())]).await;
            recovered.into_iter().next().unwrap_or(Ok(()))?;
            Ok(handle)
        }
        .await;
        let mut loading = lock(&self.shared.loading);
        // The map's and this call's: no one else waits on this gate. (Each call lets its gate
        // go under the map's lock, so the last one to finish sees two.)
        if Arc::strong_count(&gate) == 2 {
            loading.remove(&episode);
        }
        drop(gate);
        drop(loading);
        loaded
    }

    /// Runs `call` on the episode's actor; when the actor stopped under it (let go when this
    /// process's hold lapsed, or fenced) before it took the call, loads the episode again and
    /// tries once more. An actor that stops answers nothing it did not do, so the call is safe
    /// to send again.
    pub(crate) async fn on_actor<T, F, Fut>(&self, episode: EpisodeId, call: F) -> Result<T>
    where
        F: Fn(Handle) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.again_if_stopped(|| async { call(self.handle(episode).await?).await })
            .await
    }

    /// Runs `attempt` again (up to [`TRIES`] in all) while it fails because the actor it
    /// reached stopped under it and the engine is not shutting down.
    async fn again_if_stopped<T, Fut>(&self, attempt: impl Fn() -> Fut) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match attempt().await {
                Err(EngineError::ShuttingDown) if tries < TRIES && !self.shared.is_shut_down() => {}
                other => return other,
            }
        }
    }

    /// Runs `f` on the episode's committed state and its definition: in its actor, or on the
    /// state restored from the store (see [`Engine::readable`]); an actor that stopped under it
    /// is loaded again, as in [`Engine::on_actor`].
    pub(crate) async fn read<T, F>(&self, episode: EpisodeId, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&WorkflowDef, &Episode) -> T + Send + Sync + Clone + 'static,
    {
        self.again_if_stopped(|| async {
            match self.readable(episode).await? {
                Readable::Live(handle) => {
                    let (def, f) = (handle.def.clone(), f.clone());
                    handle.read(move |e| f(&def, e)).await
                }
                Readable::Stored(def, stored) => Ok(f(&def, &stored)),
            }
        })
        .await
    }

    /// An episode to read: its actor, or, for a finished episode that is not in memory (or one
    /// another process holds), its state restored from the store, so that reading an old
    /// episode starts no actor.
    pub(crate) async fn readable(&self, episode: EpisodeId) -> Result<Readable> {
        if let Some(handle) = lock(&self.shared.episodes).get(&episode) {
            return Ok(Readable::Live(handle.clone()));
        }
        let header = self.header(episode)?;
        if !header.status.is_finished() {
            match self.load(episode, &header).await {
                Ok(handle) => return Ok(Readable::Live(handle)),
                // What it committed last.
                Err(EngineError::Store(StoreError::Elsewhere { .. })) => {}
                Err(error) => return Err(error),
            }
        }
        let (def, restored) = self.restore(episode)?;
        Ok(Readable::Stored(def, Box::new(restored)))
    }

    /// An episode that is not in memory, from the store (finished episodes are not loaded at
    /// start: they load on first use).
    fn restore(&self, episode: EpisodeId) -> Result<(Arc<WorkflowDef>, Episode)> {
        let stored = self
            .shared
            .store
            .load_episode(episode)?
            .ok_or(EngineError::EpisodeNotFound(episode))?;
        let def = self.definition_of(episode, &stored.header)?;
        let restored = Episode::restore(&def, stored).map_err(|what| StoreError::Corrupt {
            episode: Some(episode),
            what,
        })?;
        Ok((def, restored))
    }

    /// The definition an episode was made with: `UnknownDefinition` when this engine does not
    /// have it (or recovery set the episode aside for that).
    fn definition_of(&self, episode: EpisodeId, header: &EpisodeRecord) -> Result<Arc<WorkflowDef>> {
        if let Some((workflow, version)) = lock(&self.shared.unavailable).get(&episode) {
            return Err(EngineError::UnknownDefinition {
                episode,
                workflow: workflow.clone(),
                version: version.clone(),
            });
        }
        self.shared
            .definition(&header.workflow, &header.definition_version)
            .ok_or_else(|| EngineError::UnknownDefinition {
                episode,
                workflow: header.workflow.clone(),
                version: header.definition_version.clone(),
            })
    }
}
