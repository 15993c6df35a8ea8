//! Scenario 4: a list of `n` items feeding a map node: how long until every map instance exists
//! and is queued, and until every one has run and been approved. Watched through the event
//! stream (events are published only after the commit that holds them is durable).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use showrunner::engine::{EngineConfig, EventKind, Resource, now_ms};
use showrunner::storage::CommitStats;

use crate::common::{FANOUT_LIST, FANOUT_MAP, FANOUT_WORKFLOW, Phase, fanout_workflow, fresh_dir, open_engine};

/// What one fan-out measured; every time is from just before `create_episode`.
pub struct FanOut {
    /// Items.
    pub n: usize,
    /// The CPU slots the engine was given.
    pub cpu_limit: usize,
    /// `create_episode` returned.
    pub created: Duration,
    /// The list node's output was approved.
    pub list_approved: Option<Duration>,
    /// The `ItemsChanged` event adding the map instances arrived.
    pub items_changed: Option<Duration>,
    /// The `n`-th map `NodeReady` arrived at the subscriber.
    pub all_ready: Option<Duration>,
    /// By the engine's clock (events' `at`, ms): the batch that made the map instances began.
    pub fanout_batch_at: Option<Duration>,
    /// By the engine's clock: the first map instance started. Starts are applied only after the
    /// commit that queued the instances is durable, so by then the fan-out was scheduled.
    pub first_started_at: Option<Duration>,
    /// The first map instance was approved.
    pub first_approved: Option<Duration>,
    /// The `n`-th map instance was approved: the fan-out has run.
    pub all_approved: Option<Duration>,
    /// `EpisodeCompleted` arrived.
    pub completed: Option<Duration>,
    /// Map instances approved before the time limit.
    pub approved: usize,
    /// Events seen.
    pub events: u64,
    /// Commits and flushes from creation to the end.
    pub stats: CommitStats,
}

/// Runs one fan-out of `n` items with `cpu_limit` CPU slots (the default config's when `None`).
pub async fn run(base: &Path, n: usize, cpu_limit: Option<usize>, limit: Duration) -> FanOut {
    let dir = fresh_dir(base, &format!("fanout-{n}"));
    let mut config = EngineConfig::default();
    if let Some(l) = cpu_limit {
        config.limits.insert(Resource::Cpu, l);
    }
    let cpu_limit = config.limits.get(&Resource::Cpu).copied().unwrap_or(1);
    let (engine, store) = open_engine(&dir, vec![fanout_workflow(n)], config).await;
    let before = store.stats();
    let phase = Phase::start(format!("fan-out: {n} items, {cpu_limit} CPU slots"));
    let t0 = Instant::now();
    let t0_ms = now_ms();
    let id = engine
        .create_episode(FANOUT_WORKFLOW, json!({ "idea": "fan-out" }), 7)
        .await
        .expect("creating the episode");
    let created = t0.elapsed();
    let mut stream = engine.subscribe(id, 1).await.expect("subscribing");
    let mut out = FanOut {
        n,
        cpu_limit,
        created,
        list_approved: None,
        items_changed: None,
        all_ready: None,
        fanout_batch_at: None,
        first_started_at: None,
        first_approved: None,
        all_approved: None,
        completed: None,
        approved: 0,
        events: 0,
        stats: CommitStats::default(),
    };
    let mut ready = 0usize;
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                eprintln!("  fan-out: time limit of {limit:?} reached");
                break;
            }
            Ok(None) => break,
            Ok(Some(event)) => event.expect("reading events"),
        };
        out.events += 1;
        let at = t0.elapsed();
        let engine_clock = Duration::from_millis(event.at.saturating_sub(t0_ms));
        match &event.kind {
            EventKind::NodeStarted { key, .. } if key.node == FANOUT_MAP && out.first_started_at.is_none() => {
                out.first_started_at = Some(engine_clock);
            }
            EventKind::Approved { key, .. } if key.node == FANOUT_LIST => out.list_approved = Some(at),
            EventKind::ItemsChanged { node, added, .. } if node == FANOUT_MAP && added.len() == n => {
                out.items_changed = Some(at);
                out.fanout_batch_at = Some(engine_clock);
            }
            EventKind::NodeReady { key } if key.node == FANOUT_MAP => {
                ready += 1;
                if ready == n {
                    out.all_ready = Some(at);
                }
            }
            EventKind::Approved { key, .. } if key.node == FANOUT_MAP => {
                out.approved += 1;
                if out.approved == 1 {
                    out.first_approved = Some(at);
                }
                if out.approved == n {
                    out.all_approved = Some(at);
                }
            }
            EventKind::EpisodeCompleted => {
                out.completed = Some(at);
                break;
            }
            _ => {}
        }
    }
    phase.done();
    let after = store.stats();
    out.stats = CommitStats {
        commits: after.commits - before.commits,
        flushes: after.flushes - before.flushes,
    };
    engine.shutdown().await;
    drop(engine);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
    out
}
