//! The engine: the registry of workflow definitions, the episode actors, the scheduler, and the
//! API that workflows, the CLI and the HTTP facade call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::error::{EngineError, Result};
use crate::events::{Event, Speaker};
use crate::idempotency::{IdempotencyRecord, IdempotencyToken, Outcome};
use crate::ids::{ContentHash, EpisodeId, InstanceKey};
use crate::pure::command::Command;
use crate::pure::definition::{Resource, WorkflowDef};
use crate::pure::episode::Episode;
use crate::pure::scheduler::{Scheduler, Ticket};
use crate::queue::RunQueue;
use crate::record::{EpisodeRecord, EpisodeStatus, InstanceRecord};
use crate::runtime::actor::{self, Handle};
use crate::runtime::pins::Pins;
use crate::runtime::recovery::RecoveryReport;
use crate::runtime::subscription::EventStream;
use crate::store::{BlobRef, BlobStore, Claim, EpisodeSnapshot, Store};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Concurrent runs per resource, for runs performed in this process.
    pub limits: BTreeMap<Resource, usize>,
    /// Where the episodes' runs are performed.
    pub runs: Placement,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            limits: BTreeMap::from([(Resource::Cpu, cores), (Resource::Gpu, 1)]),
            runs: Placement::Local,
        }
    }
}

/// Where an engine's episodes' runs are performed.
#[derive(Clone, Default)]
pub enum Placement {
    /// In this process, under [`EngineConfig::limits`].
    #[default]
    Local,
    /// By the workers that take them from this queue (see [`crate::queue`]); the engine applies
    /// their results.
    Queue(Arc<dyn RunQueue>),
}

impl std::fmt::Debug for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Placement::Local => "Local",
            Placement::Queue(_) => "Queue",
        })
    }
}

/// Workflow definitions by name and version; the last registered version of a name is the one
/// new episodes use.
#[derive(Default)]
struct Registry {
    versions: HashMap<(String, String), Arc<WorkflowDef>>,
    latest: HashMap<String, Arc<WorkflowDef>>,
    variants: HashMap<(String, String), Arc<WorkflowDef>>,
}

/// State shared by the engine handle and the actors.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    registry: RwLock<Registry>,
    pub(crate) episodes: Mutex<HashMap<EpisodeId, Handle>>,
    /// Episodes whose definition version is not registered: left untouched.
    pub(crate) unavailable: Mutex<HashMap<EpisodeId, (String, String)>>,
    scheduler: Mutex<Scheduler>,
    actors: Mutex<Vec<JoinHandle<()>>>,
    /// Serialises series updates, so that a revision check and its write are one step.
    pub(crate) series_writes: tokio::sync::Mutex<()>,
    /// Blobs written or named for commits that have not resolved yet (see [`crate::runtime::pins`]).
    pub(crate) pins: Arc<Pins>,
    /// One blob collection at a time.
    pub(crate) collecting: tokio::sync::Mutex<()>,
    /// Cancelled by [`Engine::shutdown`].
    pub(crate) shut_down: CancellationToken,
    /// One load at a time per episode (see [`crate::runtime::loading`]).
    pub(crate) loading: Mutex<HashMap<EpisodeId, Arc<tokio::sync::Mutex<()>>>>,
    /// Episodes let go when this process's hold lapsed, to claim again (see
    /// [`crate::runtime::holding`]).
    pub(crate) let_go: Mutex<Vec<EpisodeId>>,
    /// The queue the episodes' runs go to, when workers perform them.
    pub(crate) queue: Option<Arc<dyn RunQueue>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn enqueue(&self, resource: Resource, ticket: Ticket) {
        lock(&self.scheduler).enqueue(resource, ticket);
    }

    /// Hands free slots to queued instances.
    pub(crate) fn dispatch(&self) {
        loop {
            let grants = lock(&self.scheduler).grant();
            if grants.is_empty() {
                return;
            }
            let episodes = lock(&self.episodes);
            let mut lost = Vec::new();
            for (resource, ticket) in grants {
                let sent = episodes.get(&ticket.episode).is_some_and(|h| {
                    h.tx.send(actor::Msg::Start {
                        key: ticket.key,
                        resource,
                    })
                    .is_ok()
                });
                if !sent {
                    lost.push(resource);
                }
            }
            drop(episodes);
            if lost.is_empty() {
                return;
            }
            let mut scheduler = lock(&self.scheduler);
            for resource in lost {
                scheduler.release(resource);
            }
        }
    }

    /// Frees a slot and hands it on.
    pub(crate) fn release(&self, resource: Resource) {
        lock(&self.scheduler).release(resource);
        self.dispatch();
    }

    pub(crate) fn definition(&self, workflow: &str, version: &str) -> Option<Arc<WorkflowDef>> {
        let registry = self.registry.read().unwrap_or_else(|e| e.into_inner());
        registry
            .versions
            .get(&(workflow.to_owned(), version.to_owned()))
            .cloned()
    }

    /// Starts the actor of a restored or new episode and makes it reachable.
    pub(crate) fn adopt(self: &Arc<Self>, def: Arc<WorkflowDef>, episode: Episode, claim: Claim) -> Handle {
        let id = episode.id();
        let (handle, task) = actor::spawn(self.clone(), def, episode, claim);
        let mut actors = lock(&self.actors);
        actors.retain(|t| !t.is_finished());
        actors.push(task);
        drop(actors);
        lock(&self.episodes).insert(id, handle.clone());
        handle
    }
}

/// The workflow engine. Cheap to clone; every clone drives the same episodes.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl Engine {
    /// Opens the engine over a store: registers `definitions`, loads every unfinished episode,
    /// puts interrupted runs back in the queue (their attempt counts), and starts scheduling.
    /// Episodes whose definition version is not registered, and episodes whose records are
    /// corrupt, are listed in the report and left untouched; the others run.
    pub async fn open(
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        definitions: impl IntoIterator<Item = WorkflowDef>,
        config: EngineConfig,
    ) -> Result<(Self, RecoveryReport)> {
        let shared = Arc::new(Shared {
            store,
            blobs,
            registry: RwLock::new(Registry::default()),
            episodes: Mutex::new(HashMap::new()),
            unavailable: Mutex::new(HashMap::new()),
            scheduler: Mutex::new(Scheduler::new(&config.limits)),
            actors: Mutex::new(Vec::new()),
            series_writes: tokio::sync::Mutex::new(()),
            pins: Arc::default(),
            collecting: tokio::sync::Mutex::new(()),
            shut_down: CancellationToken::new(),
            let_go: Mutex::new(Vec::new()),
            loading: Mutex::new(HashMap::new()),
            queue: match config.runs {
                Placement::Local => None,
                Placement::Queue(queue) => Some(queue),
            },
        });
        let engine = Self { shared };
        for def in definitions {
            engine.register(def);
        }
        let report = crate::runtime::recovery::recover(&engine.shared).await?;
        engine.start_sweeping();
        if let Some(queue) = engine.shared.queue.clone() {
            crate::runtime::queued::start(&engine.shared, queue);
        }
        Ok((engine, report))
    }

    /// Registers a workflow definition; new episodes of its name use it, or, for a variant,
    /// those that ask for the variant ([`WorkflowBuilder::variant`](crate::WorkflowBuilder::variant)).
    pub fn register(&self, def: WorkflowDef) -> Arc<WorkflowDef> {
        let def = Arc::new(def);
        let mut registry = self.shared.registry.write().unwrap_or_else(|e| e.into_inner());
        registry
            .versions
            .insert((def.name().to_owned(), def.version().to_owned()), def.clone());
        match def.variant() {
            Some(variant) => registry
                .variants
                .insert((def.name().to_owned(), variant.to_owned()), def.clone()),
            None => registry.latest.insert(def.name().to_owned(), def.clone()),
        };
        def
    }

    /// The definition new episodes of `workflow` use.
    pub fn workflow(&self, workflow: &str) -> Option<Arc<WorkflowDef>> {
        let registry = self.shared.registry.read().unwrap_or_else(|e| e.into_inner());
        registry.latest.get(workflow).cloned()
    }

    /// The definition new episodes of `workflow` use when they ask for `variant`.
    pub fn workflow_variant(&self, workflow: &str, variant: &str) -> Option<Arc<WorkflowDef>> {
        let registry = self.shared.registry.read().unwrap_or_else(|e| e.into_inner());
        registry
            .variants
            .get(&(workflow.to_owned(), variant.to_owned()))
            .cloned()
    }

    /// The definition of `workflow` at `version`, when it is registered (the one an episode
    /// was made with).
    pub fn workflow_version(&self, workflow: &str, version: &str) -> Option<Arc<WorkflowDef>> {
        let registry = self.shared.registry.read().unwrap_or_else(|e| e.into_inner());
        registry
            .versions
            .get(&(workflow.to_owned(), version.to_owned()))
            .cloned()
    }

    /// Every registered definition, each version of each workflow (a worker runs the runs of
    /// any of them).
    pub fn definitions(&self) -> Vec<Arc<WorkflowDef>> {
        let registry = self.shared.registry.read().unwrap_or_else(|e| e.into_inner());
        registry.versions.values().cloned().collect()
    }

    /// Every registered workflow's current definition, by name.
    pub fn workflows(&self) -> Vec<Arc<WorkflowDef>> {
        let registry = self.shared.registry.read().unwrap_or_else(|e| e.into_inner());
        let mut defs: Vec<_> = registry.latest.values().cloned().collect();
        defs.sort_by(|a, b| a.name().cmp(b.name()));
        defs
    }

    /// An episode's header (its owner, workflow, series, status), read from the store without
    /// loading the episode.
    pub fn header(&self, episode: EpisodeId) -> Result<EpisodeRecord> {
        self.shared
            .store
            .load_header(episode)?
            .ok_or(EngineError::EpisodeNotFound(episode))
    }

    /// How many episodes have an actor in memory: those with work or waiting at a gate, and
    /// those acted on since the engine opened.
    pub fn loaded(&self) -> usize {
        lock(&self.shared.episodes).len()
    }

    async fn command(&self, episode: EpisodeId, command: Command) -> Result<()> {
        self.on_actor(episode, |handle| {
            let command = command.clone();
            async move { handle.command(command).await }
        })
        .await
    }

    /// Applies a person's action (approve, regenerate, edit, select, revert, cancel) with
    /// `token`'s idempotency record in the commit that makes it durable, and answers with what
    /// it produced: the instance acted on, or for `cancel` the episode. Other commands are
    /// refused as invalid input: they belong to the engine.
    pub async fn act(&self, episode: EpisodeId, command: Command, token: Option<IdempotencyToken>) -> Result<Outcome> {
        // An edit's value may name blobs: they must exist, and stay until the edit is durable.
        let _pinned = match &command {
            Command::Edit { value, .. } => Some(self.pin_existing(value).await?),
            _ => None,
        };
        match command {
            Command::Approve { .. }
            | Command::Regenerate { .. }
            | Command::Edit { .. }
            | Command::Select { .. }
            | Command::Revert { .. }
            | Command::Cancel => {
                self.on_actor(episode, |handle| {
                    let (command, token) = (command.clone(), token.clone());
                    async move { handle.act(command, token).await }
                })
                .await
            }
            other => Err(EngineError::InvalidInput(format!(
                "`{}` is not a person's action",
                other.name()
            ))),
        }
    }

    /// The idempotency record stored under `key` (see [`IdempotencyToken::key`]): the outcome
    /// of the action first made with it, or `None` when no action with it is durable.
    pub fn idempotent(&self, key: &str) -> Result<Option<IdempotencyRecord>> {
        Ok(self.shared.store.idempotency(key)?)
    }

    /// Approves `version` of an instance waiting at its gate.
    pub async fn approve(&self, episode: EpisodeId, key: InstanceKey, version: u32) -> Result<()> {
        self.command(episode, Command::Approve { key, version }).await
    }

    /// Runs an instance again with feedback and a new seed. `version`, when given, must be the
    /// current one.
    pub async fn regenerate(
        &self,
        episode: EpisodeId,
        key: InstanceKey,
        feedback: Option<String>,
        version: Option<u32>,
    ) -> Result<()> {
        self.command(episode, Command::Regenerate { key, feedback, version })
            .await
    }

    /// Stores a person's version of an instance's output (made from `base_version`, the current
    /// one) and goes on with it; readers whose input changed become stale.
    pub async fn edit(
        &self,
        episode: EpisodeId,
        key: InstanceKey,
        value: Value,
        base_version: Option<u32>,
    ) -> Result<()> {
        let _pinned = self.pin_existing(&value).await?;
        self.command(
            episode,
            Command::Edit {
                key,
                value,
                base_version,
            },
        )
        .await
    }

    /// Picks one candidate of a `Candidates` gate.
    pub async fn select(&self, episode: EpisodeId, key: InstanceKey, version: u32) -> Result<()> {
        self.command(episode, Command::Select { key, version }).await
    }

    /// Moves an instance's pointer back to an older version and approves it.
    pub async fn revert(&self, episode: EpisodeId, key: InstanceKey, version: u32) -> Result<()> {
        self.command(episode, Command::Revert { key, version }).await
    }

    /// Pauses an episode: running nodes are interrupted (and re-queued on resume).
    pub async fn pause(&self, episode: EpisodeId) -> Result<()> {
        self.command(episode, Command::Pause).await
    }

    /// Resumes a paused episode.
    pub async fn resume(&self, episode: EpisodeId) -> Result<()> {
        self.command(episode, Command::Resume).await
    }

    /// Cancels an episode: running nodes are cancelled, approved work is kept.
    pub async fn cancel(&self, episode: EpisodeId) -> Result<()> {
        self.command(episode, Command::Cancel).await
    }

    /// Deletes an episode and everything stored for it (blobs are collected later).
    pub async fn delete(&self, episode: EpisodeId) -> Result<()> {
        let handle = lock(&self.shared.episodes).remove(&episode);
        match handle {
            Some(handle) => actor::stop(&handle),
            None if self.shared.store.load_header(episode)?.is_none() => {
                return Err(EngineError::EpisodeNotFound(episode));
            }
            // Refused while another live process holds it.
            None => {
                self.shared.store.claim(episode).await?;
            }
        }
        lock(&self.shared.unavailable).remove(&episode);
        self.shared.store.delete_episode(episode).await?;
        Ok(())
    }

    /// The episode's committed state.
    pub async fn snapshot(&self, episode: EpisodeId) -> Result<EpisodeSnapshot> {
        self.read(episode, |_, e| EpisodeSnapshot {
            header: e.header().clone(),
            instances: e.instances().cloned().collect(),
        })
        .await
    }

    /// One instance's committed state.
    pub async fn instance(&self, episode: EpisodeId, key: &InstanceKey) -> Result<InstanceRecord> {
        let not_found = || EngineError::InstanceNotFound {
            episode,
            key: key.clone(),
        };
        let wanted = key.clone();
        self.read(episode, move |def, e| e.instance(def, &wanted).cloned())
            .await?
            .ok_or_else(not_found)
    }

    /// The value of version `n` of an instance.
    pub fn version_value(&self, episode: EpisodeId, key: &InstanceKey, n: u32) -> Result<Value> {
        Ok(self.shared.store.version_value(episode, key, n)?)
    }

    /// Appends a line to the episode's conversation (an event in its log).
    pub async fn note(&self, episode: EpisodeId, author: Speaker, text: String, data: Value) -> Result<()> {
        self.command(episode, Command::Note { author, text, data }).await
    }

    /// Up to `limit` stored events of `episode` from sequence number `from_seq` on, in order.
    pub fn events(&self, episode: EpisodeId, from_seq: u64, limit: usize) -> Result<Vec<Event>> {
        Ok(self.shared.store.events(episode, from_seq, limit)?)
    }

    /// The ids of the episodes with `status`.
    pub fn episodes(&self, status: EpisodeStatus) -> Result<Vec<EpisodeId>> {
        Ok(self.shared.store.episodes_with_status(status)?)
    }

    /// The shortest grace a blob collection uses here (see [`Store::min_collection_grace`]).
    pub fn min_collection_grace(&self) -> Duration {
        self.shared.store.min_collection_grace()
    }

    /// A page of episodes whose status is in `statuses` (any when empty), newest first, after
    /// `before` when given: at most `limit`, each with its status (see [`Store::episodes_page`]).
    pub fn episode_page(
        &self,
        statuses: &[EpisodeStatus],
        before: Option<EpisodeId>,
        limit: usize,
    ) -> Result<Vec<(EpisodeId, EpisodeStatus)>> {
        Ok(self.shared.store.episodes_page(statuses, before, limit)?)
    }

    /// Events of `episode` from sequence number `from_seq` on: stored ones, then live ones, from
    /// its actor here, or from the store's feed when another process holds it.
    pub async fn subscribe(&self, episode: EpisodeId, from_seq: u64) -> Result<EventStream> {
        let store = self.shared.store.clone();
        match self.handle(episode).await {
            Ok(handle) => Ok(EventStream::new(
                &self.shared,
                episode,
                handle.events.subscribe(),
                from_seq,
            )),
            Err(EngineError::Store(crate::error::StoreError::Elsewhere { episode, url })) => {
                match store.event_feed().map(|feed| feed.watch(episode)) {
                    Some(watch) => Ok(EventStream::fed(&self.shared, episode, watch, from_seq)),
                    None => Err(EngineError::Store(crate::error::StoreError::Elsewhere { episode, url })),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Whether this process streams the events of episodes other processes hold (the store
    /// tells it of their commits), so that a request for them need not be passed on.
    pub fn streams_any_episode(&self) -> bool {
        self.shared.store.event_feed().is_some()
    }

    /// Waits until `done` holds for the episode's committed state, or `timeout` passes.
    pub async fn wait_until(
        &self,
        episode: EpisodeId,
        timeout: Duration,
        done: impl Fn(&EpisodeSnapshot) -> bool,
    ) -> Result<Option<EpisodeSnapshot>> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut snapshot = self.snapshot(episode).await?;
        let mut events = self.subscribe(episode, snapshot.header.next_seq).await?;
        loop {
            if done(&snapshot) {
                return Ok(Some(snapshot));
            }
            match tokio::time::timeout_at(deadline, events.next()).await {
                Err(_) => return Ok(None),
                Ok(None) => return Err(EngineError::ShuttingDown),
                Ok(Some(event)) => {
                    event?;
                }
            }
            snapshot = self.snapshot(episode).await?;
        }
    }

    /// Every blob an episode references: those of its stored versions (all of them, not only
    /// the current ones) and those in its input (a series' reference images). Read from the
    /// store, so that it starts no actor.
    pub fn episode_blobs(&self, episode: EpisodeId) -> Result<HashSet<ContentHash>> {
        let stored = self
            .shared
            .store
            .load_episode(episode)?
            .ok_or(EngineError::EpisodeNotFound(episode))?;
        let mut blobs: HashSet<ContentHash> = BlobRef::find_all(&stored.header.input).into_iter().collect();
        for record in &stored.instances {
            for version in &record.versions {
                blobs.extend(version.blobs.iter().copied());
            }
        }
        Ok(blobs)
    }

    /// The blob store nodes write to.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.shared.blobs
    }

    /// The store the episodes are committed to, for reading them as they stand there.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// Stops every episode actor, cancels runs in flight and waits for them, and ends the event
    /// streams. Their instances stay `Running` on disk and are re-queued by the next
    /// [`Engine::open`] (or, on a shared store, by the process that takes the episode: this one
    /// gives its episodes up), as after a crash; runs queued for workers go on, and are taken
    /// over. The store closes when the last clone of the engine is dropped.
    pub async fn shutdown(&self) {
        self.shared.shut_down.cancel();
        let handles = self.shared.forget_all();
        for (_, handle) in &handles {
            actor::stop(handle);
        }
        let tasks: Vec<JoinHandle<()>> = lock(&self.shared.actors).drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
        // Every actor has stopped: the others may take its episodes now.
        if let Err(error) = self.shared.store.release_all().await {
            tracing::warn!(%error, "giving this process's episodes up");
        }
    }
}

impl Drop for Shared {
    /// An engine dropped without [`Engine::shutdown`] ends its event streams all the same.
    fn drop(&mut self) {
        self.shut_down.cancel();
    }
}

impl Shared {
    pub(crate) fn mark_unavailable(&self, episode: EpisodeId, workflow: String, version: String) {
        lock(&self.unavailable).insert(episode, (workflow, version));
    }
}
