//! The episode actor: the one writer of an episode. It applies commands to the pure core in
//! batches, commits each batch durably, and only then publishes events, performs effects and
//! answers callers.
//!
//! Ordering hazard, written down where it matters: the in-memory episode runs ahead of the disk
//! while a batch is being committed. Nothing leaves the actor (no event, no reply, no run)
//! before the commit resolves; if it fails, the episode is reloaded from the store, so memory
//! never keeps a state the disk does not have.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::error::{EngineError, Result, StoreError};
use crate::events::Event;
use crate::idempotency::{IdempotencyRecord, IdempotencyToken, Outcome};
use crate::ids::{InstanceKey, Timestamp, now_ms};
use crate::pure::command::{Changes, Command, Effect, RunSpec};
use crate::pure::definition::{Resource, WorkflowDef};
use crate::pure::episode::Episode;
use crate::pure::scheduler::Ticket;
use crate::queue::QueuedRun;
use crate::runtime::engine::Shared;
use crate::runtime::pins::{Pinned, PinningBlobs};
use crate::runtime::queued;
use crate::runtime::run::{RunContext, Sources, ValueCache, assemble, execute};
use crate::store::{Claim, Commit, EpisodeSnapshot};

/// The most messages applied in one batch (one commit).
const MAX_BATCH: usize = 4096;
/// How long an episode waits after a failed commit before it recovers its work.
const RECOVER_AFTER_FAILURE: std::time::Duration = std::time::Duration::from_secs(1);
/// Live events buffered per episode before a slow subscriber falls back to the store.
const EVENT_BUFFER: usize = 1024;

/// An episode's live event channel, made on the first subscription: an engine holds many idle
/// episodes, and a channel's buffer is allocated whole.
#[derive(Clone, Default)]
pub(crate) struct LiveEvents(Arc<std::sync::OnceLock<broadcast::Sender<Event>>>);

impl LiveEvents {
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.0.get_or_init(|| broadcast::channel(EVENT_BUFFER).0).subscribe()
    }

    fn publish(&self, events: Vec<Event>) {
        if let Some(sender) = self.0.get() {
            for event in events {
                // No subscriber is fine: events are in the store.
                let _ = sender.send(event);
            }
        }
    }
}

type Reader = Box<dyn FnOnce(&Episode) + Send>;

/// A message to an episode actor.
pub(crate) enum Msg {
    /// Apply a command; answer when it is durable.
    Command {
        command: Command,
        reply: Option<oneshot::Sender<Result<()>>>,
        /// Blobs the command's values name (a run's outputs), pinned until its commit resolved.
        pins: Option<Pinned>,
    },
    /// Apply a person's action; answer with its outcome when it is durable, with the
    /// idempotency record of `token` (if any) in the same commit.
    Act {
        command: Command,
        token: Option<IdempotencyToken>,
        reply: oneshot::Sender<Result<Outcome>>,
    },
    /// The scheduler granted a slot of `resource`.
    Start { key: InstanceKey, resource: Resource },
    /// Look at the committed state.
    Read(Reader),
    /// Stop the actor (and its runs).
    Stop,
}

/// How the rest of the engine reaches an actor.
#[derive(Clone)]
pub(crate) struct Handle {
    pub tx: mpsc::UnboundedSender<Msg>,
    pub events: LiveEvents,
    pub def: Arc<WorkflowDef>,
}

impl Handle {
    /// Sends a command and waits until it is durable.
    pub async fn command(&self, command: Command) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Command {
                command,
                reply: Some(reply),
                pins: None,
            })
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Sends a person's action and waits until it is durable, with `token` in its commit;
    /// answers with what it produced.
    pub async fn act(&self, command: Command, token: Option<IdempotencyToken>) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Msg::Act { command, token, reply })
            .map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// Runs `f` on the committed state.
    pub async fn read<T: Send + 'static>(&self, f: impl FnOnce(&Episode) -> T + Send + 'static) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let reader: Reader = Box::new(move |episode| {
            let _ = reply.send(f(episode));
        });
        self.tx.send(Msg::Read(reader)).map_err(|_| EngineError::ShuttingDown)?;
        answer.await.map_err(|_| EngineError::ShuttingDown)
    }
}

/// Starts the actor of `episode`.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    def: Arc<WorkflowDef>,
    episode: Episode,
    claim: Claim,
) -> (Handle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let events = LiveEvents::default();
    let handle = Handle {
        tx: tx.clone(),
        events: events.clone(),
        def: def.clone(),
    };
    let actor = Actor {
        shared,
        def,
        episode,
        tx,
        events,
        runs: HashMap::new(),
        tasks: Vec::new(),
        cache: Arc::default(),
        runnable: None,
        claim,
    };
    let task = tokio::spawn(actor.run(rx));
    (handle, task)
}

struct Actor {
    shared: Arc<Shared>,
    def: Arc<WorkflowDef>,
    episode: Episode,
    tx: mpsc::UnboundedSender<Msg>,
    events: LiveEvents,
    /// The runs in flight: attempt and cancellation token.
    runs: HashMap<InstanceKey, (u32, CancellationToken)>,
    /// The run tasks, awaited when the actor stops so nothing outlives the engine.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Input values its runs read, decoded once.
    cache: Arc<ValueCache>,
    /// Whether the store's work index holds the episode, as last committed (unknown at first).
    runnable: Option<bool>,
    /// The claim its commits are written under.
    claim: Claim,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        let mut batch = Vec::new();
        loop {
            batch.clear();
            if rx.recv_many(&mut batch, MAX_BATCH).await == 0 {
                break;
            }
            if !self.process(&mut batch).await {
                break;
            }
        }
        // What waits is not done: its callers hear the actor stopped (and load the episode
        // again); the slots granted to it go back to the scheduler.
        rx.close();
        while let Ok(msg) = rx.try_recv() {
            if let Msg::Start { resource, .. } = msg {
                self.shared.release(resource);
            }
        }
        for (_, token) in self.runs.values() {
            token.cancel();
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }

    /// Applies a batch; false when the actor must stop.
    async fn process(&mut self, batch: &mut Vec<Msg>) -> bool {
        let now = now_ms();
        let mut changes = Changes::default();
        let mut replies = Vec::new();
        let mut acted = Vec::new();
        let mut onces = Vec::new();
        let mut readers = Vec::new();
        let mut started: Vec<Resource> = Vec::new();
        let mut refused: Vec<Resource> = Vec::new();
        let mut stop = false;
        // Dropped when this batch is done: after its commit resolved, or failed.
        let mut pinned = Vec::new();
        for msg in batch.drain(..) {
            match msg {
                Msg::Command { command, reply, pins } => {
                    pinned.extend(pins);
                    if let Command::Finished { key, attempt, .. } = &command
                        && self.runs.get(key).is_some_and(|(a, _)| a == attempt)
                    {
                        self.runs.remove(key);
                    }
                    let result = self
                        .check_edit(&command)
                        .and_then(|()| self.episode.apply(&self.def, command, now, &mut changes));
                    replies.push((reply, result));
                }
                Msg::Act { command, token, reply } => {
                    let outcome = self.act(command, now, &mut changes);
                    if let (Ok(outcome), Some(token)) = (&outcome, token) {
                        onces.push(IdempotencyRecord::new(token, now, outcome.clone()));
                    }
                    acted.push((reply, outcome));
                }
                Msg::Start { key, resource } => {
                    match self.episode.apply(&self.def, Command::Start { key }, now, &mut changes) {
                        Ok(()) => started.push(resource),
                        Err(_) => refused.push(resource),
                    }
                }
                Msg::Read(reader) => readers.push(reader),
                Msg::Stop => stop = true,
            }
        }
        for resource in refused {
            self.shared.release(resource);
        }
        let mut events = Vec::new();
        if !changes.is_empty() || !onces.is_empty() {
            match self.commit(&mut changes, onces, now).await {
                Ok(committed) => events = committed,
                Err(error) => {
                    // Fenced: another process holds the episode now and runs it; this actor
                    // stops, unreachable, instead of reloading and retrying against it. The
                    // episode is claimed again on its next use.
                    let fenced = matches!(error, StoreError::Elsewhere { .. });
                    if fenced {
                        tracing::error!(episode = %self.episode.id(), %error, "another process holds this episode now; it stops here");
                        self.shared.forget(self.episode.id(), &self.tx);
                        stop = true;
                    } else {
                        tracing::error!(episode = %self.episode.id(), %error, "commit failed; reloading the episode");
                        if !self.reload() {
                            // Memory ran ahead of a store it cannot read back now (a database
                            // that went away; the commit may even have landed): this actor
                            // stops, and the episode is loaded afresh, claimed again, once the
                            // store answers.
                            self.shared.forget(self.episode.id(), &self.tx);
                            self.shared.reload_later(self.episode.id());
                            stop = true;
                        }
                    }
                    for (_, result) in &mut replies {
                        if result.is_ok() {
                            *result = Err(EngineError::Store(error.for_caller()));
                        }
                    }
                    for (_, result) in &mut acted {
                        if result.is_ok() {
                            *result = Err(EngineError::Store(error.for_caller()));
                        }
                    }
                    if stop {
                        // Memory holds what the store refused or cannot confirm: the readers
                        // hear the actor stopped, and read the episode loaded afresh.
                        readers.clear();
                    } else {
                        self.recover_later();
                    }
                    for resource in started {
                        self.shared.release(resource);
                    }
                    changes.effects.clear();
                }
            }
        }
        self.events.publish(events);
        let effects = std::mem::take(&mut changes.effects);
        self.perform(effects);
        for (reply, result) in replies {
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
        for (reply, result) in acted {
            let _ = reply.send(result);
        }
        for reader in readers {
            reader(&self.episode);
        }
        drop(pinned);
        !stop
    }

    /// Checks an edit against the episode ([`crate::Node::check_edit`]) with the input a run of
    /// its instance would have. Anything else passes, as does an edit whose instance cannot run
    /// yet, does not fit its type (applying it says so) or whose input cannot be read.
    fn check_edit(&self, command: &Command) -> Result<()> {
        let Command::Edit { key, value, .. } = command else {
            return Ok(());
        };
        let (Some(i), Some((inputs, object_fields))) =
            (self.def.position(&key.node), self.episode.edit_inputs(&self.def, key))
        else {
            return Ok(());
        };
        let node = self.def.nodes()[i].implementation();
        let sources = Sources {
            episode: self.episode.id(),
            episode_input: &self.episode.header().input,
            store: self.shared.store.as_ref(),
            cache: &self.cache,
        };
        let input = match assemble(&sources, &inputs, &object_fields) {
            Ok(input) => input,
            Err(e) => {
                tracing::debug!(%key, error = %e, "an edit's input could not be read: checked by its type only");
                return Ok(());
            }
        };
        node.check_edit_json(&input, value)
            .map_err(|error| EngineError::InvalidValue {
                key: key.clone(),
                error,
            })
    }

    /// Applies a person's action and says what it produced: the instance it acted on, or for
    /// an action on the whole episode, the episode (read from memory, which holds the batch so
    /// far: what the commit will write).
    fn act(&mut self, command: Command, now: Timestamp, changes: &mut Changes) -> Result<Outcome> {
        let key = match &command {
            Command::Approve { key, .. }
            | Command::Regenerate { key, .. }
            | Command::Edit { key, .. }
            | Command::Select { key, .. }
            | Command::Revert { key, .. } => Some(key.clone()),
            _ => None,
        };
        self.check_edit(&command)?;
        self.episode.apply(&self.def, command, now, changes)?;
        let episode = self.episode.id();
        Ok(match key {
            Some(key) => Outcome::Instance {
                episode,
                record: self
                    .episode
                    .instance(&self.def, &key)
                    .cloned()
                    .ok_or(EngineError::InstanceNotFound { episode, key })?,
            },
            None => {
                let mut header = self.episode.header().clone();
                // The batch's events are numbered when it is committed: count the ones so far.
                header.next_seq += changes.events.len() as u64;
                Outcome::Episode {
                    snapshot: EpisodeSnapshot {
                        header,
                        instances: self.episode.instances().cloned().collect(),
                    },
                }
            }
        })
    }

    /// Numbers the events and writes the batch, with the idempotency records of its actions;
    /// resolves when durable.
    async fn commit(
        &mut self,
        changes: &mut Changes,
        onces: Vec<IdempotencyRecord>,
        now: Timestamp,
    ) -> std::result::Result<Vec<Event>, StoreError> {
        let id = self.episode.id();
        let events = self.episode.number_events(std::mem::take(&mut changes.events), now);
        let mut commit = Commit::new(id);
        if self.episode.take_header_dirty() {
            commit.header = Some(self.episode.header().clone());
        }
        let runnable = self.episode.has_work();
        if self.runnable != Some(runnable) {
            commit.runnable = Some(runnable);
        }
        (commit.instances, commit.versions) = self.episode.commit_records(&self.def, changes)?;
        commit.removed = std::mem::take(&mut changes.removed);
        commit.events = events.clone();
        commit.idempotency = onces;
        commit.claim = self.claim;
        self.shared.store.commit(commit).await?;
        self.runnable = Some(runnable);
        Ok(events)
    }

    /// After a failed commit (a full disk): what it carried is lost (a run's result, the
    /// queueing of the next runs), so the episode recovers as after a restart, in a moment, and
    /// again after each failure until a commit goes through: work resumes by itself once space
    /// is freed. Runs in the queue go on (the results that wait there are applied as they
    /// come), so the queue is read first, until it answers.
    fn recover_later(&self) {
        let tx = self.tx.clone();
        let (queue, episode) = (self.shared.queue.clone(), self.episode.id());
        tokio::spawn(async move {
            let in_flight = loop {
                tokio::time::sleep(RECOVER_AFTER_FAILURE).await;
                let Some(queue) = &queue else { break Vec::new() };
                match queue.in_flight(&[episode]).await {
                    // Its own runs only: the read was of this episode.
                    Ok(runs) => break runs.into_iter().map(|(_, key, attempt)| (key, attempt)).collect(),
                    Err(error) => tracing::debug!(%episode, %error, "reading the runs in flight before recovering"),
                }
                if tx.is_closed() {
                    return;
                }
            };
            let _ = tx.send(Msg::Command {
                command: Command::Recover { in_flight },
                reply: None,
                pins: None,
            });
        });
    }

    /// Puts the episode back to what the store holds, after a failed commit; false when the
    /// store could not be read.
    fn reload(&mut self) -> bool {
        match self.shared.store.load_episode(self.episode.id()) {
            Ok(Some(stored)) => match Episode::restore(&self.def, stored) {
                Ok(episode) => {
                    self.episode = episode;
                    true
                }
                Err(error) => {
                    tracing::error!(episode = %self.episode.id(), %error, "reload failed");
                    false
                }
            },
            Ok(None) => {
                tracing::error!(episode = %self.episode.id(), "reload found no episode");
                false
            }
            Err(error) => {
                tracing::error!(episode = %self.episode.id(), %error, "reload failed");
                false
            }
        }
    }

    fn perform(&mut self, effects: Vec<Effect>) {
        let mut enqueued = false;
        for effect in effects {
            match effect {
                Effect::Enqueue { key, resource } if self.shared.queue.is_some() => {
                    // Workers hold the slots: the run starts at once and waits in the queue.
                    let _ = self.tx.send(Msg::Start { key, resource });
                }
                Effect::Enqueue { key, resource } => {
                    self.shared.enqueue(
                        resource,
                        Ticket {
                            episode: self.episode.id(),
                            key,
                        },
                    );
                    enqueued = true;
                }
                Effect::Run(run) => self.start_run(run),
                Effect::CancelRun { key } => {
                    if let Some((attempt, token)) = self.runs.remove(&key) {
                        token.cancel();
                        if let Some(queue) = self.shared.queue.clone() {
                            queued::withdraw(queue, self.episode.id(), key, attempt);
                        }
                    }
                }
                Effect::Adopt { key, attempt } => {
                    if let Some((_, old)) = self.runs.insert(key, (attempt, CancellationToken::new())) {
                        old.cancel();
                    }
                }
                Effect::Timer { key, at } => {
                    let tx = self.tx.clone();
                    let wait = at.saturating_sub(now_ms());
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                        let _ = tx.send(Msg::Command {
                            command: Command::RetryDue { key },
                            reply: None,
                            pins: None,
                        });
                    });
                }
            }
        }
        if enqueued {
            self.shared.dispatch();
        }
    }

    fn start_run(&mut self, run: RunSpec) {
        let Some(spec) = self.def.node(&run.key.node).cloned() else {
            return;
        };
        let token = CancellationToken::new();
        if let Some((_, old)) = self.runs.insert(run.key.clone(), (run.attempt, token.clone())) {
            old.cancel();
        }
        if let Some(queue) = self.shared.queue.clone() {
            let queued = QueuedRun {
                episode: self.episode.id(),
                workflow: self.def.name().to_owned(),
                definition_version: self.def.version().to_owned(),
                resource: spec.resource_ref(),
                tags: spec.tag_list().to_vec(),
                run,
            };
            self.tasks.retain(|t| !t.is_finished());
            self.tasks.push(tokio::spawn(queued::push(queue, queued, token)));
            return;
        }
        let tx = self.tx.clone();
        let key = run.key.clone();
        let progress = move |attempt: u32, fraction: f32, message: String| {
            let _ = tx.send(Msg::Command {
                command: Command::Progress {
                    key: key.clone(),
                    attempt,
                    fraction,
                    message,
                },
                reply: None,
                pins: None,
            });
        };
        // Every blob the run writes stays pinned until the commit of its result resolved.
        let pinned = self.shared.pins.hold([]);
        let cx = RunContext {
            episode: self.episode.id(),
            episode_input: Arc::new(self.episode.header().input.clone()),
            store: self.shared.store.clone(),
            cache: self.cache.clone(),
            blobs: Arc::new(PinningBlobs {
                inner: self.shared.blobs.clone(),
                pinned: pinned.clone(),
            }),
            cancel: token,
            progress: Arc::new(progress),
        };
        let tx = self.tx.clone();
        let shared = self.shared.clone();
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(tokio::spawn(async move {
            let result = execute(&spec, &cx, &run).await;
            let _ = tx.send(Msg::Command {
                command: Command::Finished {
                    key: run.key,
                    attempt: run.attempt,
                    result,
                },
                reply: None,
                pins: Some(pinned),
            });
            shared.release(spec.resource_ref());
        }));
    }
}

/// Sends a fire-and-forget stop.
pub(crate) fn stop(handle: &Handle) {
    let _ = handle.tx.send(Msg::Stop);
}
