//! Making episodes: new ones (alone or in a series, with an owner) and forks, each durable in
//! one commit with its idempotency record before its actor starts.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::idempotency::{IdempotencyRecord, IdempotencyToken, Outcome};
use crate::ids::{EpisodeId, SeriesId, now_ms};
use crate::pure::command::Command;
use crate::pure::definition::WorkflowDef;
use crate::pure::episode::Episode;
use crate::runtime::engine::Engine;
use crate::store::{BlobRef, Commit, EpisodeSnapshot};

impl Engine {
    /// Creates an episode of `workflow` with `input` (given to every node under `"episode"`);
    /// returns once it is durable and its first nodes are queued.
    pub async fn create_episode(&self, workflow: &str, input: Value, seed: u64) -> Result<EpisodeId> {
        let snapshot = self
            .create_owned_episode(None, None, workflow, input, seed, None)
            .await?;
        Ok(snapshot.header.id)
    }

    /// Creates an episode of `workflow` in `series`: the series' current content joins the
    /// input under `"series"` (with its `id`, `title` and `revision`), copied now so that later
    /// changes to the series leave the episode as it was made. `input` must be an object.
    pub async fn create_series_episode(
        &self,
        series: SeriesId,
        workflow: &str,
        input: Value,
        seed: u64,
    ) -> Result<EpisodeId> {
        let snapshot = self
            .create_owned_episode(None, Some(series), workflow, input, seed, None)
            .await?;
        Ok(snapshot.header.id)
    }

    /// Creates an episode that belongs to `owner` (a user or team; see
    /// [`EpisodeRecord::owner`](crate::EpisodeRecord::owner)), in `series` when given (as
    /// [`Engine::create_series_episode`]), with `token`'s idempotency record in the creating
    /// commit, so that a retry after a crash finds this episode instead of making a second.
    /// Answers with the episode as that commit wrote it, once its first nodes are queued.
    pub async fn create_owned_episode(
        &self,
        owner: Option<String>,
        series: Option<SeriesId>,
        workflow: &str,
        input: Value,
        seed: u64,
        token: Option<IdempotencyToken>,
    ) -> Result<EpisodeSnapshot> {
        self.create_variant_episode(owner, series, (workflow, None), input, seed, token)
            .await
    }

    /// [`Engine::create_owned_episode`] under a variant of the workflow (`(workflow, Some(variant))`,
    /// see [`Engine::workflow_variant`]); a variant the workflow does not have is
    /// [`EngineError::UnknownVariant`].
    pub async fn create_variant_episode(
        &self,
        owner: Option<String>,
        series: Option<SeriesId>,
        (workflow, variant): (&str, Option<&str>),
        mut input: Value,
        seed: u64,
        token: Option<IdempotencyToken>,
    ) -> Result<EpisodeSnapshot> {
        if let Some(series) = series {
            let record = self.series(series)?;
            let fields = input
                .as_object_mut()
                .ok_or_else(|| EngineError::InvalidInput("an episode in a series needs an object input".into()))?;
            fields.insert("series".into(), crate::series::as_input(&record));
        }
        let def = self
            .workflow(workflow)
            .ok_or_else(|| EngineError::UnknownWorkflow(workflow.to_owned()))?;
        let def = match variant {
            None => def,
            Some(variant) => self
                .workflow_variant(workflow, variant)
                .ok_or_else(|| EngineError::UnknownVariant(workflow.to_owned(), variant.to_owned()))?,
        };
        let _pinned = self.pin_existing(&input).await?;
        let id = EpisodeId::generate();
        let (mut episode, changes) = Episode::create(&def, id, input, seed, now_ms());
        if let Some(series) = series {
            episode.set_series(series);
        }
        if owner.is_some() {
            episode.set_owner(owner);
        }
        self.start_new(def, episode, changes, token).await
    }

    /// Makes a new episode durable (with `token`'s record in the same commit) and starts its
    /// actor; answers with the episode as committed.
    async fn start_new(
        &self,
        def: Arc<WorkflowDef>,
        mut episode: Episode,
        mut changes: crate::pure::command::Changes,
        token: Option<IdempotencyToken>,
    ) -> Result<EpisodeSnapshot> {
        let now = now_ms();
        let mut commit = Commit::new(episode.id());
        commit.events = episode.number_events(std::mem::take(&mut changes.events), now);
        commit.header = Some(episode.header().clone());
        episode.take_header_dirty();
        commit.runnable = Some(episode.has_work());
        changes.dirty = episode.instances().map(|r| r.key.clone()).collect();
        (commit.instances, commit.versions) = episode.commit_records(&def, &mut changes)?;
        let snapshot = EpisodeSnapshot {
            header: episode.header().clone(),
            instances: episode.instances().cloned().collect(),
        };
        if let Some(token) = token {
            let outcome = Outcome::Created {
                snapshot: snapshot.clone(),
            };
            commit.idempotency.push(IdempotencyRecord::new(token, now, outcome));
        }
        commit.claim = self.shared.store.claim(episode.id()).await?;
        let claim = commit.claim;
        self.shared.store.commit(commit).await?;
        let handle = self.shared.adopt(def, episode, claim);
        // The new episode's first effects (its roots queued) go through the actor like any other.
        handle.command(Command::Recover { in_flight: Vec::new() }).await?;
        Ok(snapshot)
    }

    /// Forks an episode: a new episode with the same versions and pointers (values copied, blobs
    /// shared), for A/B comparison, with the source's owner. Runs in flight are not inherited.
    pub async fn fork(&self, episode: EpisodeId) -> Result<EpisodeId> {
        Ok(self.fork_episode(episode, None, None).await?.header.id)
    }

    /// Forks an episode as [`Engine::fork`] does, the fork belonging to `owner` (whoever forked
    /// it) rather than to the source's owner, with `token`'s idempotency record in the new
    /// episode's creating commit; answers with the new episode as that commit wrote it.
    pub async fn fork_as(
        &self,
        episode: EpisodeId,
        owner: Option<String>,
        token: Option<IdempotencyToken>,
    ) -> Result<EpisodeSnapshot> {
        self.fork_episode(episode, Some(owner), token).await
    }

    /// A fork; `owner` replaces the source's owner when given.
    async fn fork_episode(
        &self,
        episode: EpisodeId,
        owner: Option<Option<String>>,
        token: Option<IdempotencyToken>,
    ) -> Result<EpisodeSnapshot> {
        let handle = self.handle(episode).await?;
        let source = handle.read(|e| e.clone()).await?;
        let id = EpisodeId::generate();
        let (mut forked, mut changes) = source.fork(&handle.def, id, now_ms());
        if let Some(owner) = owner {
            forked.set_owner(owner);
        }
        // The source may be deleted meanwhile: its blobs are pinned until the fork is durable.
        let mut blobs = BlobRef::find_all(&forked.header().input);
        blobs.extend(
            forked
                .instances()
                .flat_map(|r| r.versions.iter().flat_map(|v| v.blobs.iter().copied())),
        );
        let _pinned = self.pin_blobs(blobs).await?;
        for record in forked.instances() {
            for version in &record.versions {
                let value = self.shared.store.version_value(episode, &record.key, version.n)?;
                changes.values.push((record.key.clone(), version.n, Arc::new(value)));
            }
        }
        self.start_new(handle.def.clone(), forked, changes, token).await
    }
}
