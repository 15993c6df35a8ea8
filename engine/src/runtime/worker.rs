//! A worker: takes node runs from a [`RunQueue`] while it has free slots of their resource and
//! the tags they need, performs each under a lease it renews, and reports the result (see
//! [`crate::queue`]). It runs nothing else: the holders of the episodes apply the results.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::error::NodeError;
use crate::ids::{EpisodeId, InstanceKey, now_ms};
use crate::pure::definition::{Resource, WorkflowDef};
use crate::queue::{RunQueue, RunResult, Takeable, TakenRun, WorkerCard, reported_outputs};
use crate::runtime::engine::lock;
use crate::runtime::run::{RunContext, ValueCache, execute};
use crate::store::{BlobStore, Store};

/// How often the queue is read when no notification came.
const POLL: Duration = Duration::from_secs(1);
/// How long a worker waits after the queue could not be read.
const RETRY: Duration = Duration::from_secs(1);

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Its id, in the queue's records and its own log.
    pub id: String,
    /// The tags it has: it takes the runs whose node's tags it all has.
    pub tags: Vec<String>,
    /// How many runs of each resource it performs at once (a resource it has no slot of, it
    /// never takes).
    pub slots: BTreeMap<Resource, usize>,
    /// Its leases on runs: it renews each every fifth of this, and stops a run it could not
    /// renew for three fifths of it; the others take a run again once it went unrenewed for twice
    /// this long, so that a run has stopped here before it starts elsewhere.
    pub lease: Duration,
    /// The most runs of one episode taken at once, over all workers.
    pub per_episode: u32,
}

/// What a worker did, for its log.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerEvent {
    /// It took a run and started it.
    Started {
        /// The run.
        run: RunId,
        /// When, in ms since the epoch.
        at: u64,
    },
    /// The worker stopped during a run and gave it back to the queue.
    Released {
        /// The run.
        run: RunId,
        /// When, in ms since the epoch.
        at: u64,
    },
    /// A run ended and its result was reported (`accepted`), or refused as late, or its lease
    /// was lost and it was abandoned (not `accepted`).
    Ended {
        /// The run.
        run: RunId,
        /// When its node's work ended (its report may have been answered later), in ms since
        /// the epoch.
        at: u64,
        /// Whether the queue took the result (false: the run was no longer this worker's).
        accepted: bool,
        /// Whether the run succeeded.
        succeeded: bool,
    },
}

/// Which run, under which delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId {
    /// The episode.
    pub episode: EpisodeId,
    /// The instance.
    pub key: InstanceKey,
    /// The episode's attempt.
    pub attempt: u32,
    /// The queue's delivery of it.
    pub delivery: u32,
}

impl From<&TakenRun> for RunId {
    fn from(taken: &TakenRun) -> Self {
        Self {
            episode: taken.queued.episode,
            key: taken.queued.run.key.clone(),
            attempt: taken.queued.run.attempt,
            delivery: taken.delivery,
        }
    }
}

/// Where a worker's log goes.
pub type WorkerLog = Arc<dyn Fn(WorkerEvent) + Send + Sync>;

/// Takes and performs runs until stopped (see the module's documentation).
pub struct Worker {
    queue: Arc<dyn RunQueue>,
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    definitions: HashMap<(String, String), Arc<WorkflowDef>>,
    config: WorkerConfig,
    log: WorkerLog,
}

impl Worker {
    /// A worker over `queue` that reads its runs' inputs from `store`, writes their blobs to
    /// `blobs`, and performs runs of `definitions` only.
    pub fn new(
        queue: Arc<dyn RunQueue>,
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        definitions: impl IntoIterator<Item = Arc<WorkflowDef>>,
        config: WorkerConfig,
    ) -> Self {
        Self {
            queue,
            store,
            blobs,
            definitions: definitions
                .into_iter()
                .map(|d| ((d.name().to_owned(), d.version().to_owned()), d))
                .collect(),
            config,
            log: Arc::new(|_| {}),
        }
    }

    /// Sends what the worker does to `log`.
    pub fn log(mut self, log: WorkerLog) -> Self {
        self.log = log;
        self
    }

    /// Takes and performs runs until `stop` fires; then the runs in flight stop and go back to
    /// the queue, for another worker. Meanwhile the worker lists itself as alive in the queue
    /// (see [`RunQueue::announce`]), and takes itself off the list as it stops.
    pub async fn run(self, stop: CancellationToken) {
        let worker = Arc::new(self);
        let busy: Arc<Mutex<BTreeMap<Resource, usize>>> = Arc::default();
        let freed = Arc::new(Notify::new());
        let mut definitions: Vec<(String, String)> = worker.definitions.keys().cloned().collect();
        definitions.sort();
        let mut tags = worker.config.tags.clone();
        tags.sort();
        tags.dedup();
        let mut tasks = Vec::new();
        let leases_stop = CancellationToken::new();
        let leases = lease_thread(leases_stop.clone());
        // Listed as alive for operators, from the lease thread, every fifth of a lease.
        let card = WorkerCard {
            id: worker.config.id.clone(),
            pid: std::process::id(),
            tags: tags.clone(),
            slots: worker.config.slots.iter().map(|(r, n)| (*r, *n)).collect(),
            definitions: definitions.clone(),
            lease: worker.config.lease,
        };
        let announcing = CancellationToken::new();
        let announced = leases.spawn(announce(worker.queue.clone(), card, announcing.clone()));
        while !stop.is_cancelled() {
            let resources: Vec<Resource> = {
                let busy = lock(&busy);
                worker
                    .config
                    .slots
                    .iter()
                    .filter(|(r, limit)| busy.get(r).copied().unwrap_or(0) < **limit)
                    .map(|(r, _)| *r)
                    .collect()
            };
            if resources.is_empty() {
                tokio::select! {
                    () = freed.notified() => {}
                    () = stop.cancelled() => {}
                }
                continue;
            }
            let can = Takeable {
                resources,
                tags: tags.clone(),
                definitions: definitions.clone(),
            };
            let asked = Instant::now();
            let taken = worker
                .queue
                .take(
                    &worker.config.id,
                    &can,
                    worker.config.lease * 2,
                    worker.config.per_episode,
                )
                .await;
            match taken {
                Ok(Some(taken)) => {
                    let resource = taken.queued.resource;
                    *lock(&busy).entry(resource).or_default() += 1;
                    // The slot comes free when the run's task ends, however it ends.
                    let slot = Slot {
                        busy: busy.clone(),
                        resource,
                        freed: freed.clone(),
                    };
                    let worker = worker.clone();
                    tasks.retain(|t: &tokio::task::JoinHandle<()>| !t.is_finished());
                    let (stop, leases) = (stop.clone(), leases.clone());
                    tasks.push(tokio::spawn(async move {
                        let _slot = slot;
                        worker.clone().perform(taken, asked, stop, leases).await;
                    }));
                }
                Ok(None) => {
                    tokio::select! {
                        () = worker.queue.wait_for_runs(POLL) => {}
                        () = freed.notified() => {}
                        () = stop.cancelled() => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "taking a run from the queue");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY) => {}
                        () = stop.cancelled() => {}
                    }
                }
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        // Off the list once the last announcement has landed, so that none comes after.
        announcing.cancel();
        let _ = announced.await;
        if let Err(error) = worker.queue.retire(&worker.config.id).await {
            tracing::debug!(%error, "taking the worker off the list");
        }
        leases_stop.cancel();
    }

    /// Performs one run under the lease taken at `since` (kept on `leases`) and reports it;
    /// gives it back if `stop` fires first. A run whose lease is lost is cancelled and nothing
    /// of it is reported; its slot stays taken until it has wound down.
    async fn perform(self: Arc<Self>, taken: TakenRun, since: Instant, stop: CancellationToken, leases: Handle) {
        let id = RunId::from(&taken);
        (self.log)(WorkerEvent::Started {
            run: id.clone(),
            at: now_ms(),
        });
        let cancel = CancellationToken::new();
        // Progress goes to the queue, the latest of what waits at a time, for the holder to show.
        let (progress, mut reports) = tokio::sync::mpsc::unbounded_channel::<(f32, String)>();
        let forwarding = {
            let (queue, worker, taken) = (self.queue.clone(), self.config.id.clone(), taken.clone());
            tokio::spawn(async move {
                while let Some(mut latest) = reports.recv().await {
                    while let Ok(later) = reports.try_recv() {
                        latest = later;
                    }
                    if let Err(error) = queue.progress(&worker, &taken, latest.0, &latest.1).await {
                        tracing::debug!(%error, "reporting a run's progress");
                    }
                }
            })
        };
        let sink: Arc<dyn Fn(u32, f32, String) + Send + Sync> = Arc::new(move |_, fraction, message| {
            let _ = progress.send((fraction, message));
        });
        let _forwarding = AbortOnDrop(forwarding);
        // When the node's work ended: set as its future is dropped, finished or aborted.
        let worked_until = Arc::new(AtomicU64::new(0));
        let mut running = {
            let (me, taken, cancel) = (self.clone(), taken.clone(), cancel.clone());
            let stamp = Stamp(worked_until.clone());
            tokio::spawn(async move {
                let _stamp = stamp;
                me.execute(&taken, cancel, sink).await
            })
        };
        let (lost, done) = (CancellationToken::new(), CancellationToken::new());
        leases.spawn(keep_lease(
            self.queue.clone(),
            self.config.id.clone(),
            taken.clone(),
            self.config.lease,
            since,
            Abandon {
                lost: lost.clone(),
                cancel: cancel.clone(),
                abort: running.abort_handle(),
            },
            done.clone(),
        ));
        // The lease is looked at first: the lease thread marks it lost before it cancels or
        // aborts the run, so a run ended that way is never taken for a result to report. A run
        // that ended before its lease was lost is reported (the queue refuses it if the run was
        // taken again meanwhile).
        let result = tokio::select! {
            biased;
            // The lease is lost: the run may go on elsewhere; this one stops.
            () = lost.cancelled() => None,
            joined = &mut running => Some(joined.unwrap_or_else(|e| Err(NodeError::Permanent(format!("the run's task failed: {e}"))))),
            () = stop.cancelled() => {
                cancel.cancel();
                wind_down(running, self.config.lease).await;
                done.cancel();
                if let Err(error) = self.queue.release(&self.config.id, &taken).await {
                    tracing::warn!(episode = %id.episode, %error, "giving a run back; it is taken again when its lease lapses");
                }
                (self.log)(WorkerEvent::Released { run: id, at: now_ms() });
                return;
            }
        };
        cancel.cancel();
        let Some(result) = result else {
            // Cancelled, and aborted by the lease thread if it has not ended in time (the task
            // was not joined above).
            let _ = running.await;
            done.cancel();
            tracing::warn!(episode = %id.episode, key = %id.key, attempt = id.attempt, delivery = id.delivery,
                "the run's lease was lost; it is abandoned here");
            (self.log)(WorkerEvent::Ended {
                run: id,
                at: worked_until.load(Ordering::SeqCst),
                accepted: false,
                succeeded: false,
            });
            return;
        };
        let succeeded = result.is_ok();
        let accepted = loop {
            match self.queue.report(&self.config.id, &taken, &result).await {
                Ok(accepted) => break accepted,
                // A worker stopping while the store is away leaves the run to its lease.
                Err(_) if stop.is_cancelled() => break false,
                Err(error) => {
                    tracing::warn!(episode = %id.episode, key = %id.key, %error, "reporting a run; trying again");
                    tokio::time::sleep(RETRY).await;
                }
            }
        };
        // Renewed until the report was answered.
        done.cancel();
        if !accepted {
            tracing::warn!(episode = %id.episode, key = %id.key, attempt = id.attempt, delivery = id.delivery,
                "late result refused: the run is no longer this worker's");
        }
        (self.log)(WorkerEvent::Ended {
            run: id,
            at: worked_until.load(Ordering::SeqCst),
            accepted,
            succeeded,
        });
    }

    /// Reads the run's input and calls its node.
    async fn execute(
        &self,
        taken: &TakenRun,
        cancel: CancellationToken,
        progress: Arc<dyn Fn(u32, f32, String) + Send + Sync>,
    ) -> RunResult {
        let queued = &taken.queued;
        let spec = self
            .definitions
            .get(&(queued.workflow.clone(), queued.definition_version.clone()))
            .and_then(|def| def.node(&queued.run.key.node))
            .cloned()
            .ok_or_else(|| {
                NodeError::Permanent(format!(
                    "workflow `{}` version {} has no node `{}`",
                    queued.workflow, queued.definition_version, queued.run.key.node
                ))
            })?;
        let header = self
            .store
            .load_header(queued.episode)
            .map_err(|e| NodeError::Retryable(format!("reading the episode: {e}")))?
            .ok_or_else(|| NodeError::Permanent(format!("episode {} is gone", queued.episode)))?;
        let cx = RunContext {
            episode: queued.episode,
            episode_input: Arc::new(header.input),
            store: self.store.clone(),
            cache: Arc::new(ValueCache::default()),
            blobs: self.blobs.clone(),
            cancel,
            progress,
        };
        execute(&spec, &cx, &queued.run).await.map(reported_outputs)
    }
}

/// How a run whose lease is lost is abandoned: `lost` tells the worker, `cancel` tells the
/// node, and `abort` ends its task if it has not wound down in time.
struct Abandon {
    lost: CancellationToken,
    cancel: CancellationToken,
    abort: tokio::task::AbortHandle,
}

impl Abandon {
    /// Tells the worker, then the node (in that order: the worker never takes what a node
    /// cancelled this way returns for a result to report).
    fn begin(&self) {
        self.lost.cancel();
        self.cancel.cancel();
    }
}

/// Renews a run's lease every fifth of it until `done`, and abandons the run when the lease is
/// lost. A renewal the store cannot take is tried again at the next turn; once the last renewal
/// that went through (or the take, sent at `since`) is three fifths of a lease old, the run
/// counts as lost here and is cancelled, and its task is aborted at most [`WIND_DOWN`] (or
/// four fifths of a lease) later: all of it before the others may take the run again, at twice
/// the lease, so that no two workers run it at once. A renewal refused (the run was taken
/// again, withdrawn or replaced) aborts it at once. Runs on the worker's lease thread, which no
/// node's work can hold up, so the deadlines hold however busy the runs keep the others.
async fn keep_lease(
    queue: Arc<dyn RunQueue>,
    worker: String,
    taken: TakenRun,
    lease: Duration,
    since: Instant,
    abandon: Abandon,
    done: CancellationToken,
) {
    let every = lease / 5;
    let mut held_since = since;
    loop {
        let deadline = tokio::time::Instant::from_std(held_since + lease.mul_f64(0.6));
        let next = (tokio::time::Instant::now() + every).min(deadline);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = done.cancelled() => return,
        }
        let sent = Instant::now();
        let renewed = tokio::select! {
            renewed = tokio::time::timeout_at(deadline, queue.renew(&worker, &taken, lease * 2)) => renewed,
            () = done.cancelled() => return,
        };
        match renewed {
            Ok(Ok(true)) => held_since = sent,
            Ok(Ok(false)) => {
                abandon.begin();
                abandon.abort.abort();
                return;
            }
            Ok(Err(error)) => tracing::warn!(episode = %taken.queued.episode, %error, "renewing a run's lease"),
            Err(_) => {
                tracing::warn!(episode = %taken.queued.episode, "a run's lease could not be renewed in time");
                break;
            }
        }
    }
    abandon.begin();
    let abort_at = held_since + lease.mul_f64(0.6) + WIND_DOWN.min(lease.mul_f64(0.8));
    tokio::select! {
        () = tokio::time::sleep_until(tokio::time::Instant::from_std(abort_at)) => abandon.abort.abort(),
        () = done.cancelled() => {}
    }
}

/// Writes the time it is dropped into its cell.
struct Stamp(Arc<AtomicU64>);

impl Drop for Stamp {
    fn drop(&mut self) {
        self.0.store(now_ms(), Ordering::SeqCst);
    }
}

/// Says the worker is alive (with what it can take) every fifth of its lease, until `stop`
/// (an announcement under way is finished first).
async fn announce(queue: Arc<dyn RunQueue>, card: WorkerCard, stop: CancellationToken) {
    loop {
        if let Err(error) = queue.announce(&card).await {
            tracing::debug!(%error, "listing the worker as alive");
        }
        tokio::select! {
            () = tokio::time::sleep(card.lease / 5) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// A worker's slot of a resource, taken by a run; given back (and a waiting take woken) when
/// dropped.
struct Slot {
    busy: Arc<Mutex<BTreeMap<Resource, usize>>>,
    resource: Resource,
    freed: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(n) = lock(&self.busy).get_mut(&self.resource) {
            *n = n.saturating_sub(1);
        }
        self.freed.notify_one();
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How long a cancelled run may take to wind down before its task is aborted.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// Waits for a run cancelled as the worker stops to end, aborting it past [`WIND_DOWN`] or, with
/// a short `lease`, past 1.2 leases (its lease is renewed meanwhile).
async fn wind_down(mut running: tokio::task::JoinHandle<RunResult>, lease: Duration) {
    if tokio::time::timeout(WIND_DOWN.min(lease.mul_f64(1.2)), &mut running)
        .await
        .is_err()
    {
        running.abort();
        let _ = running.await;
    }
}

/// A thread of its own with a runtime for the worker's leases; it ends when `stop` fires.
fn lease_thread(stop: CancellationToken) -> Handle {
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    let started = std::thread::Builder::new()
        .name("showrunner-leases".into())
        .spawn(
            move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => {
                    let _ = handle_tx.send(Some(runtime.handle().clone()));
                    runtime.block_on(stop.cancelled());
                }
                Err(_) => {
                    let _ = handle_tx.send(None);
                }
            },
        );
    // Without a thread of their own, the leases are kept beside the runs.
    started
        .ok()
        .and_then(|_| handle_rx.recv().ok().flatten())
        .unwrap_or_else(Handle::current)
}
