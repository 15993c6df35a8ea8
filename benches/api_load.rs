//! The HTTP facade under load, against the real server on a real socket: `GET
//! /api/v1/episodes/{id}` throughput from keep-alive clients, and the delivery of one episode's
//! events over SSE to 1,000 subscribers. One plain `main` (`harness = false`) that prints a table
//! with PASS or MISS against the targets: ≥ 20,000 GETs per second, and SSE p99 ≤ 50 ms, on 2 cores.
//!
//! The server is [`showrunner_api::Api::serve`] on `127.0.0.1:0` over an engine on a fresh
//! tempdir with the stock workflows on the procedural backends; it has its own runtime, and the
//! clients theirs, so they share the machine's cores as two processes would. The clients are a
//! few lines of keep-alive HTTP/1.1 over `TcpStream` (and a chunked-SSE reader), the cheapest
//! client there is, so that the cores go to the server.
//!
//! - **GET**: 16 idea2video episodes, 12 at their `outline` gate, 2 at `characters`, 2 at
//!   `scenes`; C keep-alive connections each send GETs in turn over the 16 for a warm-up and
//!   then a measured window. Every answer must be a `200` with a `{"data":…}` body.
//! - **SSE**: one more episode at its `outline` gate; N connections to `…/events?from=next_seq`,
//!   then rounds of `POST …/nodes/outline/regenerate` (feedback) and a last `approve`, each round
//!   waiting for the next gate to open and for every subscriber to have every event. The delay
//!   of each (subscriber, event) pair runs from the moment the event was published: an
//!   in-process subscription to the same episode, polled on a thread of its own, stamps each
//!   event as the broadcast wakes it, and each HTTP subscriber stamps the event once it has
//!   parsed it. Two cross-checks: from the event's `at` (wall clock, whole milliseconds, taken
//!   before the commit, so it includes the fsync), and, for the events published before the
//!   action's `POST` returned, from that return.
//!
//! ```text
//! cargo bench --bench api_load                               # the full run
//! SHOWRUNNER_BENCH_QUICK=1 cargo bench --bench api_load      # shorter windows, fewer rounds
//! SHOWRUNNER_BENCH_ONLY=get (or sse) cargo bench ...         # one scenario
//! SHOWRUNNER_BENCH_CONNS=64        # GET connections (default 64)
//! SHOWRUNNER_BENCH_SECS=5          # GET measured window in seconds (default 5, quick 2)
//! SHOWRUNNER_BENCH_SUBSCRIBERS=1000  SHOWRUNNER_BENCH_ROUNDS=8
//! SHOWRUNNER_BENCH_SERVER_THREADS=2  SHOWRUNNER_BENCH_CLIENT_THREADS=1   # runtime workers
//! ```
//!
//! The SSE run holds two descriptors per subscriber (both ends live in this process): check
//! `ulimit -n` (the run stops early with a hint when it is too low; `ulimit -n 4096` is plenty).

/// The allocator the `showrunner` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use serde_json::json;
use showrunner::engine::{Engine, EngineConfig, EpisodeId, EpisodeStatus, NodeState};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

#[path = "api_load/client.rs"]
mod client;
#[path = "api_load/get.rs"]
mod get;
#[path = "api_load/sse.rs"]
mod sse;
#[path = "api_load/stats.rs"]
mod stats;

use get::get_load;
use sse::{Seen, sse_load};
use stats::{count, knob, load_average, ms, open_files_limit, quick, selected, verdict};

/// GET requests per second, at least.
const GET_TARGET: f64 = 20_000.0;
/// SSE delivery p99, at most.
const SSE_TARGET: Duration = Duration::from_millis(50);
/// How long an episode may take to reach a gate while setting up, or a round to finish.
const PATIENCE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Setup: the engine, the server and the episodes

const IDEAS: [&str; 4] = [
    "a lighthouse keeper vanishes the night a storm cuts the island off",
    "two rival bakers must share one oven for the village fair",
    "a retired astronaut teaches her grandson to read the stars",
    "a lost dog crosses a city to find the boy who fed it",
];

/// Waits until `node`'s single instance awaits approval; returns its current version.
async fn at_gate(engine: &Engine, id: EpisodeId, node: &str) -> u32 {
    let snapshot = engine
        .wait_until(id, PATIENCE, |s| {
            s.header.status != EpisodeStatus::Active
                || s.instances
                    .iter()
                    .any(|r| r.key.node == node && r.state == NodeState::AwaitingApproval {})
        })
        .await
        .expect("the episode")
        .unwrap_or_else(|| panic!("`{node}` at its gate within {PATIENCE:?}"));
    assert_eq!(
        snapshot.header.status,
        EpisodeStatus::Active,
        "episode {id} ended early"
    );
    let record = snapshot
        .instances
        .iter()
        .find(|r| r.key.node == node && r.key.item.is_none())
        .expect("the instance");
    record.current.unwrap_or(0)
}

/// Drives a new idea2video episode to `outline`'s gate, then approves `approvals` gates in
/// order (`outline`, `characters`), leaving it at the next one.
async fn episode(engine: &Engine, n: usize, approvals: usize) -> EpisodeId {
    // The default settings: a 30 s 640×360 episode.
    let brief = json!({"idea": IDEAS[n % IDEAS.len()]});
    let id = engine
        .create_episode(workflows::IDEA2VIDEO, brief, n as u64)
        .await
        .expect("create");
    let gates = ["outline", "characters", "scenes"];
    for gate in &gates[..approvals] {
        let version = at_gate(engine, id, gate).await;
        let key = showrunner::engine::InstanceKey::single(*gate);
        engine.approve(id, key, version).await.expect("approve");
    }
    at_gate(engine, id, gates[approvals]).await;
    id
}

// ---------------------------------------------------------------------------------------------

fn runtime(name: &str, threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let server_threads = knob("SHOWRUNNER_BENCH_SERVER_THREADS", cores.max(1), cores.max(1));
    let client_threads = knob("SHOWRUNNER_BENCH_CLIENT_THREADS", 1, 1);
    let conns = knob("SHOWRUNNER_BENCH_CONNS", 64, 64);
    let window = Duration::from_secs(knob("SHOWRUNNER_BENCH_SECS", 5, 2) as u64);
    let warm = if quick() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(1)
    };
    let subscribers = knob("SHOWRUNNER_BENCH_SUBSCRIBERS", 1000, 1000);
    let rounds = knob("SHOWRUNNER_BENCH_ROUNDS", 8, 3).max(1);
    let fd_limit = open_files_limit();
    println!(
        "api load: {cores} cores, load average {}, open files limit {}, server runtime {server_threads} \
         worker(s), client runtime {client_threads}",
        load_average(),
        fd_limit.map_or_else(|| "unknown".into(), |l| l.to_string()),
    );

    let server_rt = runtime("server", server_threads);
    let client_rt = runtime("client", client_threads);
    let dir = tempfile::tempdir().expect("a tempdir");
    let setup = Instant::now();
    let (engine, addr, stop, task) = server_rt.block_on(async {
        let defs = workflows::all(&Backends::procedural()).expect("the stock workflows");
        let (engine, _) = showrunner::open(dir.path(), defs, EngineConfig::default())
            .await
            .expect("open");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(
            showrunner_api::Api::new(engine.clone(), Backends::procedural().embedder).serve(listener, async {
                let _ = stopped.await;
            }),
        );
        (engine, addr, stop, task)
    });
    // 12 at outline, 2 at characters, 2 at scenes; the 17th, at outline, for SSE.
    let ids: Vec<EpisodeId> = server_rt.block_on(async {
        let made = (0..17).map(|n| {
            let engine = engine.clone();
            let approvals = match n {
                12 | 13 => 1,
                14 | 15 => 2,
                _ => 0,
            };
            tokio::spawn(async move { episode(&engine, n, approvals).await })
        });
        let mut ids = Vec::new();
        for task in made.collect::<Vec<_>>() {
            ids.push(task.await.expect("an episode"));
        }
        ids
    });
    println!(
        "setup: 17 idea2video episodes at their gates in {:.1} s",
        setup.elapsed().as_secs_f64()
    );
    let mut misses = 0;

    if selected("get") {
        let r = client_rt.block_on(get_load(addr, &ids[..16], conns, warm, window, cores));
        let rps = r.requests as f64 / r.window.as_secs_f64();
        let pass = rps >= GET_TARGET && r.errors == 0 && r.requests > 0;
        misses += usize::from(!pass);
        println!();
        println!("GET /api/v1/episodes/{{id}}: {conns} keep-alive connections over 16 episodes");
        println!(
            "  window            {:.2} s after {:.1} s warm-up",
            r.window.as_secs_f64(),
            warm.as_secs_f64()
        );
        println!("  requests          {} ({} errors)", count(r.requests as f64), r.errors);
        println!(
            "  throughput        {} req/s (target ≥ {}): {}",
            count(rps),
            count(GET_TARGET),
            verdict(pass)
        );
        println!("  latency           p50 / p99 / max  {}", r.latencies.summary());
        println!(
            "  body              {} / {} / {} bytes (min / mean / max)",
            count(r.body_min as f64),
            count(r.body_mean),
            count(r.body_max as f64)
        );
        println!("  cpu               {}", r.cpu);
        if let Some(e) = r.first_error {
            println!("  first error       {e}");
        }
    }

    let stop = if selected("sse") {
        let needed = 2 * subscribers as u64 + 256;
        if fd_limit.is_some_and(|l| l < needed) {
            println!();
            println!(
                "SSE: skipped, {subscribers} subscribers need about {needed} open files: run `ulimit -n 4096` first"
            );
            misses += 1;
            Some(stop)
        } else {
            let id = ids[16];
            let snapshot = server_rt.block_on(engine.snapshot(id)).expect("the SSE episode");
            let from = snapshot.header.next_seq;
            let version = snapshot
                .instances
                .iter()
                .find(|r| r.key.node == "outline")
                .and_then(|r| r.current)
                .expect("an outline version");
            let mut events = server_rt.block_on(engine.subscribe(id, from)).expect("a subscription");
            let (tx, rx) = mpsc::unbounded_channel();
            // Its own thread and runtime, so that the stamp is when the broadcast woke it, not
            // when a busy runtime got round to it.
            std::thread::Builder::new()
                .name("observer".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    rt.block_on(async move {
                        while let Some(Ok(event)) = events.next().await {
                            let seen = Seen {
                                seq: event.seq,
                                at: Instant::now(),
                                at_ms: event.at,
                                kind: event.kind,
                            };
                            if tx.send(seen).is_err() {
                                break;
                            }
                        }
                    });
                })
                .expect("the observer thread");
            let r = client_rt.block_on(sse_load(addr, id, from, version, rx, subscribers, rounds, stop, cores));
            let p99 = r.from_publish.pct(99.0);
            let pass = r.errors.is_empty() && r.delivered == r.expected && r.expected > 0 && p99 <= SSE_TARGET;
            misses += usize::from(!pass);
            println!();
            println!(
                "SSE GET /api/v1/episodes/{{id}}/events: {} subscribers on one episode",
                r.subscribers
            );
            println!("  connected         in {}", ms(r.connect));
            for (i, round) in r.rounds.iter().enumerate() {
                println!(
                    "  round {:<2}          POST {:<10} answered in {}, {} events",
                    i + 1,
                    round.action,
                    ms(round.post),
                    round.events
                );
            }
            println!(
                "  delivered         {} of {} (subscriber, event) pairs, {} events, {} out of order",
                count(r.delivered as f64),
                count(r.expected as f64),
                r.events,
                r.out_of_order
            );
            println!(
                "  from publish      p50 / p99 / max  {} (target p99 ≤ {}): {}",
                r.from_publish.summary(),
                ms(SSE_TARGET),
                verdict(pass)
            );
            println!(
                "  from event `at`   p50 / p99 / max  {} (ms clock, includes the commit)",
                r.from_at.summary()
            );
            println!(
                "  from POST return  p50 / p99 / max  {} ({} pairs published before the POST returned)",
                r.from_return.summary(),
                count(r.from_return.len() as f64)
            );
            println!(
                "  fan-out spread    p50 / p99 / max  {} (first to last subscriber, per event)",
                r.spread.summary()
            );
            println!("  cpu               {}", r.cpu);
            if r.early > 0 {
                println!(
                    "  note              {} pairs parsed before the observer's stamp",
                    r.early
                );
            }
            for e in &r.errors {
                println!("  error             {e}");
            }
            None
        }
    } else {
        Some(stop)
    };

    if let Some(stop) = stop {
        let _ = stop.send(());
    }
    server_rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(15), task).await;
        engine.shutdown().await;
    });
    println!();
    println!(
        "{}",
        if misses == 0 {
            "all targets met"
        } else {
            "some targets missed"
        }
    );
}
