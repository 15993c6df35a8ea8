//! Recovery on open: unknown definition versions and corrupt records are reported and left
//! untouched while the other episodes run; an unknown store format is refused.

use serde_json::json;
use showrunner::engine::{EngineConfig, EngineError, EpisodeStatus, InstanceKey, NodeState, Store, StoreError};
use showrunner::storage::SledStore;

use crate::support::{Runs, cast_input, cast_workflow, gated_workflow, open, record, wait_state, wait_status};

#[tokio::test]
async fn an_episode_of_an_unregistered_definition_is_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let (orphan, other) = {
        let engine = open(dir.path(), vec![gated_workflow(&runs), cast_workflow(&runs)]).await;
        let orphan = engine
            .create_episode("gated", json!("old idea"), 1)
            .await
            .expect("create");
        wait_state(
            &engine,
            orphan,
            &InstanceKey::single("draft"),
            NodeState::AwaitingApproval {},
        )
        .await;
        let other = engine.create_episode("cast", cast_input(), 2).await.expect("create");
        engine.pause(other).await.expect("pause");
        engine.shutdown().await;
        (orphan, other)
    };
    let before = SledStore::open(dir.path().join("store"))
        .expect("store")
        .load_episode(orphan)
        .expect("load");

    // The gated workflow changed (a different gate): a new definition version.
    let changed = showrunner::engine::WorkflowDef::builder("gated")
        .node(showrunner::engine::NodeSpec::single(
            "draft",
            crate::support::counted(&runs, |_, _| json!(1)),
        ))
        .build()
        .expect("valid");
    let (engine, report) = showrunner::open(dir.path(), vec![changed, cast_workflow(&runs)], EngineConfig::default())
        .await
        .expect("open");
    assert_eq!(report.unknown_definitions.len(), 1);
    assert_eq!(report.unknown_definitions[0].episode, orphan);
    assert_eq!(report.loaded, 1);
    let err = engine
        .approve(orphan, InstanceKey::single("draft"), 1)
        .await
        .expect_err("unknown definition");
    assert!(matches!(err, EngineError::UnknownDefinition { .. }), "{err}");
    engine.resume(other).await.expect("the other episode runs");
    wait_status(&engine, other, EpisodeStatus::Completed).await;
    engine.shutdown().await;
    drop(engine);
    let after = SledStore::open(dir.path().join("store"))
        .expect("store")
        .load_episode(orphan)
        .expect("load");
    let (before, after) = (before.expect("stored"), after.expect("stored"));
    assert_eq!(before.header, after.header, "nothing changed");
    assert_eq!(before.instances, after.instances, "nothing changed");
}

#[tokio::test]
async fn a_corrupt_record_is_reported_with_its_episode_and_the_others_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let (broken, healthy) = {
        let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
        let broken = engine.create_episode("gated", json!("a"), 1).await.expect("create");
        let healthy = engine.create_episode("gated", json!("b"), 2).await.expect("create");
        wait_state(
            &engine,
            broken,
            &InstanceKey::single("draft"),
            NodeState::AwaitingApproval {},
        )
        .await;
        wait_state(
            &engine,
            healthy,
            &InstanceKey::single("draft"),
            NodeState::AwaitingApproval {},
        )
        .await;
        engine.shutdown().await;
        (broken, healthy)
    };
    {
        // Damage one instance record of `broken` behind the store's back.
        let db = sled::open(dir.path().join("store")).expect("sled");
        let tree = db.open_tree("showrunner").expect("tree");
        let mut prefix = vec![b'i'];
        prefix.extend_from_slice(&u128::from(broken.0).to_be_bytes());
        let (key, _) = tree.scan_prefix(&prefix).next().expect("a record").expect("read");
        tree.insert(key, &b"{not json"[..]).expect("damage");
        db.flush().expect("flush");
    }
    let (engine, report) = showrunner::open(dir.path(), vec![gated_workflow(&runs)], EngineConfig::default())
        .await
        .expect("open");
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert_eq!(report.corrupt[0].0, Some(broken));
    assert!(
        report.corrupt[0].1.contains(&broken.to_string()),
        "{}",
        report.corrupt[0].1
    );
    assert_eq!(report.loaded, 1);
    engine
        .approve(healthy, InstanceKey::single("draft"), 1)
        .await
        .expect("healthy episode works");
    wait_status(&engine, healthy, EpisodeStatus::Completed).await;
    let err = engine.snapshot(broken).await.expect_err("corrupt");
    assert!(
        matches!(err, EngineError::Store(StoreError::Corrupt { episode: Some(e), .. }) if e == broken),
        "{err}"
    );
}

#[test]
fn an_unknown_store_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SledStore::open(dir.path()).expect("create"));
    {
        let db = sled::open(dir.path()).expect("sled");
        db.open_tree("showrunner")
            .expect("tree")
            .insert(b"mformat", &b"99"[..])
            .expect("write");
        db.flush().expect("flush");
    }
    let err = SledStore::open(dir.path()).expect_err("refused");
    assert!(
        matches!(err, StoreError::UnknownFormat { ref found, supported: 1 } if found == "99"),
        "{err}"
    );
    assert!(err.to_string().contains("format version 99"));
}

#[tokio::test]
async fn open_gates_stay_open_and_approved_work_is_kept_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let id = {
        let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
        let id = engine.create_episode("gated", json!("idea"), 1).await.expect("create");
        wait_state(
            &engine,
            id,
            &InstanceKey::single("draft"),
            NodeState::AwaitingApproval {},
        )
        .await;
        engine.shutdown().await;
        id
    };
    let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
    let snapshot = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(
        record(&snapshot, &InstanceKey::single("draft")).state,
        NodeState::AwaitingApproval {}
    );
    engine
        .approve(id, InstanceKey::single("draft"), 1)
        .await
        .expect("approve");
    wait_status(&engine, id, EpisodeStatus::Completed).await;
    engine.shutdown().await;
    drop(engine);
    let engine = open(dir.path(), vec![gated_workflow(&runs)]).await;
    assert_eq!(
        engine.snapshot(id).await.expect("snapshot").header.status,
        EpisodeStatus::Completed
    );
    assert_eq!(runs.get("draft"), 1, "nothing approved ran again");
    assert_eq!(runs.get("render"), 1, "nothing approved ran again");
}
