//! Concurrent actions on one gate: exactly one approval wins, the others get a typed conflict.

use std::sync::Arc;

use showrunner::engine::{EngineError, EpisodeStatus, InstanceKey, NodeState};

use crate::support::{Runs, gated_workflow, open, record, wait_state, wait_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_approvals_one_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
    let id = engine
        .create_episode("gated", serde_json::json!("a heist"), 1)
        .await
        .expect("create");
    let draft = InstanceKey::single("draft");
    let at_gate = wait_state(&engine, id, &draft, NodeState::AwaitingApproval {}).await;
    let version = record(&at_gate, &draft).current.expect("a version");

    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let engine = engine.clone();
            let barrier = barrier.clone();
            let draft = draft.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                engine.approve(id, draft, version).await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => wins += 1,
            Err(e @ EngineError::IllegalAction { .. }) => assert!(e.is_conflict()),
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(wins, 1);
    wait_status(&engine, id, EpisodeStatus::Completed).await;
    assert_eq!(runs.get("draft"), 1);
    assert_eq!(runs.get("render"), 1, "the approved draft fed one render");
}

#[tokio::test]
async fn acting_on_a_stale_version_is_a_conflict_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
    let id = engine
        .create_episode("gated", serde_json::json!("a heist"), 1)
        .await
        .expect("create");
    let draft = InstanceKey::single("draft");
    let before = wait_state(&engine, id, &draft, NodeState::AwaitingApproval {}).await;
    let err = engine.approve(id, draft.clone(), 9).await.expect_err("stale version");
    assert!(
        matches!(
            err,
            EngineError::VersionConflict {
                given: 9,
                current: Some(1),
                ..
            }
        ),
        "{err}"
    );
    let err = engine
        .approve(id, InstanceKey::single("nope"), 1)
        .await
        .expect_err("unknown node");
    assert!(matches!(err, EngineError::InstanceNotFound { .. }), "{err}");
    let err = engine
        .approve(id, InstanceKey::single("render"), 1)
        .await
        .expect_err("blocked node");
    assert!(matches!(err, EngineError::IllegalAction { .. }), "{err}");
    let after = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(before.instances, after.instances);
    assert_eq!(before.header, after.header);
}
