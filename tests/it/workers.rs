//! Workers on a real PostgreSQL (started by the test): an engine in this process holds the
//! episodes and queues their runs; worker processes (this test binary again, running the
//! ignored `worker_process` test, which is a real `Worker` over the same database) take them.
//!
//! - A worker paused with SIGSTOP past its lease: another worker redoes the run once, and the
//!   paused one's late result is refused when it resumes.
//! - Fairness: one episode of 60 GPU runs and ten of one each, on one GPU slot: the small ones
//!   finish while most of the big one still waits.
//! - A change of holder: a run on a worker goes on and its result is applied by the next holder
//!   (whether it came before or after the next holder took the episode), not done again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use showrunner::engine::{
    Engine, EngineConfig, EpisodeId, EpisodeSnapshot, EpisodeStatus, EventKind, Node, NodeCtx, NodeError, NodeSpec,
    Placement, Resource, Worker, WorkerConfig, WorkerEvent, WorkflowDef,
};
use showrunner::storage::{FsBlobStore, PgCluster, PgRunQueue, PgStore};
use tokio_util::sync::CancellationToken;

/// The worker process's settings, from the test that starts it.
const STORE: &str = "SHOWRUNNER_TEST_WORKER_STORE";
const BLOBS: &str = "SHOWRUNNER_TEST_WORKER_BLOBS";
const LEASE_MS: &str = "SHOWRUNNER_TEST_WORKER_LEASE_MS";
const GPU_SLOTS: &str = "SHOWRUNNER_TEST_WORKER_GPU";

#[derive(Deserialize)]
struct Settings {
    count: usize,
    sleep_ms: u64,
}

#[derive(Deserialize)]
struct BatchInput {
    episode: Settings,
}

#[derive(Serialize, Deserialize)]
struct Item {
    id: String,
}

/// Lists `count` items.
struct Batch;

#[async_trait]
impl Node for Batch {
    type Input = BatchInput;
    type Output = Vec<Item>;

    async fn run(&self, input: BatchInput, _ctx: &NodeCtx) -> Result<Vec<Item>, NodeError> {
        Ok((0..input.episode.count)
            .map(|n| Item { id: format!("i{n:02}") })
            .collect())
    }
}

#[derive(Deserialize)]
struct ShotInput {
    episode: Settings,
    item: Item,
}

/// Takes `sleep_ms` of the GPU per item.
struct Shot;

#[async_trait]
impl Node for Shot {
    type Input = ShotInput;
    type Output = Item;

    async fn run(&self, input: ShotInput, ctx: &NodeCtx) -> Result<Item, NodeError> {
        ctx.progress(0.5, "halfway");
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(input.episode.sleep_ms)) => Ok(input.item),
            () = ctx.cancellation().cancelled() => Err(NodeError::Cancelled),
        }
    }
}

#[derive(Deserialize)]
struct ReelInput {
    shot: std::collections::BTreeMap<String, Item>,
}

/// Counts the shots.
struct Reel;

#[async_trait]
impl Node for Reel {
    type Input = ReelInput;
    type Output = usize;

    async fn run(&self, input: ReelInput, _ctx: &NodeCtx) -> Result<usize, NodeError> {
        Ok(input.shot.len())
    }
}

/// `batch` lists the items; `shot` runs once per item on the GPU; `reel` reads every shot.
fn workflow() -> WorkflowDef {
    WorkflowDef::builder("batch")
        .node(NodeSpec::list("batch", Batch))
        .node(NodeSpec::map("shot", "batch", Shot).resource(Resource::Gpu))
        .node(NodeSpec::reduce("reel", "shot", Reel))
        .build()
        .expect("a valid workflow")
}

/// A worker: the process the tests below start, with its settings in the environment. Prints a
/// line per run: `started|ended|released EPISODE KEY ATTEMPT DELIVERY AT [accepted|refused]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the worker process that the other tests of this module start"]
async fn worker_process() {
    let url = std::env::var(STORE).expect("started by a test, with the store in the environment");
    let blobs = std::env::var(BLOBS).expect("the blob directory");
    let lease = std::env::var(LEASE_MS)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let gpu = std::env::var(GPU_SLOTS).ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let store = Arc::new(PgStore::open(&url).expect("the store"));
    let queue = Arc::new(PgRunQueue::new(store.clone()));
    let blobs = Arc::new(FsBlobStore::open(blobs).expect("the blobs"));
    let config = WorkerConfig {
        id: std::process::id().to_string(),
        tags: Vec::new(),
        slots: [(Resource::Cpu, 2), (Resource::Gpu, gpu)].into(),
        lease: Duration::from_millis(lease),
        per_episode: 4,
    };
    let log = |event: WorkerEvent| {
        let line = match event {
            WorkerEvent::Started { run, at } => {
                format!(
                    "started {} {} {} {} {at}",
                    run.episode, run.key, run.attempt, run.delivery
                )
            }
            WorkerEvent::Released { run, at } => {
                format!(
                    "released {} {} {} {} {at}",
                    run.episode, run.key, run.attempt, run.delivery
                )
            }
            WorkerEvent::Ended { run, at, accepted, .. } => format!(
                "ended {} {} {} {} {at} {}",
                run.episode,
                run.key,
                run.attempt,
                run.delivery,
                if accepted { "accepted" } else { "refused" }
            ),
        };
        println!("{line}");
    };
    Worker::new(queue, store, blobs, [Arc::new(workflow())], config)
        .log(Arc::new(log))
        .run(CancellationToken::new())
        .await;
}

/// One line of a worker's log.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    what: String,
    episode: String,
    key: String,
    attempt: u32,
    delivery: u32,
    at: u64,
    report: Option<String>,
}

/// A worker process.
struct WorkerProcess {
    child: Child,
    log: PathBuf,
}

impl WorkerProcess {
    fn start(url: &str, blobs: &Path, log: PathBuf, lease_ms: u64, gpu: usize) -> Self {
        let out = std::fs::File::create(&log).expect("the worker's log");
        let child = Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", "workers::worker_process", "--ignored", "--nocapture"])
            .env(STORE, url)
            .env(BLOBS, blobs)
            .env(LEASE_MS, lease_ms.to_string())
            .env(GPU_SLOTS, gpu.to_string())
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .expect("start a worker");
        Self { child, log }
    }

    fn lines(&self) -> Vec<Line> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                if !matches!(f.first(), Some(&("started" | "ended" | "released"))) || f.len() < 6 {
                    return None;
                }
                Some(Line {
                    what: f[0].to_owned(),
                    episode: f[1].to_owned(),
                    key: f[2].to_owned(),
                    attempt: f[3].parse().ok()?,
                    delivery: f[4].parse().ok()?,
                    at: f[5].parse().ok()?,
                    report: f.get(6).map(|s| (*s).to_owned()),
                })
            })
            .collect()
    }

    fn signal(&self, name: &str) {
        let sent = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success(), "kill {name}");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An engine holding episodes on the database at `url`, its runs queued for the workers.
async fn holder(url: &str, blobs: &Path) -> Engine {
    let store = Arc::new(PgStore::open_member(url, Duration::from_secs(5)).expect("the store"));
    let queue = Arc::new(PgRunQueue::new(store.clone()));
    let config = EngineConfig {
        runs: Placement::Queue(queue),
        ..EngineConfig::default()
    };
    let blobs = Arc::new(FsBlobStore::open(blobs).expect("the blobs"));
    Engine::open(store, blobs, [workflow()], config)
        .await
        .expect("the engine")
        .0
}

async fn wait_for(engine: &Engine, episode: EpisodeId, within: Duration, what: &str) -> EpisodeSnapshot {
    engine
        .wait_until(episode, within, |s| s.header.status == EpisodeStatus::Completed)
        .await
        .expect("the episode")
        .unwrap_or_else(|| panic!("{what} within {within:?}"))
}

async fn until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_workers_late_result_is_refused_and_its_run_is_redone_once() {
    let postgres = PgCluster::start().expect("a PostgreSQL server");
    let url = postgres.create_database("paused").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = dir.path().join("blobs");
    let engine = holder(&url, &blobs).await;
    let a = WorkerProcess::start(&url, &blobs, dir.path().join("a.log"), 1000, 1);
    // One item that takes 3 s of the GPU, three leases.
    let episode = engine
        .create_episode("batch", json!({"count": 1, "sleep_ms": 3000}), 1)
        .await
        .expect("create");
    until(Duration::from_secs(30), "worker a to start the shot", || {
        a.lines()
            .iter()
            .any(|l| l.what == "started" && l.key.starts_with("shot"))
    })
    .await;
    a.signal("-STOP");
    let b = WorkerProcess::start(&url, &blobs, dir.path().join("b.log"), 1000, 1);
    let done = wait_for(
        &engine,
        episode,
        Duration::from_secs(60),
        "the episode to complete on worker b",
    )
    .await;
    a.signal("-CONT");
    until(Duration::from_secs(30), "worker a to end its paused run", || {
        a.lines().iter().any(|l| l.what == "ended" && l.key.starts_with("shot"))
    })
    .await;
    let shot =
        |w: &WorkerProcess| -> Vec<Line> { w.lines().into_iter().filter(|l| l.key.starts_with("shot")).collect() };
    let (on_a, on_b) = (shot(&a), shot(&b));
    // a took it first, b took it again under the next delivery once a's lease lapsed.
    assert_eq!(
        on_a.iter().map(|l| (l.what.as_str(), l.delivery)).collect::<Vec<_>>(),
        [("started", 1), ("ended", 1)],
        "{on_a:?}"
    );
    assert_eq!(on_a[1].report.as_deref(), Some("refused"), "a's late result: {on_a:?}");
    assert_eq!(
        on_b.iter().map(|l| (l.what.as_str(), l.delivery)).collect::<Vec<_>>(),
        [("started", 2), ("ended", 2)],
        "{on_b:?}"
    );
    assert_eq!(on_b[1].report.as_deref(), Some("accepted"), "{on_b:?}");
    assert_eq!(
        on_a[0].attempt, on_b[0].attempt,
        "one attempt of the episode, delivered twice"
    );
    // What the run said of its progress on the worker reached the episode's events.
    let events = engine.events(episode, 1, 10_000).expect("events");
    assert!(
        events.iter().any(|e| matches!(&e.kind,
            EventKind::NodeProgress { key, message, .. } if key.node == "shot" && message == "halfway")),
        "no progress of the shot in {:?}",
        events.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
    // The run was applied once: one version of the shot.
    let shot = done.instances.iter().find(|i| i.key.node == "shot").expect("the shot");
    assert_eq!(shot.versions.len(), 1, "{shot:?}");
    // Nothing is left in the queue once the result is acknowledged.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let depth = engine.queue_depth().await.expect("a queue").expect("its depth");
        if depth
            .by_resource
            .iter()
            .all(|(_, ready, taken, reported)| ready + taken + reported == 0)
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "left in the queue: {depth:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_big_episode_does_not_starve_ten_small_ones_on_one_gpu() {
    let postgres = PgCluster::start().expect("a PostgreSQL server");
    let url = postgres.create_database("fair").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = dir.path().join("blobs");
    let engine = holder(&url, &blobs).await;
    let big = engine
        .create_episode("batch", json!({"count": 60, "sleep_ms": 100}), 1)
        .await
        .expect("create the big one");
    // The big episode's 60 runs are queued before the small ones exist.
    let worker = WorkerProcess::start(&url, &blobs, dir.path().join("w.log"), 2000, 1);
    until(Duration::from_secs(30), "the big episode's first shot", || {
        worker
            .lines()
            .iter()
            .any(|l| l.what == "started" && l.key.starts_with("shot"))
    })
    .await;
    let mut small = Vec::new();
    for n in 0..10 {
        small.push(
            engine
                .create_episode("batch", json!({"count": 1, "sleep_ms": 100}), n)
                .await
                .expect("create a small one"),
        );
    }
    for episode in small {
        wait_for(&engine, episode, Duration::from_secs(60), "a small episode").await;
    }
    let big_shots_done = worker
        .lines()
        .iter()
        .filter(|l| l.what == "ended" && l.episode == big.to_string() && l.key.starts_with("shot"))
        .count();
    assert!(
        big_shots_done <= 30,
        "the small episodes waited for {big_shots_done} of the big one's 60 shots"
    );
    // Never more than one GPU run at once on the one slot.
    let lines = worker.lines();
    let mut running = 0i32;
    for line in &lines {
        match line.what.as_str() {
            "started" if line.key.starts_with("shot") => running += 1,
            "ended" | "released" if line.key.starts_with("shot") => running -= 1,
            _ => {}
        }
        assert!(running <= 1, "two GPU runs at once: {lines:?}");
    }
    wait_for(&engine, big, Duration::from_secs(60), "the big episode").await;
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_reported_while_no_process_holds_its_episode_is_applied_by_the_next_holder_not_redone() {
    let postgres = PgCluster::start().expect("a PostgreSQL server");
    let url = postgres.create_database("handover").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = dir.path().join("blobs");
    let first = holder(&url, &blobs).await;
    let worker = WorkerProcess::start(&url, &blobs, dir.path().join("w.log"), 1000, 1);
    let episode = first
        .create_episode("batch", json!({"count": 1, "sleep_ms": 1500}), 1)
        .await
        .expect("create");
    let shots = |w: &WorkerProcess, what: &str| {
        w.lines()
            .into_iter()
            .filter(|l| l.what == what && l.key.starts_with("shot"))
            .collect::<Vec<_>>()
    };
    until(Duration::from_secs(30), "the worker to start the shot", || {
        !shots(&worker, "started").is_empty()
    })
    .await;
    // The holder stops while the shot runs: the worker reports to nobody.
    first.shutdown().await;
    drop(first);
    until(Duration::from_secs(30), "the worker to report the shot", || {
        !shots(&worker, "ended").is_empty()
    })
    .await;
    assert_eq!(shots(&worker, "ended")[0].report.as_deref(), Some("accepted"));
    let next = holder(&url, &blobs).await;
    let done = wait_for(
        &next,
        episode,
        Duration::from_secs(30),
        "the next holder to finish the episode",
    )
    .await;
    let shot = done.instances.iter().find(|i| i.key.node == "shot").expect("the shot");
    assert_eq!((shot.versions.len(), shot.attempts), (1, 1), "{shot:?}");
    assert_eq!(shots(&worker, "started").len(), 1, "the shot was done again");
    // What the applied result started is not counted as interrupted by the load's recovery.
    let reel = done.instances.iter().find(|i| i.key.node == "reel").expect("the reel");
    assert_eq!((reel.versions.len(), reel.attempts), (1, 1), "{reel:?}");
    next.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_a_worker_goes_on_when_its_episode_changes_holder_and_is_not_done_again() {
    let postgres = PgCluster::start().expect("a PostgreSQL server");
    let url = postgres.create_database("adopted").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs = dir.path().join("blobs");
    let first = holder(&url, &blobs).await;
    let worker = WorkerProcess::start(&url, &blobs, dir.path().join("w.log"), 1000, 1);
    // A shot of 3 s: three of the worker's leases.
    let episode = first
        .create_episode("batch", json!({"count": 1, "sleep_ms": 3000}), 1)
        .await
        .expect("create");
    let shots = |what: &str| {
        worker
            .lines()
            .into_iter()
            .filter(|l| l.what == what && l.key.starts_with("shot"))
            .collect::<Vec<_>>()
    };
    until(Duration::from_secs(30), "the worker to start the shot", || {
        !shots("started").is_empty()
    })
    .await;
    // The holder stops while the shot runs and the next one takes the episode at once: the shot
    // goes on on its worker, and the next holder applies its result.
    first.shutdown().await;
    drop(first);
    let next = holder(&url, &blobs).await;
    assert!(shots("ended").is_empty(), "the shot ended before the handover");
    let done = wait_for(
        &next,
        episode,
        Duration::from_secs(60),
        "the next holder to finish the episode",
    )
    .await;
    let ended = shots("ended");
    assert_eq!(shots("started").len(), 1, "the shot was done again: {ended:?}");
    assert_eq!(ended[0].report.as_deref(), Some("accepted"), "{ended:?}");
    let shot = done.instances.iter().find(|i| i.key.node == "shot").expect("the shot");
    assert_eq!((shot.versions.len(), shot.attempts), (1, 1), "{shot:?}");
    let events = next.events(episode, 1, 10_000).expect("events");
    assert!(
        !events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::NodeInterrupted { key, .. } if key.node == "shot")),
        "the shot was counted as interrupted"
    );
    next.shutdown().await;
}
