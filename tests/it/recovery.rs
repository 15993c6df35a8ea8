//! Recovery on open: unknown definition versions and corrupt records are reported and left
//! untouched while the other episodes run; an unknown store format is refused.

use serde_json::json;
use showrunner::engine::{
    Commit, EngineConfig, EngineError, EpisodeId, EpisodeStatus, Event, EventKind, InstanceKey, NodeState, Store,
    StoreError, now_ms,
};
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
    assert_eq!(
        report.loaded, 1,
        "the paused episode has work (its interrupted run) and is loaded"
    );
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

/// A node that runs until it is cancelled: its episode has work whenever the engine stops.
struct Hanging;

#[async_trait::async_trait]
impl showrunner::engine::Node for Hanging {
    type Input = serde_json::Value;
    type Output = serde_json::Value;

    async fn run(
        &self,
        _: serde_json::Value,
        ctx: &showrunner::engine::NodeCtx,
    ) -> Result<serde_json::Value, showrunner::engine::NodeError> {
        ctx.cancellation().cancelled().await;
        Err(showrunner::engine::NodeError::Cancelled)
    }
}

fn hanging_workflow() -> showrunner::engine::WorkflowDef {
    showrunner::engine::WorkflowDef::builder("hanging")
        .node(showrunner::engine::NodeSpec::single("forever", Hanging))
        .build()
        .expect("valid")
}

/// Opens the store's sled database directly, with the store's own settings, once the engine
/// that used it has let go.
fn raw_sled(dir: &std::path::Path) -> sled::Db {
    let config = sled::Config::new().path(dir).segment_size(1 << 20);
    for _ in 0..100 {
        match config.open() {
            Ok(db) => return db,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    config.open().expect("sled")
}

/// Overwrites the first instance record of `episode` with bytes that do not decode.
fn damage(dir: &std::path::Path, episode: showrunner::engine::EpisodeId) {
    let db = raw_sled(&dir.join("store"));
    let tree = db.open_tree("showrunner").expect("tree");
    let mut prefix = vec![b'i'];
    prefix.extend_from_slice(&u128::from(episode.0).to_be_bytes());
    let (key, _) = tree.scan_prefix(&prefix).next().expect("a record").expect("read");
    tree.insert(key, &b"{not json"[..]).expect("damage");
    db.flush().expect("flush");
}

#[tokio::test]
async fn a_corrupt_record_is_reported_with_its_episode_and_the_others_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let defs = || vec![gated_workflow(&runs), hanging_workflow()];
    let (running, waiting, healthy) = {
        let engine = open(dir.path(), defs()).await;
        let running = engine.create_episode("hanging", json!("r"), 1).await.expect("create");
        let waiting = engine.create_episode("gated", json!("a"), 2).await.expect("create");
        let healthy = engine.create_episode("gated", json!("b"), 3).await.expect("create");
        wait_state(
            &engine,
            running,
            &InstanceKey::single("forever"),
            NodeState::Running { attempt: 1 },
        )
        .await;
        wait_state(
            &engine,
            waiting,
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
        (running, waiting, healthy)
    };
    damage(dir.path(), running);
    damage(dir.path(), waiting);
    let (engine, report) = showrunner::open(dir.path(), defs(), EngineConfig::default())
        .await
        .expect("open");
    // The episode with work in flight is loaded at open: its damage is reported there.
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert_eq!(report.corrupt[0].0, Some(running));
    assert!(
        report.corrupt[0].1.contains(&running.to_string()),
        "{}",
        report.corrupt[0].1
    );
    assert_eq!((report.loaded, report.waiting), (0, 2));
    // The others wait at their gates; the healthy one works.
    engine
        .approve(healthy, InstanceKey::single("draft"), 1)
        .await
        .expect("healthy episode works");
    wait_status(&engine, healthy, EpisodeStatus::Completed).await;
    // The damaged one that was waiting is reported, with its id, when it is first used.
    for broken in [waiting, running] {
        let err = engine.snapshot(broken).await.expect_err("corrupt");
        assert!(
            matches!(err, EngineError::Store(StoreError::Corrupt { episode: Some(e), .. }) if e == broken),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_store_of_format_1_opens_keeps_its_episodes_and_becomes_format_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let episode = EpisodeId::generate();
    {
        let store = SledStore::open(dir.path()).expect("create");
        let mut commit = Commit::new(episode);
        commit.events.push(Event {
            episode,
            seq: 1,
            at: now_ms(),
            kind: EventKind::EpisodePaused,
        });
        store.commit(commit).await.expect("a durable commit");
    }
    // What a build from before the journal left: format 1 and no journal file.
    std::fs::remove_file(dir.path().join("journal")).expect("the journal exists");
    {
        let db = raw_sled(dir.path());
        db.open_tree("showrunner")
            .expect("tree")
            .insert(b"mformat", &b"1"[..])
            .expect("write");
        db.flush().expect("flush");
    }
    let store = SledStore::open(dir.path()).expect("format 1 opens");
    assert_eq!(
        store.events(episode, 1, 10).expect("events").len(),
        1,
        "the log is kept"
    );
    drop(store);
    let db = raw_sled(dir.path());
    let format = db.open_tree("showrunner").expect("tree").get(b"mformat").expect("read");
    assert_eq!(
        format.as_deref(),
        Some(showrunner_storage::FORMAT_VERSION.to_string().as_bytes()),
        "upgraded on open"
    );
    assert!(dir.path().join("journal").exists(), "a journal is created");
}

#[test]
fn an_unknown_store_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(SledStore::open(dir.path()).expect("create"));
    {
        let db = raw_sled(dir.path());
        db.open_tree("showrunner")
            .expect("tree")
            .insert(b"mformat", &b"99"[..])
            .expect("write");
        db.flush().expect("flush");
    }
    let err = SledStore::open(dir.path()).expect_err("refused");
    assert!(
        matches!(err, StoreError::UnknownFormat { ref found, supported: showrunner_storage::FORMAT_VERSION } if found == "99"),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_finished_episode_after_a_restart_starts_no_actor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let (id, live) = {
        let engine = open(dir.path(), vec![cast_workflow(&runs)]).await;
        let id = engine.create_episode("cast", cast_input(), 7).await.expect("create");
        let live = wait_status(&engine, id, EpisodeStatus::Completed).await;
        engine.shutdown().await;
        (id, live)
    };
    let engine = open(dir.path(), vec![cast_workflow(&runs)]).await;
    assert_eq!(engine.loaded(), 0, "finished episodes are not loaded at start");
    let read = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(
        format!("{read:?}"),
        format!("{live:?}"),
        "the stored state reads as the actor showed it"
    );
    let key = InstanceKey::item("characters", "ada");
    assert_eq!(
        format!("{:?}", engine.instance(id, &key).await.expect("instance")),
        format!("{:?}", record(&live, &key))
    );
    assert!(matches!(
        engine.instance(id, &InstanceKey::single("nope")).await,
        Err(EngineError::InstanceNotFound { .. })
    ));
    assert_eq!(engine.loaded(), 0, "reads start no actor");
    // Acting on it does.
    engine
        .regenerate(id, key.clone(), Some("older".into()), None)
        .await
        .expect("regenerate");
    assert_eq!(engine.loaded(), 1);
    engine.shutdown().await;
}
