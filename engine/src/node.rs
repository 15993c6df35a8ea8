//! The `Node` trait that workflow authors implement, its type-erased form, and the context a run
//! receives.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::error::{NodeError, ValueError};
use crate::ids::{EpisodeId, InstanceKey};
use crate::store::BlobStore;

/// A unit of work in a workflow.
///
/// The engine hands a node its input as a JSON object deserialized into `Input`: the episode's
/// input under `"episode"`, the item under `"item"` for a map instance, and each node it reads
/// under that node's key (a map node's items as an object keyed by item id). Unknown fields are
/// ignored by serde's default, so an input type names only what it uses. A regenerate with
/// feedback over unchanged inputs also gets the version it regenerates under
/// [`PREVIOUS`](crate::PREVIOUS).
///
/// A node must be deterministic for a given input and [`NodeCtx::seed`]: a crash-retried run
/// produces the same output, which is what keeps invalidation exact.
#[async_trait]
pub trait Node: Send + Sync + 'static {
    /// What the node reads.
    type Input: DeserializeOwned + Send + Sync;
    /// What the node produces; also the type a user-authored edit must fit.
    type Output: Serialize + DeserializeOwned + Send + Sync;

    /// The node's declared version: change it when the node's behaviour changes, and the
    /// workflow's definition version changes with it.
    fn version(&self) -> &str {
        "1"
    }

    /// Produces the output.
    async fn run(&self, input: Self::Input, ctx: &NodeCtx) -> Result<Self::Output, NodeError>;

    /// Rates an output in `[0, 1]` for a `Quality` gate. The default accepts everything.
    async fn score(&self, _input: &Self::Input, _output: &Self::Output, _ctx: &NodeCtx) -> Result<f64, NodeError> {
        Ok(1.0)
    }

    /// Checks a person's edit against the episode: `output` (which already fits the output
    /// type) with the input a run would have had, for what a type cannot say (an id that must
    /// name something in the input, a line's speaker who must be in the shot). The error names
    /// the path of the bad field. The default accepts what fits the type.
    fn check_edit(&self, _input: &Self::Input, _output: &Self::Output) -> Result<(), ValueError> {
        Ok(())
    }
}

/// A [`Node`] with its types erased to JSON, as the engine stores and calls it.
#[async_trait]
pub trait DynNode: Send + Sync + 'static {
    /// See [`Node::version`].
    fn version(&self) -> &str;
    /// Deserializes the input, runs, serializes the output.
    async fn run_json(&self, input: &Value, ctx: &NodeCtx) -> Result<Value, NodeError>;
    /// Deserializes input and output and scores them.
    async fn score_json(&self, input: &Value, output: &Value, ctx: &NodeCtx) -> Result<f64, NodeError>;
    /// Checks that a user-authored value fits the output type; the error names the path of the
    /// field that does not (`characters[0].clothing`).
    fn check_output(&self, value: &Value) -> Result<(), ValueError>;
    /// See [`Node::check_edit`]: a value checked with the input a run would have. A value that
    /// does not fit the output type passes (`check_output` names it), as does an input that does
    /// not decode (the run's problem, not the edit's).
    fn check_edit_json(&self, input: &Value, value: &Value) -> Result<(), ValueError>;
}

fn decode<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T, NodeError> {
    T::deserialize(value).map_err(|e| NodeError::Permanent(format!("{what} does not fit the node: {e}")))
}

#[async_trait]
impl<N: Node> DynNode for N {
    fn version(&self) -> &str {
        Node::version(self)
    }

    async fn run_json(&self, input: &Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        let input: N::Input = decode(input, "input")?;
        let output = self.run(input, ctx).await?;
        serde_json::to_value(&output).map_err(|e| NodeError::Permanent(format!("output does not serialize: {e}")))
    }

    async fn score_json(&self, input: &Value, output: &Value, ctx: &NodeCtx) -> Result<f64, NodeError> {
        let input: N::Input = decode(input, "input")?;
        let output: N::Output = decode(output, "output")?;
        self.score(&input, &output, ctx).await
    }

    fn check_output(&self, value: &Value) -> Result<(), ValueError> {
        match serde_path_to_error::deserialize::<_, N::Output>(value) {
            Ok(_) => Ok(()),
            Err(e) if e.path().to_string() == "." => Err(ValueError::whole(e.inner().to_string())),
            Err(e) => Err(ValueError {
                path: e.path().to_string(),
                reason: e.inner().to_string(),
            }),
        }
    }

    fn check_edit_json(&self, input: &Value, value: &Value) -> Result<(), ValueError> {
        let Ok(input) = N::Input::deserialize(input) else {
            return Ok(());
        };
        // A value that does not fit the type is named, with its path, by `check_output`.
        let Ok(output) = N::Output::deserialize(value) else {
            return Ok(());
        };
        self.check_edit(&input, &output)
    }
}

/// Where a run's progress reports go: the runner turns them into `NodeProgress` events.
pub(crate) type ProgressSink = Arc<dyn Fn(f32, String) + Send + Sync>;

/// What a node run gets besides its input: identity, seed, attempt, feedback, progress,
/// cancellation, and the blob store.
#[derive(Clone)]
pub struct NodeCtx {
    pub(crate) episode: EpisodeId,
    pub(crate) key: InstanceKey,
    pub(crate) attempt: u32,
    pub(crate) seed: u64,
    pub(crate) feedback: Option<String>,
    pub(crate) cancel: CancellationToken,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) progress: Option<ProgressSink>,
    pub(crate) remarks: Arc<Mutex<Vec<String>>>,
}

impl NodeCtx {
    /// A context for running a node outside an engine (tests, tools): no progress channel.
    pub fn detached(key: InstanceKey, seed: u64, blobs: Arc<dyn BlobStore>) -> Self {
        Self {
            episode: EpisodeId::generate(),
            key,
            attempt: 1,
            seed,
            feedback: None,
            cancel: CancellationToken::new(),
            blobs,
            progress: None,
            remarks: Arc::default(),
        }
    }

    /// The episode this run belongs to.
    pub fn episode(&self) -> EpisodeId {
        self.episode
    }

    /// The instance being run.
    pub fn key(&self) -> &InstanceKey {
        &self.key
    }

    /// The item id, for a map instance.
    pub fn item(&self) -> Option<&str> {
        self.key.item.as_deref()
    }

    /// The attempt number, from 1; it counts every start, crashed ones included.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// A deterministic seed: the same for a crash-retry, new for each regenerate and candidate.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The feedback given with the last regenerate, if any.
    pub fn feedback(&self) -> Option<&str> {
        self.feedback.as_deref()
    }

    /// The idempotency key of this attempt: `episode/node[item]/attempt`.
    pub fn idempotency_key(&self) -> String {
        format!("{}/{}/{}", self.episode, self.key, self.attempt)
    }

    /// Reports progress in `[0, 1]` with a message; it becomes a `NodeProgress` event.
    pub fn progress(&self, fraction: f32, message: impl Into<String>) {
        if let Some(sink) = &self.progress {
            sink(fraction.clamp(0.0, 1.0), message.into());
        }
    }

    /// Says something about this run's work to the person: a note it could not act on. It is
    /// kept with the version the run makes and shown with it.
    pub fn remark(&self, text: impl Into<String>) {
        self.remarks.lock().unwrap_or_else(|e| e.into_inner()).push(text.into());
    }

    /// What the run has said so far ([`remark`](Self::remark)).
    pub fn remarks(&self) -> Vec<String> {
        self.remarks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The run's cancellation token: it fires on cancel, pause, timeout and invalidation.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// True once the run has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The content-addressed blob store for images, clips and videos.
    pub fn blobs(&self) -> &Arc<dyn BlobStore> {
        &self.blobs
    }
}
