//! Scenario 2: durable transitions under concurrency, through the engine (`Engine::edit`) and
//! straight through the store (`SledStore::commit`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use showrunner::engine::{
    Changes, Commit, EngineConfig, EpisodeId, Event, EventKind, InstanceKey, InstanceRecord, NodeState, Store, now_ms,
};
use showrunner::storage::{CommitStats, SledStore};
use tokio::sync::Barrier;

use crate::common::{
    GATE_NODE, GATE_WORKFLOW, Phase, Samples, commit_of, disk_usage, edit, fresh_dir, gate_episode, gate_workflow,
    nanos, open_engine,
};
use crate::fsync::OverwriteProbe;

/// Rounds of bare syncs interleaved with the edits at one episode.
const BARE_ROUNDS: usize = 10;
/// Bare syncs per round.
const BARE_PER_ROUND: usize = 50;

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
    /// Commits and flushes of the measured part.
    pub stats: CommitStats,
    /// Bare overwrite + `fdatasync` samples taken between rounds of the calls, on the same disk
    /// in the same state (engine edits at one episode only).
    pub bare: Option<Samples>,
}

impl Measured {
    /// Transitions per second.
    pub fn throughput(&self) -> f64 {
        self.lat.len() as f64 / self.wall.as_secs_f64().max(1e-12)
    }

    /// Commits served per flush, on average.
    pub fn per_flush(&self) -> f64 {
        self.stats.commits as f64 / (self.stats.flushes as f64).max(1.0)
    }
}

fn delta(after: CommitStats, before: CommitStats) -> CommitStats {
    CommitStats {
        commits: after.commits - before.commits,
        flushes: after.flushes - before.flushes,
    }
}

fn split(per_task: Vec<Vec<u64>>, n: usize, wall: Duration, disk: u64, stats: CommitStats) -> Measured {
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
        stats,
        bare: None,
    }
}

/// `n` episodes wait at a Human gate; `n` tasks then edit their episode's node `total / n` times
/// each, naming the current version every time (each edit is one durable transition).
pub async fn engine_level(base: &Path, n: usize, total: usize) -> Measured {
    let dir = fresh_dir(base, &format!("engine-edit-n{n}"));
    let (engine, store) = open_engine(&dir, vec![gate_workflow()], EngineConfig::default()).await;
    let phase = Phase::start(format!("engine: creating {n} episodes and waiting at their gates"));
    let ids: Vec<EpisodeId> =
        join_all((0..n).map(|i| engine.create_episode(GATE_WORKFLOW, json!({ "i": i }), i as u64)))
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
    // At one episode, rounds of edits alternate with rounds of bare syncs of a file beside the
    // store, so that the baseline meets the disk in the state the edits do (sled writing back
    // what they wrote), as the start-of-run probe does not.
    let mut probe = (n == 1).then(|| OverwriteProbe::new(&dir));
    let round = (per / BARE_ROUNDS).max(1);
    let tasks: Vec<_> = start
        .into_iter()
        .map(|(id, mut current)| {
            let engine = engine.clone();
            let barrier = barrier.clone();
            let key = key.clone();
            let mut probe = probe.take();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                let mut bare = Vec::new();
                barrier.wait().await;
                for k in 0..per {
                    if let Some(probe) = probe.as_mut()
                        && k % round == 0
                    {
                        // Blocking, on a worker: nothing else runs at one episode.
                        bare.extend(probe.samples(BARE_PER_ROUND));
                    }
                    let t = Instant::now();
                    engine
                        .edit(id, key.clone(), json!({ "v": k + 1 }), Some(current))
                        .await
                        .expect("a durable edit");
                    lat.push(nanos(t.elapsed()));
                    current += 1;
                }
                (lat, bare)
            })
        })
        .collect();
    let before = store.stats();
    barrier.wait().await;
    let t0 = Instant::now();
    let (per_task, bare): (Vec<Vec<u64>>, Vec<Vec<u64>>) = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("an edit task"))
        .unzip();
    let bare: Vec<u64> = bare.into_iter().flatten().collect();
    // The bare syncs are not the engine's time.
    let wall = t0.elapsed().saturating_sub(Duration::from_nanos(bare.iter().sum()));
    let stats = delta(store.stats(), before);
    phase.done();
    engine.shutdown().await;
    drop(engine);
    drop(store);
    let disk = disk_usage(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    Measured {
        bare: (!bare.is_empty()).then(|| Samples::new(bare)),
        ..split(per_task, n, wall, disk, stats)
    }
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
    let before = store.stats();
    barrier.wait().await;
    let t0 = Instant::now();
    let per_task: Vec<Vec<u64>> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("a commit task"))
        .collect();
    let wall = t0.elapsed();
    let stats = delta(store.stats(), before);
    phase.done();
    drop(store);
    let disk = disk_usage(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    split(per_task, n, wall, disk, stats)
}

/// The engine's edit without the engine around it: `n` tasks each own an episode at its gate in
/// the pure core, apply `Edit` to it, build the commit the actor would build (header, instance
/// snapshot with every version, version value, events) and `SledStore::commit` it. The gap to
/// [`engine_level`] is the actor, its channels and the task wake-ups.
pub async fn engine_shaped(base: &Path, n: usize, total: usize) -> Measured {
    let dir = fresh_dir(base, &format!("store-engine-shaped-n{n}"));
    let store = Arc::new(SledStore::open(dir.join("store")).expect("opening the store"));
    let def = Arc::new(gate_workflow());
    let per = (total / n).max(1);
    let phase = Phase::start(format!("store, engine-shaped commits: {n} tasks × {per} edits"));
    let barrier = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            let def = def.clone();
            tokio::spawn(async move {
                let now = now_ms();
                let (mut episode, mut changes) = gate_episode(&def, i as u64, now);
                let mut next_seq = episode.header().next_seq;
                let created = commit_of(&def, &episode, &mut changes, &mut next_seq, now);
                store.commit(created).await.expect("creating the episode");
                let mut lat = Vec::with_capacity(per);
                let mut current = 1u32;
                barrier.wait().await;
                for k in 0..per {
                    let t = Instant::now();
                    let now = now_ms();
                    let mut changes = Changes::default();
                    episode
                        .apply(&def, edit(current, k + 1), now, &mut changes)
                        .expect("a legal edit");
                    let commit = commit_of(&def, &episode, &mut changes, &mut next_seq, now);
                    store.commit(commit).await.expect("a durable commit");
                    lat.push(nanos(t.elapsed()));
                    current += 1;
                }
                lat
            })
        })
        .collect();
    // Let every task create its episode before the clock starts.
    let before = loop {
        let s = store.stats();
        if s.commits >= n as u64 {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    barrier.wait().await;
    let t0 = Instant::now();
    let per_task: Vec<Vec<u64>> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("an edit task"))
        .collect();
    let wall = t0.elapsed();
    let stats = delta(store.stats(), before);
    phase.done();
    drop(store);
    let disk = disk_usage(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    split(per_task, n, wall, disk, stats)
}

/// Round trips between tasks and threads, the hops an engine transition makes on top of a store
/// commit: caller task → actor task (unbounded mpsc) and back (oneshot); and task → a plain
/// thread (std mpsc, as the group-commit writer) and back (oneshot). `samples` each.
pub async fn hops(samples: usize) -> (Samples, Samples) {
    use tokio::sync::{mpsc, oneshot};
    let (tx, mut rx) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
    let actor = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let _ = reply.send(());
        }
    });
    let mut task = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let (reply, answer) = oneshot::channel();
        tx.send(reply).expect("the actor is running");
        answer.await.expect("an answer");
        task.push(nanos(t.elapsed()));
    }
    drop(tx);
    let _ = actor.await;

    let (tx, rx) = std::sync::mpsc::channel::<oneshot::Sender<()>>();
    let writer = std::thread::spawn(move || {
        while let Ok(reply) = rx.recv() {
            let _ = reply.send(());
        }
    });
    let mut thread = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        let (reply, answer) = oneshot::channel();
        tx.send(reply).expect("the thread is running");
        answer.await.expect("an answer");
        thread.push(nanos(t.elapsed()));
    }
    drop(tx);
    let _ = writer.join();
    (Samples::new(task), Samples::new(thread))
}
