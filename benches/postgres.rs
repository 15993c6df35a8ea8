//! Durable transitions on the PostgreSQL store beside the sled store, in the same run on the
//! same machine: `n` episodes wait at a human gate and `n` tasks edit their episode's node over
//! and over through `Engine::edit` (each edit one durable transition: events, the instance
//! snapshot, the new version and its value in one commit). PostgreSQL runs on this machine,
//! started by the bench (Debian's `postgresql`, `fsync` and `synchronous_commit` on), with 1, 2
//! and 4 engines on it, each a member of its own (its own store: connection pool, group-commit
//! writers, lease), driving its share of the episodes; the engines run in this one process.
//!
//! Then failover: two `showrunner serve --store … --lease 1` share the database, the episode
//! held by the first; the first is SIGKILLed, and the time is taken until the second answers
//! for the episode (`GET episodes/{id}`: 503 while it passes requests to the dead holder, 200
//! once the lease lapsed and it claimed the episode). Ten rounds, a fresh second server each.
//!
//! Then a ready run to a waiting worker: a worker (its own store and listener, as in a process
//! of its own) waits on the queue as `showrunner worker` does (notified by `LISTEN/NOTIFY`,
//! polling once a second otherwise); a run is pushed, and the time is taken until the worker
//! has taken it. Beside it, the same push and take back to back, with no waiting: the floor of
//! the two round trips.
//!
//! ```text
//! cargo bench --bench postgres
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::future::join_all;
use serde_json::{Value, json};
use showrunner::engine::queue::{QueuedRun, RunQueue, Takeable};
use showrunner::engine::{
    Engine, EngineConfig, EpisodeId, Gate, InstanceKey, Node, NodeCtx, NodeError, NodeSpec, NodeState, Resource,
    RunSpec, Store, WorkflowDef,
};
use showrunner::storage::{FsBlobStore, PgCluster, PgRunQueue, PgStore, SledStore};

/// The one node, behind a human gate.
struct Const;

#[async_trait]
impl Node for Const {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, _: &NodeCtx) -> Result<Value, NodeError> {
        Ok(json!({ "v": 0 }))
    }
}

fn gate_workflow() -> WorkflowDef {
    WorkflowDef::builder("bench-gate")
        .node(NodeSpec::single("a", Const).gate(Gate::Human))
        .build()
        .expect("the gate workflow is valid")
}

/// What one level measured.
struct Measured {
    p50: Duration,
    p99: Duration,
    per_second: f64,
}

/// `n` episodes at their gate on `store`, then `per` edits by each of `n` tasks.
async fn measure(store: Arc<dyn Store>, blobs: &Path, n: usize, per: usize) -> Measured {
    let blobs = Arc::new(FsBlobStore::open(blobs).expect("the blob store"));
    let (engine, _) = Engine::open(store, blobs, vec![gate_workflow()], EngineConfig::default())
        .await
        .expect("the engine");
    let key = InstanceKey::single("a");
    let ids: Vec<EpisodeId> =
        join_all((0..n).map(|i| engine.create_episode("bench-gate", json!({ "i": i }), i as u64)))
            .await
            .into_iter()
            .map(|r| r.expect("an episode"))
            .collect();
    let mut start = Vec::new();
    for id in ids {
        let at_gate = engine
            .wait_until(id, Duration::from_secs(120), |s| {
                s.instances
                    .iter()
                    .any(|r| matches!(r.state, NodeState::AwaitingApproval {}))
            })
            .await
            .expect("waiting")
            .expect("at the gate in time");
        let current = at_gate.instances.iter().find_map(|r| r.current).expect("a version");
        start.push((id, current));
    }
    let t0 = Instant::now();
    let tasks: Vec<_> = start
        .into_iter()
        .map(|(id, mut current)| {
            let (engine, key) = (engine.clone(), key.clone());
            tokio::spawn(async move {
                let mut took = Vec::with_capacity(per);
                for k in 0..per {
                    let t = Instant::now();
                    engine
                        .edit(id, key.clone(), json!({ "v": k + 1 }), Some(current))
                        .await
                        .expect("a durable edit");
                    took.push(t.elapsed());
                    current += 1;
                }
                took
            })
        })
        .collect();
    let mut all: Vec<Duration> = join_all(tasks)
        .await
        .into_iter()
        .flat_map(|r| r.expect("a task"))
        .collect();
    let wall = t0.elapsed();
    engine.shutdown().await;
    all.sort();
    let at = |q: f64| all[((all.len() - 1) as f64 * q) as usize];
    Measured {
        p50: at(0.5),
        p99: at(0.99),
        per_second: all.len() as f64 / wall.as_secs_f64(),
    }
}

/// A `showrunner serve` child and the address it printed.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Starts `serve` on `url` with a lease of `LEASE_S`; returns at once, with the address
    /// read on a thread.
    fn spawn(data: &Path, url: &str) -> (Child, std::sync::mpsc::Receiver<String>) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_showrunner"));
        command
            .args(["--store", url, "--lease", LEASE_S, "--data"])
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"]);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            if reader.read_line(&mut line).is_ok() {
                let _ = tx.send(line.trim().trim_start_matches("listening on http://").to_owned());
            }
            // Keep reading, so the server never writes into a closed pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        (child, rx)
    }
}

/// One HTTP/1.0 request; the status code and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The servers' lease in the failover rounds, in seconds.
const LEASE_S: &str = "1";

/// Failover times over `rounds` SIGKILLs of the serving process.
fn failover(cluster: &PgCluster, rounds: usize) -> Vec<Duration> {
    let url = cluster.create_database("failover").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (child, addr) = Server::spawn(&data, &url);
    let addr = addr.recv_timeout(Duration::from_secs(60)).expect("the server listens");
    let mut active = Server { child, addr };
    let body = r#"{"workflow": "idea2video", "idea": "a kite over the harbour", "settings": {"width": 64, "height": 36, "fps": 4, "target_duration_s": 2.0}}"#;
    let (status, made) = http(&active.addr, "POST", "/api/v1/episodes", body);
    assert_eq!(status, 201, "{made}");
    let id: Value = serde_json::from_str(&made).expect("JSON");
    let path = format!("/api/v1/episodes/{}", id["data"]["id"].as_str().expect("an id"));
    let mut took = Vec::new();
    for _ in 0..rounds {
        let (child, second) = Server::spawn(&data, &url);
        let addr = second
            .recv_timeout(Duration::from_secs(60))
            .expect("the second server listens");
        // The holder answers through the second one (passed on) before it dies.
        assert_eq!(http(&addr, "GET", &path, "").0, 200);
        let killed = Instant::now();
        let _ = active.child.kill();
        let _ = active.child.wait();
        while http(&addr, "GET", &path, "").0 != 200 {
            std::thread::sleep(Duration::from_millis(5));
        }
        took.push(killed.elapsed());
        active = Server { child, addr };
    }
    let _ = active.child.kill();
    let _ = active.child.wait();
    took
}

/// A run for the pick-up bench.
fn queued(n: usize) -> QueuedRun {
    QueuedRun {
        episode: EpisodeId::generate(),
        workflow: "w".into(),
        definition_version: "v".into(),
        resource: Resource::Cpu,
        tags: Vec::new(),
        run: RunSpec {
            key: InstanceKey::single(format!("n{n}")),
            attempt: 1,
            seeds: vec![1],
            feedback: None,
            inputs: Vec::new(),
            object_fields: Vec::new(),
        },
    }
}

/// Ready run to a waiting worker's take, and push + take back to back, `rounds` times each.
async fn pickup(url: &str, rounds: usize) -> (Vec<Duration>, Vec<Duration>) {
    let pusher = PgRunQueue::new(Arc::new(PgStore::open(url).expect("PostgreSQL")));
    let worker = Arc::new(PgRunQueue::new(Arc::new(PgStore::open(url).expect("PostgreSQL"))));
    let can = Takeable {
        resources: vec![Resource::Cpu],
        tags: Vec::new(),
        definitions: vec![("w".into(), "v".into())],
    };
    let lease = Duration::from_secs(30);
    // The listener connects in the background: the first rounds wait for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (took_tx, mut took) = tokio::sync::mpsc::unbounded_channel();
    let waiting = {
        let (worker, can) = (worker.clone(), can.clone());
        tokio::spawn(async move {
            loop {
                match worker.take("bench", &can, lease, 1_000).await.expect("take") {
                    Some(run) => {
                        if took_tx.send((Instant::now(), run)).is_err() {
                            return;
                        }
                    }
                    None => worker.wait_for_runs(Duration::from_secs(1)).await,
                }
            }
        })
    };
    let mut notified = Vec::new();
    for n in 0..rounds {
        let pushed = Instant::now();
        pusher.push(&queued(n)).await.expect("push");
        let (at, run) = took.recv().await.expect("taken");
        notified.push(at - pushed);
        worker
            .withdraw(run.queued.episode, &run.queued.run.key, 1)
            .await
            .expect("clear");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    waiting.abort();
    let mut direct = Vec::new();
    for n in 0..rounds {
        let pushed = Instant::now();
        pusher.push(&queued(n)).await.expect("push");
        let run = worker
            .take("bench", &can, lease, 1_000)
            .await
            .expect("take")
            .expect("a run");
        direct.push(pushed.elapsed());
        worker
            .withdraw(run.queued.episode, &run.queued.run.key, 1)
            .await
            .expect("clear");
    }
    (notified, direct)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let cluster = PgCluster::start().expect("a PostgreSQL server (Debian's postgresql)");
    let levels: Vec<usize> = std::env::var("SHOWRUNNER_BENCH_LEVELS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 16, 256]);
    let rounds: usize = std::env::var("SHOWRUNNER_BENCH_FAILOVERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10);
    if rounds > 0 {
        let mut took = failover(&cluster, rounds);
        took.sort();
        println!(
            "failover over {rounds} SIGKILLs: p50 {:.0} ms, max {:.0} ms",
            took[took.len() / 2].as_secs_f64() * 1e3,
            took[took.len() - 1].as_secs_f64() * 1e3
        );
    }
    let pickups: usize = std::env::var("SHOWRUNNER_BENCH_PICKUPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    if pickups > 0 {
        let url = cluster.create_database("bench_pickup").expect("a database");
        let (mut notified, mut direct) = runtime.block_on(pickup(&url, pickups));
        notified.sort();
        direct.sort();
        let ms = |d: &[Duration], q: f64| d[((d.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        println!(
            "ready run to a waiting worker over {pickups} runs: p50 {:.2} ms, p99 {:.2} ms; push + take back to back: p50 {:.2} ms ({:.2} ×)",
            ms(&notified, 0.5),
            ms(&notified, 0.99),
            ms(&direct, 0.5),
            ms(&notified, 0.5) / ms(&direct, 0.5)
        );
    }
    println!("| store | engines | episodes | p50 | p99 | durable transitions/s | ÷ sled |");
    println!("|---|---|---|---|---|---|---|");
    for n in levels {
        let per = (4_000 / n).clamp(20, 1_000);
        let dir = tempfile::tempdir().expect("tempdir");
        let sled: Arc<dyn Store> = Arc::new(SledStore::open(dir.path().join("store")).expect("sled"));
        let on_sled = runtime.block_on(measure(sled, &dir.path().join("blobs-sled"), n, per));
        println!(
            "| sled | 1 | {n} | {:.2} ms | {:.2} ms | {:.0} | |",
            on_sled.p50.as_secs_f64() * 1e3,
            on_sled.p99.as_secs_f64() * 1e3,
            on_sled.per_second
        );
        for engines in [1, 2, 4].into_iter().filter(|&e| e <= n) {
            let url = cluster
                .create_database(&format!("bench_{n}_{engines}"))
                .expect("a database");
            let shares: Vec<_> = (0..engines)
                .map(|e| {
                    let pg: Arc<dyn Store> =
                        Arc::new(PgStore::open_member(&url, Duration::from_secs(10)).expect("PostgreSQL"));
                    let blobs = dir.path().join(format!("blobs-pg-{e}"));
                    let share = n / engines + usize::from(e < n % engines);
                    (pg, blobs, share)
                })
                .collect();
            let on_pg = runtime.block_on(join_all(
                shares
                    .into_iter()
                    .map(|(pg, blobs, share)| async move { measure(pg, &blobs, share, per).await }),
            ));
            let per_second: f64 = on_pg.iter().map(|m| m.per_second).sum();
            let worst = |f: fn(&Measured) -> Duration| on_pg.iter().map(f).max().unwrap_or_default();
            println!(
                "| PostgreSQL | {engines} | {n} | {:.2} ms | {:.2} ms | {per_second:.0} | {:.2} × |",
                worst(|m| m.p50).as_secs_f64() * 1e3,
                worst(|m| m.p99).as_secs_f64() * 1e3,
                per_second / on_sled.per_second
            );
        }
    }
}
