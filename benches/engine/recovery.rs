//! Scenario 3: how long `showrunner::open` takes to bring back a store full of episodes that wait
//! at a Human gate.
//!
//! The store is populated through the pure core and the store, which writes exactly what the
//! engine writes for such an episode (header, instance snapshot, version value, and the events
//! `EpisodeCreated, NodeReady, NodeStarted, NodeProduced, GateOpened`), only in one commit per
//! episode instead of three, and with many commits in flight so group commit batches them.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use showrunner::engine::{
    Command, Commit, EngineConfig, Episode, EpisodeId, EpisodeStatus, Event, InstanceKey, NodeState, Produced, Store,
    WorkflowDef, now_ms,
};
use showrunner::storage::SledStore;

use crate::common::{GATE_NODE, Phase, disk_usage, fresh_dir, gate_workflow};

/// What one recovery measured.
pub struct Recovered {
    /// Episodes stored.
    pub n: usize,
    /// Populating the store.
    pub populate: Duration,
    /// `showrunner::open`, start to finish.
    pub open: Duration,
    /// Episodes the recovery report says were loaded.
    pub loaded: usize,
    /// Of that (measured again, separately): opening sled.
    pub sled_open: Duration,
    /// Reading and decoding every unfinished episode (`Store::load_episodes`).
    pub load: Duration,
    /// Rebuilding the episodes (`Episode::restore`).
    pub restore: Duration,
    /// Stopping the recovered engine.
    pub shutdown: Duration,
    /// Bytes on disk.
    pub disk: u64,
}

/// The commit that leaves a new episode of `def` waiting at its gate: what `create_episode`, the
/// `Start` and the `Finished` of its node commit, as one.
pub fn episode_at_gate(def: &WorkflowDef, seed: u64) -> Commit {
    let id = EpisodeId::generate();
    let now = now_ms();
    let key = InstanceKey::single(GATE_NODE);
    let (mut episode, mut changes) = Episode::create(def, id, json!({ "idea": "a bench episode", "seed": seed }), seed, now);
    episode
        .apply(def, Command::Start { key: key.clone() }, now, &mut changes)
        .expect("starting the node");
    let produced = Produced {
        value: Arc::new(json!({ "v": 0 })),
        score: None,
    };
    episode
        .apply(
            def,
            Command::Finished {
                key,
                attempt: 1,
                result: Ok(vec![produced]),
            },
            now,
            &mut changes,
        )
        .expect("finishing the node");
    let mut header = episode.header().clone();
    let mut commit = Commit::new(id);
    for kind in changes.events.drain(..) {
        commit.events.push(Event {
            episode: id,
            seq: header.next_seq,
            at: now,
            kind,
        });
        header.next_seq += 1;
    }
    commit.header = Some(header);
    commit.instances = episode.instances().cloned().collect();
    commit.values = std::mem::take(&mut changes.values);
    commit
}

/// Stores `n` episodes waiting at a gate, then times `showrunner::open` over them.
pub async fn run(base: &Path, n: usize) -> Recovered {
    let dir = fresh_dir(base, &format!("recovery-{n}"));
    let def = gate_workflow();
    let phase = Phase::start(format!("recovery: populating {n} episodes at a Human gate"));
    let store = Arc::new(SledStore::open(dir.join("store")).expect("opening the store"));
    futures::stream::iter(0..n)
        .map(|i| {
            let commit = episode_at_gate(&def, i as u64);
            let store = store.clone();
            async move { store.commit(commit).await.expect("a durable commit") }
        })
        .buffer_unordered(1024)
        .collect::<Vec<()>>()
        .await;
    drop(store);
    let populate = phase.done();
    let disk = disk_usage(&dir);

    let phase = Phase::start(format!("recovery: showrunner::open over {n} episodes"));
    let t = Instant::now();
    let (engine, report) = showrunner::open(&dir, vec![gate_workflow()], EngineConfig::default())
        .await
        .expect("recovering");
    let open = t.elapsed();
    phase.done();
    assert!(
        report.corrupt.is_empty() && report.failed.is_empty() && report.unknown_definitions.is_empty(),
        "recovery reported problems: {report:?}"
    );
    if let Some(&id) = engine.episodes(EpisodeStatus::Active).expect("the status index").first() {
        let record = engine
            .instance(id, &InstanceKey::single(GATE_NODE))
            .await
            .expect("a recovered instance");
        assert!(
            matches!(record.state, NodeState::AwaitingApproval {}),
            "a recovered episode should wait at its gate, found {:?}",
            record.state
        );
    }
    let t = Instant::now();
    engine.shutdown().await;
    drop(engine);
    let shutdown = t.elapsed();

    // The same work again, piece by piece, to see where the time goes.
    let t = Instant::now();
    let store = SledStore::open(dir.join("store")).expect("opening the store");
    let sled_open = t.elapsed();
    let t = Instant::now();
    let loaded = store
        .load_episodes(&[EpisodeStatus::Active, EpisodeStatus::Paused, EpisodeStatus::Failed])
        .expect("loading episodes");
    let load = t.elapsed();
    let t = Instant::now();
    let restored = loaded
        .into_iter()
        .map(|s| Episode::restore(&def, s.expect("an episode that loads")).expect("an episode that restores"))
        .count();
    let restore = t.elapsed();
    assert_eq!(restored, n);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    Recovered {
        n,
        populate,
        open,
        loaded: report.loaded,
        sled_open,
        load,
        restore,
        shutdown,
        disk,
    }
}
