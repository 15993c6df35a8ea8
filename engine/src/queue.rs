//! The durable queue of node runs that a cluster's workers take ([`RunQueue`]): where an engine
//! on a shared store puts the runs its episodes start, instead of running them itself.
//!
//! The holder of an episode pushes a run once the commit that started it is durable; a worker
//! takes it under a lease it renews while the run lasts, and reports the result, fenced by the
//! delivery it took (a run whose lease lapsed is taken again with its delivery counted, and the
//! old delivery's late result is refused). The holder then applies the result to the episode as
//! it applies a local run's, and acknowledges it, which removes the run.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{NodeError, StoreError};
use crate::ids::{EpisodeId, InstanceKey};
use crate::pure::command::{Produced, RunSpec};
use crate::pure::definition::Resource;

/// A run waiting in the queue: everything a worker needs to perform it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedRun {
    /// The episode.
    pub episode: EpisodeId,
    /// Its workflow's name.
    pub workflow: String,
    /// The definition version the episode runs on.
    pub definition_version: String,
    /// What the run holds while it runs.
    pub resource: Resource,
    /// The tags a worker must have to take it (the node's).
    pub tags: Vec<String>,
    /// The run: instance, attempt, seeds, inputs.
    pub run: RunSpec,
}

/// A run a worker took.
#[derive(Debug, Clone, PartialEq)]
pub struct TakenRun {
    /// The run.
    pub queued: QueuedRun,
    /// How many times it has been taken, this time included: a fencing token, since a run whose
    /// lease lapsed is taken again under the next one.
    pub delivery: u32,
}

/// One output of a run as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedOutput {
    /// The value.
    pub value: Value,
    /// The quality score, for a node behind a quality gate.
    pub score: Option<f64>,
    /// What the run said about its work.
    #[serde(default)]
    pub remarks: Vec<String>,
}

/// What a run came to, as a worker reports it.
pub type RunResult = Result<Vec<ReportedOutput>, NodeError>;

/// A result waiting for the holder of its episode.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedRun {
    /// The episode.
    pub episode: EpisodeId,
    /// The instance.
    pub key: InstanceKey,
    /// The episode's attempt that ran.
    pub attempt: u32,
    /// The outputs, or why it failed.
    pub result: RunResult,
}

impl ReportedRun {
    /// The result as the episode takes it.
    pub fn produced(&self) -> Result<Vec<Produced>, NodeError> {
        self.result.clone().map(|outputs| {
            outputs
                .into_iter()
                .map(|o| Produced {
                    value: std::sync::Arc::new(o.value),
                    score: o.score,
                    remarks: o.remarks,
                })
                .collect()
        })
    }
}

/// Outputs as the queue keeps them.
pub fn reported_outputs(produced: Vec<Produced>) -> Vec<ReportedOutput> {
    produced
        .into_iter()
        .map(|p| ReportedOutput {
            value: std::sync::Arc::unwrap_or_clone(p.value),
            score: p.score,
            remarks: p.remarks,
        })
        .collect()
}

/// How far a run on a worker got, as it last said.
#[derive(Debug, Clone, PartialEq)]
pub struct RunProgress {
    /// The episode.
    pub episode: EpisodeId,
    /// The instance.
    pub key: InstanceKey,
    /// The episode's attempt running.
    pub attempt: u32,
    /// How many reports the run has made (the latest one's number).
    pub seq: u32,
    /// Done so far, from 0 to 1.
    pub fraction: f32,
    /// What it is doing.
    pub message: String,
}

/// What a worker can take: the resources it has a free slot of, its tags, and the definitions
/// it has registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Takeable {
    /// Resources with a free slot.
    pub resources: Vec<Resource>,
    /// The worker's tags.
    pub tags: Vec<String>,
    /// `(workflow, definition version)` pairs the worker can run.
    pub definitions: Vec<(String, String)>,
}

/// How many runs wait and run, per resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Per resource: (ready, running, reported and not yet applied).
    pub by_resource: Vec<(Resource, u64, u64, u64)>,
    /// Ready runs per tag set (`""` for runs with no tag).
    pub ready_by_tags: Vec<(String, u64)>,
    /// How long the oldest ready run has waited.
    pub oldest_ready: Option<Duration>,
}

/// A worker as the queue lists it, for operators: who it is and what it can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCard {
    /// Its id (as in its log).
    pub id: String,
    /// Its process id.
    pub pid: u32,
    /// Its tags.
    pub tags: Vec<String>,
    /// How many runs of each resource it performs at once.
    pub slots: Vec<(Resource, usize)>,
    /// The workflow definitions (name, version) it has registered.
    pub definitions: Vec<(String, String)>,
    /// Its lease: it says it is alive every fifth of it, and counts as gone once silent for
    /// longer.
    pub lease: Duration,
}

/// A listed worker, and how long since it last said it was alive.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedWorker {
    /// The worker.
    pub card: WorkerCard,
    /// How long it has been silent.
    pub silent_for: Duration,
}

impl ListedWorker {
    /// Whether it said it was alive within its lease.
    pub fn is_alive(&self) -> bool {
        self.silent_for < self.card.lease
    }
}

/// The durable queue of node runs (see the module's documentation).
#[async_trait]
pub trait RunQueue: Send + Sync {
    /// Queues `run`. A run of the same instance already queued is replaced when `run` is a later
    /// attempt, and left as it is otherwise (a repeated push changes nothing).
    async fn push(&self, run: &QueuedRun) -> Result<(), StoreError>;

    /// Removes the instance's run of `attempt` or an earlier one, taken or not (a cancelled
    /// run): its worker's renewal fails and its result is refused.
    async fn withdraw(&self, episode: EpisodeId, key: &InstanceKey, attempt: u32) -> Result<(), StoreError>;

    /// Takes the next run `worker` can perform, under a lease of `lease`: a ready run, or one
    /// whose lease lapsed (taken again, its delivery counted). Runs of the episodes with the
    /// fewest taken lately come first, and an episode never has more than `per_episode` runs
    /// taken at once.
    async fn take(
        &self,
        worker: &str,
        can: &Takeable,
        lease: Duration,
        per_episode: u32,
    ) -> Result<Option<TakenRun>, StoreError>;

    /// Extends the lease of a taken run; `false` when the run is no longer this worker's under
    /// this delivery (withdrawn, superseded, or taken again after its lease lapsed).
    async fn renew(&self, worker: &str, run: &TakenRun, lease: Duration) -> Result<bool, StoreError>;

    /// Gives a taken run back, ready for the next worker (this one is stopping); `false` when it
    /// was no longer this worker's.
    async fn release(&self, worker: &str, run: &TakenRun) -> Result<bool, StoreError>;

    /// Records the result of a taken run; `false` (and nothing recorded) when the run is no
    /// longer this worker's under this delivery: a late result.
    async fn report(&self, worker: &str, run: &TakenRun, result: &RunResult) -> Result<bool, StoreError>;

    /// Records how far a taken run got (shown to the person as the episode's progress);
    /// `false` when the run is no longer this worker's.
    async fn progress(&self, worker: &str, run: &TakenRun, fraction: f32, message: &str) -> Result<bool, StoreError>;

    /// The progress last reported by the runs of `episodes` being performed.
    async fn progressing(&self, episodes: &[EpisodeId]) -> Result<Vec<RunProgress>, StoreError>;

    /// The runs of `episodes` in the queue (ready, taken by a worker, or reported and not
    /// applied yet): each instance with its attempt.
    async fn in_flight(&self, episodes: &[EpisodeId]) -> Result<Vec<(EpisodeId, InstanceKey, u32)>, StoreError>;

    /// The results reported for runs of `episodes`.
    async fn reported(&self, episodes: &[EpisodeId]) -> Result<Vec<ReportedRun>, StoreError>;

    /// Removes a reported run once its result is applied.
    async fn acknowledge(&self, episode: EpisodeId, key: &InstanceKey, attempt: u32) -> Result<(), StoreError>;

    /// Waits until a run may have been queued, or `timeout` passed (notifications are best
    /// effort: callers poll too).
    async fn wait_for_runs(&self, timeout: Duration);

    /// Waits until a result may have been reported, or `timeout` passed.
    async fn wait_for_results(&self, timeout: Duration);

    /// How many runs wait and run.
    async fn depth(&self) -> Result<QueueDepth, StoreError>;

    /// Lists `worker` as alive, with what it can take (for operators: see
    /// [`RunQueue::untakeable`]); a worker says so as it starts and every fifth of its lease.
    async fn announce(&self, worker: &WorkerCard) -> Result<(), StoreError>;

    /// Takes a stopping worker off the list.
    async fn retire(&self, worker: &str) -> Result<(), StoreError>;

    /// The listed workers, alive or silent (an announcement drops those silent for a day).
    async fn workers(&self) -> Result<Vec<ListedWorker>, StoreError>;

    /// How many ready runs no live worker (one heard from within its lease) can take: none has
    /// a slot of their resource, all their tags and their workflow version. They wait for one.
    async fn untakeable(&self) -> Result<u64, StoreError>;
}
