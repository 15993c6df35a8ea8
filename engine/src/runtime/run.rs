//! Performing one run: assembling the node's input from stored versions, calling the node under
//! its timeout and cancellation token, scoring for a quality gate.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use crate::error::NodeError;
use crate::error::StoreError;
use crate::ids::{EpisodeId, InstanceKey};
use crate::node::{NodeCtx, ProgressSink};
use crate::pure::command::{InputSource, Produced, RunSpec};
use crate::pure::definition::{Gate, NodeSpec};
use crate::store::{BlobStore, Store};

/// Progress reports closer together than this are dropped (the last one, 1.0, always passes).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);
/// How long a cancelled run may take to notice its token and return before it is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Version values an episode's runs read, kept decoded: the runs of a fan-out all read the same
/// list, and decoding it once per run would make the fan-out quadratic.
#[derive(Default)]
pub(crate) struct ValueCache {
    entries: Mutex<HashMap<(InstanceKey, u32), Arc<Cached>>>,
}

struct Cached {
    value: Value,
    /// For a list: element id → position.
    index: OnceLock<HashMap<String, usize>>,
}

/// Values kept per episode before the cache starts over.
const CACHED_VALUES: usize = 64;

impl ValueCache {
    fn get(&self, store: &dyn Store, episode: EpisodeId, key: &InstanceKey, n: u32) -> Result<Arc<Cached>, StoreError> {
        let wanted = (key.clone(), n);
        if let Some(hit) = self.lock().get(&wanted) {
            return Ok(hit.clone());
        }
        let cached = Arc::new(Cached {
            value: store.version_value(episode, key, n)?,
            index: OnceLock::new(),
        });
        let mut entries = self.lock();
        if entries.len() >= CACHED_VALUES {
            entries.clear();
        }
        entries.insert(wanted, cached.clone());
        Ok(cached)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(InstanceKey, u32), Arc<Cached>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Cached {
    /// The list element with `id`.
    fn element(&self, id: &str) -> Option<&Value> {
        let Value::Array(elements) = &self.value else {
            return None;
        };
        let index = self.index.get_or_init(|| {
            elements
                .iter()
                .enumerate()
                .filter_map(|(n, e)| Some((e.get("id")?.as_str()?.to_owned(), n)))
                .collect()
        });
        elements.get(*index.get(id)?)
    }
}

/// Everything a run needs from its episode.
pub(crate) struct RunContext {
    pub episode: EpisodeId,
    pub episode_input: Arc<Value>,
    pub store: Arc<dyn Store>,
    pub cache: Arc<ValueCache>,
    pub blobs: Arc<dyn BlobStore>,
    pub cancel: CancellationToken,
    pub progress: Arc<dyn Fn(u32, f32, String) + Send + Sync>,
}

/// Builds the input object: the episode input, the own item, and each read node's value.
fn assemble_input(cx: &RunContext, run: &RunSpec) -> Result<Value, NodeError> {
    let sources = Sources {
        episode: cx.episode,
        episode_input: &cx.episode_input,
        store: cx.store.as_ref(),
        cache: &cx.cache,
    };
    assemble(&sources, &run.inputs, &run.object_fields)
}

/// Where an input's values are read from.
pub(crate) struct Sources<'a> {
    pub episode: EpisodeId,
    pub episode_input: &'a Value,
    pub store: &'a dyn Store,
    pub cache: &'a ValueCache,
}

/// The input object of `inputs`: the episode input, the own item, and each read node's value
/// (a run's, or an edit's to check it against).
pub(crate) fn assemble(
    sources: &Sources<'_>,
    inputs: &[InputSource],
    object_fields: &[String],
) -> Result<Value, NodeError> {
    let mut input = Map::new();
    input.insert("episode".into(), sources.episode_input.clone());
    for field in object_fields {
        input.insert(field.clone(), Value::Object(Map::new()));
    }
    for source in inputs {
        let cached = sources
            .cache
            .get(sources.store, sources.episode, &source.from, source.version)
            .map_err(|e| NodeError::Retryable(format!("reading input `{}`: {e}", source.from)))?;
        let value = match &source.element {
            None => cached.value.clone(),
            Some(id) => match &cached.value {
                Value::Array(_) => cached
                    .element(id)
                    .cloned()
                    .ok_or_else(|| NodeError::Permanent(format!("item `{id}` is missing from `{}`", source.from)))?,
                _ => return Err(NodeError::Permanent(format!("`{}` is not a list", source.from))),
            },
        };
        match &source.entry {
            None => {
                input.insert(source.field.clone(), value);
            }
            Some(id) => {
                let slot = input
                    .entry(source.field.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = slot {
                    map.insert(id.clone(), value);
                }
            }
        }
    }
    Ok(Value::Object(input))
}

fn throttled(sink: Arc<dyn Fn(u32, f32, String) + Send + Sync>, attempt: u32) -> ProgressSink {
    let last: Mutex<Option<Instant>> = Mutex::new(None);
    Arc::new(move |fraction, message| {
        let now = Instant::now();
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|t| now.duration_since(t) >= PROGRESS_INTERVAL);
        if due || fraction >= 1.0 {
            *last = Some(now);
            sink(attempt, fraction, message);
        }
    })
}

/// Runs the node once per seed and returns the outputs, or the first failure.
pub(crate) async fn execute(spec: &NodeSpec, cx: &RunContext, run: &RunSpec) -> Result<Vec<Produced>, NodeError> {
    let input = assemble_input(cx, run)?;
    let node = spec.implementation();
    let progress = throttled(cx.progress.clone(), run.attempt);
    let mut outputs = Vec::with_capacity(run.seeds.len());
    for &seed in &run.seeds {
        let ctx = NodeCtx {
            episode: cx.episode,
            key: run.key.clone(),
            attempt: run.attempt,
            seed,
            feedback: run.feedback.clone(),
            cancel: cx.cancel.child_token(),
            blobs: cx.blobs.clone(),
            progress: Some(progress.clone()),
            remarks: Arc::default(),
        };
        let quality = matches!(spec.gate_ref(), Gate::Quality { .. });
        let work = async {
            let value = node.run_json(&input, &ctx).await?;
            let score = if quality {
                Some(node.score_json(&input, &value, &ctx).await?)
            } else {
                None
            };
            Ok::<_, NodeError>(Produced {
                value: Arc::new(value),
                score,
                remarks: ctx.remarks(),
            })
        };
        let guarded = AssertUnwindSafe(work).catch_unwind();
        let bounded = async {
            match spec.timeout_ref() {
                Some(limit) => tokio::time::timeout(limit, guarded)
                    .await
                    .map_err(|_| NodeError::Retryable(format!("timed out after {limit:?}"))),
                None => Ok(guarded.await),
            }
        };
        tokio::pin!(bounded);
        let finished = tokio::select! {
            r = &mut bounded => Some(r),
            // The node's own token fires with this one; give it a moment to wind down cleanly.
            _ = cx.cancel.cancelled() => {
                let _ = tokio::time::timeout(CANCEL_GRACE, &mut bounded).await;
                None
            }
        };
        let outcome = match finished {
            None => Err(NodeError::Cancelled),
            Some(Ok(Ok(result))) => result,
            Some(Ok(Err(panic))) => Err(NodeError::Permanent(format!(
                "the node panicked: {}",
                panic_message(&panic)
            ))),
            Some(Err(timeout)) => Err(timeout),
        };
        ctx.cancel.cancel();
        outputs.push(outcome?);
    }
    Ok(outputs)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
