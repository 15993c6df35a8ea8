//! Gates and actions through the real engine: quality and candidates gates, regenerate with
//! feedback, revert, retries with backoff, timeouts, pause/resume/cancel, fork, resource limits
//! and blob collection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use showrunner::engine::{
    EngineError, EpisodeStatus, Escalation, Gate, InstanceKey, Node, NodeCtx, NodeError, NodeSpec, NodeState, Resource,
    RetryPolicy, WorkflowDef,
};

use crate::support::{Runs, counted, open, record, wait_state, wait_status};

/// Scores its output by the seed, so regenerations differ.
struct Scored {
    runs: Runs,
}

#[async_trait]
impl Node for Scored {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        self.runs.bump(ctx.key());
        Ok(json!({"attempt": ctx.attempt(), "seed": ctx.seed(), "feedback": ctx.feedback()}))
    }

    async fn score(&self, _: &Value, _: &Value, _: &NodeCtx) -> Result<f64, NodeError> {
        Ok(0.1)
    }
}

#[tokio::test]
async fn a_quality_gate_regenerates_below_the_bar_then_asks_a_person() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let def = WorkflowDef::builder("q")
        .node(
            NodeSpec::single("frame", Scored { runs: runs.clone() }).gate(Gate::Quality {
                min_score: 0.5,
                max_attempts: 3,
                then: Escalation::Human,
            }),
        )
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("q", json!({}), 5).await.expect("create");
    let key = InstanceKey::single("frame");
    let snapshot = wait_state(&engine, id, &key, NodeState::AwaitingApproval {}).await;
    let frame = record(&snapshot, &key);
    assert_eq!(runs.get("frame"), 3, "three tries below the bar");
    assert_eq!(frame.versions.len(), 3);
    let seeds: std::collections::HashSet<u64> = frame.versions.iter().map(|v| v.seed).collect();
    assert_eq!(seeds.len(), 3, "each try has its own seed");
    assert!(frame.versions.iter().all(|v| v.score == Some(0.1)));
    engine.approve(id, key, 3).await.expect("a person approves");
    wait_status(&engine, id, EpisodeStatus::Completed).await;
}

#[tokio::test]
async fn candidates_are_picked_and_regenerate_carries_feedback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let def = WorkflowDef::builder("c")
        .node(NodeSpec::single("look", Scored { runs: runs.clone() }).gate(Gate::Candidates { n: 3 }))
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("c", json!({}), 5).await.expect("create");
    let key = InstanceKey::single("look");
    let snapshot = wait_state(&engine, id, &key, NodeState::AwaitingApproval {}).await;
    assert_eq!(record(&snapshot, &key).candidates, vec![1, 2, 3]);
    let err = engine.select(id, key.clone(), 7).await.expect_err("not a candidate");
    assert!(err.is_conflict());

    engine
        .regenerate(id, key.clone(), Some("warmer light".into()), Some(1))
        .await
        .expect("regenerate");
    let snapshot = wait_state(&engine, id, &key, NodeState::AwaitingApproval {}).await;
    let look = record(&snapshot, &key);
    assert_eq!(look.candidates, vec![4, 5, 6]);
    let value = engine.version_value(id, &key, 5).expect("value");
    assert_eq!(value["feedback"], json!("warmer light"));
    assert_ne!(
        look.versions[0].seed, look.versions[3].seed,
        "a regenerate changes the seed"
    );
    let err = engine
        .select(id, key.clone(), 2)
        .await
        .expect_err("an old round's candidate");
    assert!(err.is_conflict());
    engine.select(id, key.clone(), 5).await.expect("pick");
    let done = wait_status(&engine, id, EpisodeStatus::Completed).await;
    assert_eq!(record(&done, &key).current, Some(5));

    engine.revert(id, key.clone(), 2).await.expect("revert");
    let reverted = engine.instance(id, &key).await.expect("instance");
    assert_eq!((reverted.current, reverted.state), (Some(2), NodeState::Approved {}));
    let err = engine.revert(id, key.clone(), 42).await.expect_err("no such version");
    assert!(matches!(err, EngineError::VersionConflict { given: 42, .. }));
}

/// Fails the first `failures` runs, then succeeds.
struct Flaky {
    calls: AtomicUsize,
    failures: usize,
    permanent: bool,
}

#[async_trait]
impl Node for Flaky {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n < self.failures {
            return Err(if self.permanent {
                NodeError::permanent("bad input")
            } else {
                NodeError::retryable("GPU busy")
            });
        }
        Ok(json!({"attempt": ctx.attempt()}))
    }
}

fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

#[tokio::test]
async fn retryable_failures_back_off_then_succeed_and_permanent_ones_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flaky = Flaky {
        calls: AtomicUsize::new(0),
        failures: 2,
        permanent: false,
    };
    let broken = Flaky {
        calls: AtomicUsize::new(0),
        failures: 1,
        permanent: true,
    };
    let def = WorkflowDef::builder("r")
        .node(NodeSpec::single("flaky", flaky).retry(quick_retry(3)))
        .node(NodeSpec::single("broken", broken).retry(quick_retry(3)))
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("r", json!({}), 1).await.expect("create");
    let flaky_key = InstanceKey::single("flaky");
    let snapshot = wait_state(&engine, id, &flaky_key, NodeState::Approved {}).await;
    assert_eq!(record(&snapshot, &flaky_key).attempts, 3);
    let snapshot = wait_status(&engine, id, EpisodeStatus::Failed).await;
    let broken = record(&snapshot, &InstanceKey::single("broken"));
    assert_eq!(
        (broken.state, broken.attempts),
        (NodeState::Failed {}, 1),
        "permanent: no retry"
    );
    assert_eq!(broken.last_error.as_deref(), Some("bad input"));
    // A person asks again: it succeeds now and the episode completes.
    engine
        .regenerate(id, broken.key.clone(), None, None)
        .await
        .expect("regenerate");
    wait_status(&engine, id, EpisodeStatus::Completed).await;
}

/// Sleeps past any reasonable timeout unless cancelled.
struct Sleepy {
    cancelled: Arc<AtomicUsize>,
}

#[async_trait]
impl Node for Sleepy {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(30)) => Ok(json!("woke")),
            _ = ctx.cancellation().cancelled() => {
                self.cancelled.fetch_add(1, Ordering::SeqCst);
                Err(NodeError::Cancelled)
            }
        }
    }
}

#[tokio::test]
async fn a_timeout_fails_the_run_and_the_retry_policy_applies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cancelled = Arc::new(AtomicUsize::new(0));
    let def = WorkflowDef::builder("t")
        .node(
            NodeSpec::single(
                "slow",
                Sleepy {
                    cancelled: cancelled.clone(),
                },
            )
            .timeout(Duration::from_millis(50))
            .retry(quick_retry(2)),
        )
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("t", json!({}), 1).await.expect("create");
    let snapshot = wait_status(&engine, id, EpisodeStatus::Failed).await;
    let slow = record(&snapshot, &InstanceKey::single("slow"));
    assert_eq!(slow.attempts, 2);
    assert!(
        slow.last_error.as_deref().is_some_and(|e| e.contains("timed out")),
        "{slow:?}"
    );
}

#[tokio::test]
async fn pause_interrupts_resume_requeues_and_cancel_propagates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cancelled = Arc::new(AtomicUsize::new(0));
    let def = WorkflowDef::builder("p")
        .node(NodeSpec::single(
            "slow",
            Sleepy {
                cancelled: cancelled.clone(),
            },
        ))
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("p", json!({}), 1).await.expect("create");
    let key = InstanceKey::single("slow");
    wait_state(&engine, id, &key, NodeState::Running { attempt: 1 }).await;
    engine.pause(id).await.expect("pause");
    let paused = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(paused.header.status, EpisodeStatus::Paused);
    assert_eq!(record(&paused, &key).state, NodeState::Ready {});
    assert!(engine.pause(id).await.expect_err("already paused").is_conflict());
    engine.resume(id).await.expect("resume");
    wait_state(&engine, id, &key, NodeState::Running { attempt: 2 }).await;
    engine.cancel(id).await.expect("cancel");
    let done = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(done.header.status, EpisodeStatus::Cancelled);
    assert_eq!(record(&done, &key).state, NodeState::Cancelled {});
    tokio::time::timeout(Duration::from_secs(5), async {
        while cancelled.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("both runs saw their cancellation token fire");
    let err = engine.approve(id, key, 1).await.expect_err("cancelled");
    assert!(matches!(err, EngineError::IllegalEpisodeAction { .. }));
}

/// Counts how many runs hold the GPU at once.
struct GpuWork {
    now: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

#[async_trait]
impl Node for GpuWork {
    type Input = Value;
    type Output = Value;

    async fn run(&self, input: Value, _: &NodeCtx) -> Result<Value, NodeError> {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.now.fetch_sub(1, Ordering::SeqCst);
        Ok(input["item"].clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gpu_is_never_oversubscribed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let (now, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let def = WorkflowDef::builder("g")
        .node(NodeSpec::list(
            "shots",
            counted(&runs, |_, _| {
                json!((0..12).map(|n| json!({"id": format!("s{n}")})).collect::<Vec<_>>())
            }),
        ))
        .node(
            NodeSpec::map(
                "frames",
                "shots",
                GpuWork {
                    now: now.clone(),
                    peak: peak.clone(),
                },
            )
            .resource(Resource::Gpu),
        )
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let a = engine.create_episode("g", json!({}), 1).await.expect("create");
    let b = engine.create_episode("g", json!({}), 2).await.expect("create");
    wait_status(&engine, a, EpisodeStatus::Completed).await;
    wait_status(&engine, b, EpisodeStatus::Completed).await;
    assert_eq!(peak.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn fork_shares_versions_and_blobs_then_diverges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let def = WorkflowDef::builder("f")
        .node(
            NodeSpec::single(
                "draft",
                crate::support::counted(&runs, |_, ctx| json!({"seed": ctx.seed()})),
            )
            .gate(Gate::Human),
        )
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("f", json!({}), 1).await.expect("create");
    let key = InstanceKey::single("draft");
    wait_state(&engine, id, &key, NodeState::AwaitingApproval {}).await;
    let blob = engine.blobs().put(b"a keyframe".to_vec()).await.expect("blob");
    engine
        .edit(id, key.clone(), json!({"image": blob.to_string()}), Some(1))
        .await
        .expect("edit");

    let fork = engine.fork(id).await.expect("fork");
    let forked = engine.snapshot(fork).await.expect("snapshot");
    assert_eq!(forked.header.forked_from, Some(id));
    assert_eq!(
        record(&forked, &key).versions,
        record(&engine.snapshot(id).await.expect("s"), &key).versions
    );
    assert_eq!(
        engine.version_value(fork, &key, 2).expect("value")["image"],
        json!(blob.to_string())
    );
    assert_eq!(forked.header.status, EpisodeStatus::Completed);

    // Diverge: the fork edits again; the original keeps its pointer.
    engine
        .edit(fork, key.clone(), json!({"image": null}), Some(2))
        .await
        .expect("edit fork");
    assert_eq!(engine.instance(id, &key).await.expect("instance").current, Some(2));

    // The blob is still referenced by both episodes' version 2; an unreferenced one is collected.
    let orphan = engine.blobs().put(b"an unused take".to_vec()).await.expect("blob");
    let stats = engine.collect_garbage(Duration::ZERO).await.expect("gc");
    assert_eq!(stats.removed, 1);
    assert!(engine.blobs().contains(blob).await.expect("contains"));
    assert!(!engine.blobs().contains(orphan).await.expect("contains"));
    engine.delete(fork).await.expect("delete");
    assert!(matches!(
        engine.snapshot(fork).await,
        Err(EngineError::EpisodeNotFound(_))
    ));
}

#[tokio::test]
async fn an_edit_that_does_not_fit_the_output_type_is_refused() {
    struct Typed;
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Outline {
        logline: String,
    }
    #[async_trait]
    impl Node for Typed {
        type Input = Value;
        type Output = Outline;
        async fn run(&self, _: Value, _: &NodeCtx) -> Result<Outline, NodeError> {
            Ok(Outline {
                logline: "a heist".into(),
            })
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let def = WorkflowDef::builder("e")
        .node(NodeSpec::single("outline", Typed).gate(Gate::Human))
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("e", json!({}), 1).await.expect("create");
    let key = InstanceKey::single("outline");
    let before = wait_state(&engine, id, &key, NodeState::AwaitingApproval {}).await;
    let err = engine
        .edit(id, key.clone(), json!({"logline": 7}), Some(1))
        .await
        .expect_err("bad type");
    assert!(matches!(err, EngineError::InvalidValue { .. }), "{err}");
    assert!(err.to_string().contains("at `logline`: invalid type"), "{err}");
    assert_eq!(engine.snapshot(id).await.expect("snapshot").instances, before.instances);
    engine
        .edit(id, key, json!({"logline": "a caper"}), Some(1))
        .await
        .expect("a good edit");
}
