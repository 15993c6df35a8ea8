//! Issue 11, item 11: a black-box crash torture of the HTTP server. The real `showrunner serve`
//! binary; concurrent clients drive idea2video episodes (small settings) through their gates
//! over HTTP, approving or regenerating the version they see, each action with its own
//! `Idempotency-Key`, an action left without an answer retried with the same key; a killer
//! SIGKILLs the server at random moments (requests in flight included) and starts it again.
//!
//! After every restart (for the episodes already completed, after every 20th): every episode
//! loads, each acknowledged action still holds (an approved version is still the approved and
//! current one; a regeneration is not undone), every instance's versions are numbered 1..n
//! with no gap or duplicate, and every event log reads 1..n with no gap. Throughout: no 5xx, and no action retried after a kill is refused with a
//! 409 (it is replayed, or acts for the first time). At the end every episode completes and its
//! final video downloads as an MP4.
//!
//! Each client starts a new episode when its episode completes, as long as the killer is at
//! work, so that the kills meet episodes at every stage. The short form runs with the test
//! suite. The long form, e.g. 1,000 kills over 50 episodes:
//!
//! ```sh
//! SHOWRUNNER_TORTURE_EPISODES=50 SHOWRUNNER_TORTURE_KILLS=1000 SHOWRUNNER_TORTURE_BUDGET_S=14400 \
//!   cargo test --release --test it torture -- --nocapture
//! ```
//!
//! Every other kill is aimed at an action in flight (0 to 3 ms after it was sent); the others
//! fall anywhere. Other knobs: `SHOWRUNNER_TORTURE_SEED` (the random moments),
//! `SHOWRUNNER_TORTURE_GAP_MS` (the longest wait between a restart and the next kill, 800 by
//! default), `SHOWRUNNER_TORTURE_BUDGET_S` (the time the whole run may take, 300 by default), and
//! `SHOWRUNNER_BIN` (the `showrunner` binary to serve with; the one built with the tests by
//! default).
//!
//! The servers are behind [`Servers`]: one `serve` on the embedded store here; the `cluster`
//! module runs the same torture against three on one PostgreSQL database.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::retries::small_episode;
use crate::served::{Reply, Served, send};

/// How long one request may take before it counts as unanswered.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The gates whose output the clients sometimes regenerate (cheap text nodes) before approving.
const REGENERATED: [&str; 4] = ["outline", "characters", "scenes", "storyboard"];

/// A number from the environment, or `default`.
pub(crate) fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: the random moments, reproducible from a seed.
pub(crate) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The last acknowledged action on one instance.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ack {
    Approved(u64),
    Regenerated(u64),
}

/// What the run counts.
#[derive(Default)]
struct Tally {
    acknowledged: AtomicUsize,
    in_doubt: AtomicUsize,
    replayed: AtomicUsize,
    in_flight: AtomicUsize,
    /// Failures, described: lost actions, gaps, refused retries, 5xx.
    failures: Mutex<Vec<String>>,
    /// Every acknowledged action's instance, by episode: (instance path → last ack).
    acks: Mutex<HashMap<String, HashMap<String, Ack>>>,
    /// The episodes their client saw complete.
    completed: Mutex<HashSet<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        eprintln!("torture: FAILURE {what}");
        self.failures.lock().expect("tally").push(what);
    }
}

/// What the clients share: the servers' current addresses and the tally.
pub(crate) struct World {
    /// Every server's API base; each request goes to the next one in turn.
    bases: watch::Receiver<Vec<String>>,
    turn: AtomicUsize,
    client: reqwest::Client,
    tally: Tally,
    /// True while the killer is at work: clients start new episodes until it is done.
    killing: AtomicBool,
}

impl World {
    /// A world over the servers whose API bases `bases` holds.
    pub(crate) fn new(bases: watch::Receiver<Vec<String>>) -> Self {
        Self {
            bases,
            turn: AtomicUsize::new(0),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("a client"),
            tally: Tally::default(),
            killing: AtomicBool::new(true),
        }
    }

    fn url(&self, path: &str) -> String {
        let bases = self.bases.borrow();
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        format!("{}/{}", bases[turn % bases.len().max(1)], path)
    }

    /// Waits a moment, or until a server's address changes (it was restarted).
    async fn pause(&self) {
        let mut bases = self.bases.clone();
        let _ = tokio::time::timeout(Duration::from_millis(50), bases.changed()).await;
    }

    /// GETs until the server answers; panics on a 5xx.
    async fn get(&self, path: &str) -> Reply {
        loop {
            let request = self.client.get(self.url(path)).timeout(REQUEST_TIMEOUT);
            match send(request).await {
                // Another server holds the episode and is gone, or it changes hands: retry.
                Some(reply) if moving(&reply) => self.pause().await,
                Some(reply) => {
                    if reply.status.is_server_error() {
                        self.tally
                            .fail(format!("GET {path}: {} {:#}", reply.status, reply.body));
                    }
                    return reply;
                }
                None => self.pause().await,
            }
        }
    }

    /// POSTs with `key` until the server answers, the same key every time; says whether the
    /// request was in doubt (sent at least once without an answer), with what each attempt
    /// got.
    async fn post(&self, path: &str, key: &str, body: &Value) -> (Reply, Doubt) {
        let mut in_doubt = Doubt::default();
        loop {
            let url = self.url(path);
            let server = url.split("/api/").next().unwrap_or_default().to_owned();
            let request = self
                .client
                .post(url)
                .header("Idempotency-Key", key)
                .json(body)
                .timeout(REQUEST_TIMEOUT);
            self.tally.in_flight.fetch_add(1, Ordering::SeqCst);
            let reply = send(request).await;
            self.tally.in_flight.fetch_sub(1, Ordering::SeqCst);
            match reply {
                Some(reply) if moving(&reply) => {
                    in_doubt.0.push(format!("{server}: {}", reply.body["error"]["code"]));
                    self.pause().await;
                }
                Some(reply) if reply.status.is_server_error() => {
                    self.tally
                        .fail(format!("POST {path}: {} {:#}", reply.status, reply.body));
                    in_doubt.0.push(format!("{server}: {}", reply.status));
                    self.pause().await;
                }
                Some(reply) => {
                    if in_doubt.is() {
                        self.tally.in_doubt.fetch_add(1, Ordering::SeqCst);
                        if reply.replayed() {
                            self.tally.replayed.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    return (reply, in_doubt);
                }
                None => {
                    in_doubt.0.push(format!("{server}: no answer"));
                    self.pause().await;
                }
            }
        }
    }
}

/// What the attempts of a request that was in doubt got, in order (none when the first one
/// was answered).
#[derive(Debug, Default)]
pub(crate) struct Doubt(Vec<String>);

impl Doubt {
    fn is(&self) -> bool {
        !self.0.is_empty()
    }
}

/// `503 episode_moving` (on a cluster, the episode's holder is gone or it changes hands) or
/// `503 store_unavailable` (PostgreSQL restarting): the request is retried, as a client is
/// told to.
fn moving(reply: &Reply) -> bool {
    let code = &reply.body["error"]["code"];
    reply.status == StatusCode::SERVICE_UNAVAILABLE && (code == "episode_moving" || code == "store_unavailable")
}

/// The route of an instance in an episode's data.
fn instance_path(id: &str, instance: &Value) -> String {
    let node = instance["node"].as_str().unwrap_or("");
    match instance["item"].as_str() {
        Some(item) => format!("episodes/{id}/nodes/{node}/items/{item}"),
        None => format!("episodes/{id}/nodes/{node}"),
    }
}

/// One client: creates an episode and drives it through its gates to the end, then another,
/// as long as the killer is at work; returns their ids.
async fn drive(world: Arc<World>, index: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut ids = Vec::new();
    loop {
        let name = format!("e{index}.{}", ids.len());
        ids.push(drive_one(&world, &name, &mut rng).await);
        if !world.killing.load(Ordering::SeqCst) {
            return ids;
        }
    }
}

/// Creates one episode and drives it through its gates to the end; returns its id.
async fn drive_one(world: &World, name: &str, rng: &mut Rng) -> String {
    let body = small_episode(&format!("a clock tower that keeps time for {name}"));
    let (created, in_doubt) = world.post("episodes", &format!("{name}-create"), &body).await;
    if created.status != StatusCode::CREATED {
        world.tally.fail(format!(
            "create {name} (in doubt: {in_doubt:?}): {} {:#}",
            created.status, created.body
        ));
        panic!("create {name} failed");
    }
    world.tally.acknowledged.fetch_add(1, Ordering::SeqCst);
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    world.tally.acks.lock().expect("acks").entry(id.clone()).or_default();
    let mut actions = 0;
    loop {
        let shown = world.get(&format!("episodes/{id}")).await;
        let episode = shown.data();
        match episode["status"].as_str() {
            Some("completed") => {
                world.tally.completed.lock().expect("completed").insert(id.clone());
                return id;
            }
            Some("active") => {}
            _ => {
                world.tally.fail(format!("episode {id}: {episode:#}"));
                panic!("episode {id} is not active");
            }
        }
        let gates: Vec<Value> = episode["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| n["state"] == json!("awaiting_approval"))
            .cloned()
            .collect();
        if gates.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        for gate in gates {
            actions += 1;
            let version = gate["current_version"].as_u64().unwrap_or(0);
            let node = gate["node"].as_str().unwrap_or("");
            let regenerate = REGENERATED.contains(&node) && version < 6 && rng.below(2) == 0;
            let (action, body, ack) = if regenerate {
                let body = json!({"version": version, "feedback": "once more, bolder"});
                ("regenerate", body, Ack::Regenerated(version))
            } else {
                ("approve", json!({"version": version}), Ack::Approved(version))
            };
            let path = instance_path(&id, &gate);
            let key = format!("{name}-{actions}");
            let (reply, in_doubt) = world.post(&format!("{path}/{action}"), &key, &body).await;
            if reply.status == StatusCode::OK {
                world.tally.acknowledged.fetch_add(1, Ordering::SeqCst);
                let mut acks = world.tally.acks.lock().expect("acks");
                acks.entry(id.clone()).or_default().insert(path, ack);
            } else {
                world.tally.fail(format!(
                    "{action} {path} v{version} (in doubt: {in_doubt:?}, key {key}): {} {:#}, replayed: {}",
                    reply.status,
                    reply.body,
                    reply.replayed()
                ));
            }
        }
    }
}

/// Reads an episode's event log over SSE from sequence number 1 up to `last`; the sequence
/// numbers seen, in order.
async fn event_ids(world: &World, id: &str, last: u64) -> Option<Vec<u64>> {
    if last == 0 {
        return Some(Vec::new());
    }
    let request = world
        .client
        .get(world.url(&format!("episodes/{id}/events?from=1")))
        .timeout(REQUEST_TIMEOUT);
    let response = request.send().await.ok()?;
    if response.status() != StatusCode::OK {
        return None;
    }
    let mut stream = response.bytes_stream();
    let mut text = String::new();
    let mut ids = Vec::new();
    while ids.last().is_none_or(|&seen| seen < last) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .ok()??
            .ok()?;
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            if let Some(n) = line.strip_prefix("id:") {
                ids.push(n.trim().parse().ok()?);
            }
        }
    }
    Some(ids)
}

/// Checks the episodes against what was acknowledged: the unfinished ones, and with `all` the
/// completed ones too; returns how many were checked.
async fn check(world: &World, all: bool) -> usize {
    let mut acks = world.tally.acks.lock().expect("acks").clone();
    if !all {
        let completed = world.tally.completed.lock().expect("completed").clone();
        acks.retain(|id, _| !completed.contains(id));
    }
    let checks = acks.iter().map(|(id, instances)| async move {
        let shown = world.get(&format!("episodes/{id}")).await;
        if shown.status != StatusCode::OK {
            world
                .tally
                .fail(format!("episode {id} does not load: {}", shown.status));
            return;
        }
        let next_seq = shown.data()["next_seq"].as_u64().unwrap_or(1);
        for (path, ack) in instances {
            let node = world.get(path).await;
            let data = node.data();
            let versions: Vec<u64> = data["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["n"].as_u64())
                .collect();
            let numbered: Vec<u64> = (1..=versions.len() as u64).collect();
            if versions != numbered || data["version_count"] != json!(versions.len()) {
                world.tally.fail(format!("{path}: versions {versions:?}, {data:#}"));
            }
            let state = data["state"].as_str().unwrap_or("");
            let current = data["current_version"].as_u64();
            let lost = match *ack {
                Ack::Approved(v) => state != "approved" || current != Some(v) || data["approved_version"] != json!(v),
                Ack::Regenerated(v) => state == "awaiting_approval" && current == Some(v),
            };
            if lost {
                world.tally.fail(format!("{path}: acknowledged {ack:?} lost: {data:#}"));
            }
        }
        match event_ids(world, id, next_seq - 1).await {
            Some(ids) => {
                let expected: Vec<u64> = (1..=ids.len() as u64).collect();
                if ids != expected || ids.len() as u64 + 1 < next_seq {
                    world
                        .tally
                        .fail(format!("episode {id}: event ids {ids:?}, next_seq {next_seq}"));
                }
            }
            None => world.tally.fail(format!("episode {id}: the event log does not read")),
        }
    });
    futures::future::join_all(checks).await;
    acks.len()
}

/// The p-th percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// The servers a torture runs against, and how it kills them.
pub(crate) trait Servers {
    /// The API base of every server, in order.
    fn bases(&self) -> Vec<String>;
    /// One round of kills (and restarts) chosen with `rng`; says what it did.
    async fn kill(&mut self, rng: &mut Rng) -> String;
}

/// One `showrunner serve` on the embedded store.
struct Single {
    server: Served,
    data: PathBuf,
    log: PathBuf,
}

impl Servers for Single {
    fn bases(&self) -> Vec<String> {
        vec![self.server.url("").trim_end_matches('/').to_owned()]
    }

    async fn kill(&mut self, _: &mut Rng) -> String {
        self.server.kill();
        self.server = Served::start(&self.data, Some(&self.log)).await;
        "the server".into()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_server_survives_random_sigkills_losing_nothing() {
    let episodes = knob("SHOWRUNNER_TORTURE_EPISODES", 5) as usize;
    let kills = knob("SHOWRUNNER_TORTURE_KILLS", 30) as usize;
    let budget = Duration::from_secs(knob("SHOWRUNNER_TORTURE_BUDGET_S", 300));
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log: PathBuf = dir.path().join("serve.log");
    let server = Served::start(&data, Some(&log)).await;
    let servers = Single {
        server,
        data,
        log: log.clone(),
    };
    within(budget, &log, torture(servers, episodes, kills)).await;
}

/// Runs `run`, or panics with the end of the servers' log once `budget` is spent.
pub(crate) async fn within(budget: Duration, log: &std::path::Path, run: impl std::future::Future<Output = ()>) {
    let began = Instant::now();
    if tokio::time::timeout(budget, run).await.is_err() {
        let tail = std::fs::read_to_string(log).unwrap_or_default();
        let tail: String = tail
            .chars()
            .rev()
            .take(4000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        panic!("the torture ran past its budget of {budget:?}; the servers' log ends:\n{tail}");
    }
    eprintln!("torture: {:.1} s in all", began.elapsed().as_secs_f64());
}

/// Drives `episodes` concurrent clients against `servers` while `kills` rounds of kills hit
/// them; then checks everything acknowledged held and every episode finished with its video.
pub(crate) async fn torture(mut servers: impl Servers, episodes: usize, kills: usize) {
    let seed = knob("SHOWRUNNER_TORTURE_SEED", 0x5eed_2026);
    let gap_ms = knob("SHOWRUNNER_TORTURE_GAP_MS", 800);
    let (bases_tx, bases) = watch::channel(servers.bases());
    let world = Arc::new(World::new(bases));
    let clients: Vec<_> = (0..episodes)
        .map(|i| tokio::spawn(drive(world.clone(), i, seed)))
        .collect();

    let mut rng = Rng(seed);
    let mut restarts = Vec::with_capacity(kills);
    let mut mid_request = 0;
    for kill in 1..=kills {
        tokio::time::sleep(Duration::from_millis(rng.below(gap_ms + 1))).await;
        if rng.below(2) == 0 {
            // Aimed: at an action in flight, 0 to 3 ms after it was sent (the window between
            // its commit and its answer is in there).
            let deadline = Instant::now() + Duration::from_millis(gap_ms);
            while world.tally.in_flight.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let until = Instant::now() + Duration::from_micros(rng.below(3000));
            while Instant::now() < until {
                std::thread::yield_now();
            }
        }
        mid_request += usize::from(world.tally.in_flight.load(Ordering::SeqCst) > 0);
        let started = Instant::now();
        let what = servers.kill(&mut rng).await;
        restarts.push(started.elapsed());
        let _ = bases_tx.send(servers.bases());
        // Every episode every 20 kills; in between, the unfinished ones.
        let checked = check(&world, kill % 20 == 0).await;
        if kill % 50 == 0 || kill == kills {
            eprintln!(
                "torture: {kill} kills (the last: {what}), {} acknowledged, {checked} episodes checked",
                world.tally.acknowledged.load(Ordering::SeqCst)
            );
        }
    }

    // No more kills: every episode runs to its end.
    world.killing.store(false, Ordering::SeqCst);
    let mut ids = Vec::new();
    for client in clients {
        ids.extend(client.await.expect("a client finished its episodes"));
    }
    check(&world, true).await;
    for id in &ids {
        let last = world.get(&format!("episodes/{id}/nodes/final")).await;
        let video = last.data()["value"]["video"].as_str().unwrap_or("");
        let hash = video.strip_prefix("blob:").unwrap_or(video);
        let response = world
            .client
            .get(world.url(&format!("artifacts/{hash}")))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await
            .expect("the video");
        assert_eq!(response.status(), StatusCode::OK, "episode {id}'s video");
        let bytes = response.bytes().await.expect("the video's bytes");
        assert!(
            bytes.len() > 1000 && &bytes[4..8] == b"ftyp",
            "episode {id}: not an MP4"
        );
    }

    restarts.sort();
    let tally = &world.tally;
    let failures = tally.failures.lock().expect("tally").clone();
    eprintln!(
        "torture: {kills} SIGKILLs ({mid_request} with requests in flight) over {episodes} concurrent \
         episodes, {} in all; {} actions acknowledged, {} lost or refused; {} in-doubt retries, {} \
         replayed, the others acted for the first time; all {} completed with their video; \
         restart p50 {:.0} ms, max {:.0} ms",
        ids.len(),
        tally.acknowledged.load(Ordering::SeqCst),
        failures.len(),
        tally.in_doubt.load(Ordering::SeqCst),
        tally.replayed.load(Ordering::SeqCst),
        ids.len(),
        percentile(&restarts, 0.5).as_secs_f64() * 1000.0,
        percentile(&restarts, 1.0).as_secs_f64() * 1000.0,
    );
    assert!(failures.is_empty(), "{} failures: {failures:#?}", failures.len());
    drop(servers);
}
