//! Scenario 2: durable transitions under concurrency, through the engine (`Engine::edit`) and
//! straight through the store (`SledStore::commit`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use showrunner::engine::{
    Commit, EngineConfig, EpisodeId, Event, EventKind, InstanceKey, InstanceRecord, NodeState, Store, now_ms,
};
use showrunner::storage::SledStore;
use tokio::sync::Barrier;

use crate::common::{GATE_NODE, GATE_WORKFLOW, Phase, Samples, disk_usage, fresh_dir, gate_workflow, nanos};

/// What one concurrency level measured.
pub struct Measured {
    /// Concurrent episodes (tasks).
    pub n: usize,
    /// Every call's latency.
    pub lat: Samples,
    /// The first 10% of every task's calls.
    pub early: Samples,
    /// The last 10% of every task's calls.
    pub late: Samples,
    /// From the common start to the last call's answer.
    pub wall: Duration,
    /// Bytes on disk afterwards.
    pub disk: u64,
}

impl Measured {
    /// Transitions per second.
    pub fn throughput(&self) -> f64 {
        self.lat.len() as f64 / self.wall.as_secs_f64().max(1e-12)
    }
}

fn split(per_task: Vec<Vec<u64>>, n: usize, wall: Duration, disk: u64) -> Measured {
    let mut all = Vec::new();
    let mut early = Vec::new();
    let mut late = Vec::new();
    for lat in per_task {
        let tenth = (lat.len() / 10).max(1);
        early.extend_from_slice(&lat[..tenth.min(lat.len())]);
        late.extend_from_slice(&lat[lat.len().saturating_sub(tenth)..]);
        all.extend(lat);
    }
    Measured {
        n,
        lat: Samples::new(all),
        early: Samples::new(early),
        late: Samples::new(late),
        wall,
        disk,
    }
}

/// `n` episodes wait at a Human gate; `n` tasks then edit their episode's node `total / n` times
/// each, naming the current version every time (each edit is one durable transition).
pub async fn engine_level(base: &Path, n: usize, total: usize) -> Measured {
    let dir = fresh_dir(base, &format!("engine-edit-n{n}"));
    let (engine, _) = showrunner::open(&dir, vec![gate_workflow()], EngineConfig::default())
        .await
        .expect("opening the engine");
    let phase = Phase::start(format!("engine: creating {n} episodes and waiting at their gates"));
    let ids: Vec<EpisodeId> = join_all((0..n).map(|i| engine.create_episode(GATE_WORKFLOW, json!({ "i": i }), i as u64)))
        .await
        .into_iter()
        .map(|r| r.expect("creating an episode"))
        .collect();
    let key = InstanceKey::single(GATE_NODE);
    let mut start = Vec::with_capacity(n);
    for &id in &ids {
        let snapshot = engine
            .wait_until(id, Duration::from_secs(120), |s| {
                s.instances
                    .iter()
                    .any(|r| r.key.node == GATE_NODE && matches!(r.state, NodeState::AwaitingApproval {}))
            })
            .await
            .expect("waiting at the gate")
            .expect("the node reached its gate in time");
        let current = snapshot
            .instances
            .iter()
            .find(|r| r.key == key)
            .and_then(|r| r.current)
            .expect("a produced version");
        start.push((id, current));
    }
    phase.done();

    let per = (total / n).max(1);
    let phase = Phase::start(format!("engine: {n} tasks × {per} edits"));
    let barrier = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = start
        .into_iter()
        .map(|(id, mut current)| {
            let engine = engine.clone();
            let barrier = barrier.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                barrier.wait().await;
                for k in 0..per {
                    let t = Instant::now();
                    engine
                        .edit(id, key.clone(), json!({ "v": k + 1 }), Some(current))
                        .await
                        .expect("a durable edit");
                    lat.push(nanos(t.elapsed()));
                    current += 1;
                }
                lat
            })
        })
        .collect();
    barrier.wait().await;
    let t0 = Instant::now();
    let per_task: Vec<Vec<u64>> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("an edit task"))
        .collect();
    let wall = t0.elapsed();
    phase.done();
    engine.shutdown().await;
    drop(engine);
    let disk = disk_usage(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    split(per_task, n, wall, disk)
}

/// `n` tasks each commit `total / n` times to their own episode through `SledStore::commit`:
/// one event and one instance record per commit, the store's part of a transition alone.
pub async fn store_level(base: &Path, n: usize, total: usize) -> Measured {
    let dir = fresh_dir(base, &format!("store-commit-n{n}"));
    let store = Arc::new(SledStore::open(dir.join("store")).expect("opening the store"));
    let per = (total / n).max(1);
    let phase = Phase::start(format!("store: {n} tasks × {per} commits"));
    let barrier = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let episode = EpisodeId::generate();
                let key = InstanceKey::single(GATE_NODE);
                let record = InstanceRecord::new(key.clone());
                let mut lat = Vec::with_capacity(per);
                barrier.wait().await;
                for seq in 1..=per as u64 {
                    let t = Instant::now();
                    let mut commit = Commit::new(episode);
                    commit.instances.push(record.clone());
                    commit.events.push(Event {
                        episode,
                        seq,
                        at: now_ms(),
                        kind: EventKind::Edited {
                            key: key.clone(),
                            version: seq as u32,
                        },
                    });
                    store.commit(commit).await.expect("a durable commit");
                    lat.push(nanos(t.elapsed()));
                }
                lat
            })
        })
        .collect();
    barrier.wait().await;
    let t0 = Instant::now();
    let per_task: Vec<Vec<u64>> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("a commit task"))
        .collect();
    let wall = t0.elapsed();
    phase.done();
    drop(store);
    let disk = disk_usage(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    split(per_task, n, wall, disk)
}
