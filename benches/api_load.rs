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

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use showrunner::engine::{Engine, EngineConfig, EpisodeId, EpisodeStatus, EventKind, NodeState};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// GET requests per second, at least.
const GET_TARGET: f64 = 20_000.0;
/// SSE delivery p99, at most.
const SSE_TARGET: Duration = Duration::from_millis(50);
/// How long an episode may take to reach a gate while setting up, or a round to finish.
const PATIENCE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Knobs and statistics

fn quick() -> bool {
    std::env::var("SHOWRUNNER_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A number from the environment, else the full or quick default.
fn knob(name: &str, full: usize, quick_size: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(if quick() { quick_size } else { full })
}

fn selected(name: &str) -> bool {
    match std::env::var("SHOWRUNNER_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

/// Latency samples in nanoseconds, sorted.
struct Samples(Vec<u64>);

impl Samples {
    fn new(mut nanos: Vec<u64>) -> Self {
        nanos.sort_unstable();
        Self(nanos)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (nearest rank).
    fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let n = self.0.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Duration::from_nanos(self.0[rank.clamp(1, n) - 1])
    }

    fn max(&self) -> Duration {
        Duration::from_nanos(self.0.last().copied().unwrap_or(0))
    }

    /// `p50 / p99 / max` in one cell.
    fn summary(&self) -> String {
        format!("{} / {} / {}", ms(self.pct(50.0)), ms(self.pct(99.0)), ms(self.max()))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn count(x: f64) -> String {
    let digits = (x.round() as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// CPU seconds used so far by this process's threads, by thread name (`server` and `client` are
/// the two runtimes' threads, blocking pools included; `observer` is the SSE reference). Counts
/// of threads that have exited are lost, so the sums are slightly low.
fn cpu_by_thread() -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        // After the name: state (field 3) … utime (14), stime (15), in clock ticks (100 Hz).
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks: f64 = fields
            .get(11..13)
            .map_or(0.0, |f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum());
        *out.entry(stat[open + 1..close].to_owned()).or_default() += ticks / 100.0;
    }
    out
}

/// The CPU each thread group used between two [`cpu_by_thread`] readings, busiest first, and
/// the share of the machine (`cores` × `wall`) it was.
fn cpu_used(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, wall: Duration, cores: usize) -> String {
    let mut used: Vec<(String, f64)> = after
        .iter()
        .map(|(name, s)| (name.clone(), s - before.get(name).copied().unwrap_or(0.0)))
        .filter(|(_, s)| *s >= 0.01)
        .collect();
    used.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total: f64 = used.iter().map(|(_, s)| s).sum();
    let machine = wall.as_secs_f64() * cores.max(1) as f64;
    let parts: Vec<String> = used.iter().map(|(name, s)| format!("{name} {s:.2} s")).collect();
    format!(
        "{} ({:.0}% of {cores} cores × {:.1} s)",
        parts.join(", "),
        100.0 * total / machine,
        wall.as_secs_f64()
    )
}

// ---------------------------------------------------------------------------------------------
// A keep-alive HTTP/1.1 client: one request at a time, answers with a Content-Length

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of header `name` (lower case) in a response head.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    let head = std::str::from_utf8(head).ok()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The status code of a response head.
fn status(head: &[u8]) -> io::Result<u16> {
    head.get(9..12)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no status line"))
}

/// One keep-alive connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Sends `request` and reads its answer: the status and the body.
    async fn call(&mut self, request: &[u8]) -> io::Result<(u16, &[u8])> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let mut framed: Option<(usize, usize)> = None;
        loop {
            if framed.is_none()
                && let Some(i) = find(&self.buf, b"\r\n\r\n")
            {
                let head = &self.buf[..i + 4];
                let len = header(head, "content-length")
                    .and_then(|v| v.parse::<usize>().ok())
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no Content-Length"))?;
                framed = Some((i + 4, len));
            }
            if let Some((head_len, body_len)) = framed
                && self.buf.len() >= head_len + body_len
            {
                let code = status(&self.buf)?;
                return Ok((code, &self.buf[head_len..head_len + body_len]));
            }
            if self.buf.capacity() - self.buf.len() < 16 * 1024 {
                self.buf.reserve(64 * 1024);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n").into_bytes()
}

fn post_request(path: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// An SSE reader: de-chunks the body and splits it into events

/// Undoes `Transfer-Encoding: chunked`, a read at a time.
#[derive(Default)]
struct Dechunk {
    raw: Vec<u8>,
    /// Data bytes left in the current chunk.
    left: usize,
    /// The CRLF after a chunk's data is still to come.
    crlf: bool,
    /// The last (empty) chunk came.
    done: bool,
}

impl Dechunk {
    /// Moves the data of the complete chunk pieces in `raw` to `out`.
    fn feed(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut pos = 0;
        while !self.done {
            if self.left > 0 {
                let take = self.left.min(self.raw.len() - pos);
                out.extend_from_slice(&self.raw[pos..pos + take]);
                pos += take;
                self.left -= take;
                if self.left > 0 {
                    break;
                }
                self.crlf = true;
            }
            if self.crlf {
                if self.raw.len() - pos < 2 {
                    break;
                }
                if &self.raw[pos..pos + 2] != b"\r\n" {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "no CRLF after a chunk"));
                }
                pos += 2;
                self.crlf = false;
            }
            let Some(eol) = find(&self.raw[pos..], b"\r\n") else {
                break;
            };
            let line = std::str::from_utf8(&self.raw[pos..pos + eol]).unwrap_or("");
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}")))?;
            pos += eol + 2;
            if size == 0 {
                self.done = true;
            }
            self.left = size;
        }
        self.raw.drain(..pos);
        Ok(())
    }
}

/// What one subscriber saw: each event's sequence number and when it had parsed it.
#[derive(Default)]
struct SubTally {
    got: Vec<(u64, Instant)>,
    out_of_order: usize,
    error: Option<String>,
}

/// Opens `GET …/events?from=`, reports itself ready once the `200` head came (the server
/// subscribes before it answers), then reads events until the stream ends.
async fn subscriber(
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    from: u64,
    gate: Arc<Semaphore>,
    ready: Arc<AtomicUsize>,
    delivered: Arc<AtomicUsize>,
) -> SubTally {
    let mut tally = SubTally::default();
    if let Err(e) = read_events(addr, &request, from, &gate, &ready, &delivered, &mut tally).await {
        tally.error = Some(e.to_string());
    }
    tally
}

async fn read_events(
    addr: SocketAddr,
    request: &[u8],
    from: u64,
    gate: &Semaphore,
    ready: &AtomicUsize,
    delivered: &AtomicUsize,
    tally: &mut SubTally,
) -> io::Result<()> {
    let mut chunks = Dechunk::default();
    let mut stream = {
        let _permit = gate.acquire().await.map_err(io::Error::other)?;
        let mut stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        stream.write_all(request).await?;
        let head_end = loop {
            if let Some(i) = find(&chunks.raw, b"\r\n\r\n") {
                break i + 4;
            }
            if stream.read_buf(&mut chunks.raw).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let head = &chunks.raw[..head_end];
        let code = status(head)?;
        if code != 200 || !header(head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            return Err(io::Error::other(format!(
                "events answered {code}: {}",
                String::from_utf8_lossy(&chunks.raw)
            )));
        }
        chunks.raw.drain(..head_end);
        stream
    };
    ready.fetch_add(1, Ordering::Relaxed);
    let mut text = Vec::new();
    let mut next = from;
    loop {
        chunks.feed(&mut text)?;
        let mut start = 0;
        while let Some(end) = find(&text[start..], b"\n\n") {
            let at = Instant::now();
            let block = std::str::from_utf8(&text[start..start + end]).unwrap_or("");
            start += end + 2;
            let mut seq = None;
            for line in block.lines() {
                if let Some(id) = line.strip_prefix("id:") {
                    seq = id.trim().parse::<u64>().ok();
                } else if line.starts_with("event:") {
                    return Err(io::Error::other(format!("server sent {block:?}")));
                }
            }
            // Keep-alive comments carry no id.
            if let Some(seq) = seq {
                if seq != next {
                    tally.out_of_order += 1;
                }
                next = seq + 1;
                tally.got.push((seq, at));
                delivered.fetch_add(1, Ordering::Relaxed);
            }
        }
        text.drain(..start);
        if chunks.done {
            return Ok(());
        }
        if stream.read_buf(&mut chunks.raw).await? == 0 {
            return Ok(());
        }
    }
}

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
// GET throughput

const WARM: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

#[derive(Default)]
struct GetTally {
    latencies: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
    body_bytes: u64,
    body_min: usize,
    body_max: usize,
}

async fn get_client(addr: SocketAddr, requests: Arc<Vec<Vec<u8>>>, first: usize, phase: Arc<AtomicU8>) -> GetTally {
    let mut tally = GetTally {
        body_min: usize::MAX,
        ..GetTally::default()
    };
    let mut conn = match Conn::open(addr).await {
        Ok(conn) => conn,
        Err(e) => {
            tally.errors += 1;
            tally.first_error = Some(format!("connect: {e}"));
            return tally;
        }
    };
    let mut i = first;
    loop {
        let p = phase.load(Ordering::Relaxed);
        if p == STOP {
            return tally;
        }
        let request = &requests[i % requests.len()];
        i += 1;
        let started = Instant::now();
        match conn.call(request).await {
            Ok((200, body)) if body.starts_with(b"{\"data\":") => {
                let took = started.elapsed();
                if p == MEASURE && phase.load(Ordering::Relaxed) == MEASURE {
                    tally.latencies.push(nanos(took));
                    tally.body_bytes += body.len() as u64;
                    tally.body_min = tally.body_min.min(body.len());
                    tally.body_max = tally.body_max.max(body.len());
                }
            }
            Ok((code, body)) => {
                tally.errors += 1;
                let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                tally.first_error.get_or_insert(format!("status {code}: {body}"));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(format!("{e}"));
                return tally;
            }
        }
    }
}

struct GetReport {
    requests: usize,
    window: Duration,
    cpu: String,
    latencies: Samples,
    errors: usize,
    first_error: Option<String>,
    body_min: usize,
    body_mean: f64,
    body_max: usize,
}

async fn get_load(
    addr: SocketAddr,
    ids: &[EpisodeId],
    conns: usize,
    warm: Duration,
    window: Duration,
    cores: usize,
) -> GetReport {
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        ids.iter()
            .map(|id| get_request(&format!("/api/v1/episodes/{id}")))
            .collect(),
    );
    let phase = Arc::new(AtomicU8::new(WARM));
    let tasks: Vec<_> = (0..conns)
        .map(|c| tokio::spawn(get_client(addr, requests.clone(), c, phase.clone())))
        .collect();
    tokio::time::sleep(warm).await;
    phase.store(MEASURE, Ordering::Relaxed);
    let started = Instant::now();
    let cpu_before = cpu_by_thread();
    tokio::time::sleep(window).await;
    phase.store(STOP, Ordering::Relaxed);
    let window = started.elapsed();
    let cpu = cpu_used(&cpu_before, &cpu_by_thread(), window, cores);
    let mut all = Vec::new();
    let (mut errors, mut first_error, mut bytes, mut body_min, mut body_max) = (0, None, 0u64, usize::MAX, 0);
    for task in tasks {
        let t = task.await.expect("a GET client");
        all.extend(t.latencies);
        errors += t.errors;
        first_error = first_error.or(t.first_error);
        bytes += t.body_bytes;
        body_min = body_min.min(t.body_min);
        body_max = body_max.max(t.body_max);
    }
    let requests = all.len();
    GetReport {
        requests,
        window,
        cpu,
        latencies: Samples::new(all),
        errors,
        first_error,
        body_min: if requests == 0 { 0 } else { body_min },
        body_mean: bytes as f64 / requests.max(1) as f64,
        body_max,
    }
}

// ---------------------------------------------------------------------------------------------
// SSE delivery

/// An event as the in-process subscription saw it.
struct Seen {
    seq: u64,
    at: Instant,
    at_ms: u64,
    kind: EventKind,
}

/// One action and the events it led to.
struct Round {
    action: String,
    sent: Instant,
    returned: Instant,
    post: Duration,
    events: usize,
}

struct SseReport {
    subscribers: usize,
    connect: Duration,
    rounds: Vec<Round>,
    events: usize,
    expected: usize,
    delivered: usize,
    from_publish: Samples,
    early: usize,
    from_at: Samples,
    from_return: Samples,
    spread: Samples,
    out_of_order: usize,
    errors: Vec<String>,
    /// CPU by thread group over the rounds (pauses between rounds included).
    cpu: String,
}

/// The SSE scenario on episode `id` (at its `outline` gate, version `version`), from sequence
/// number `from`; `seen` is the in-process subscription's feed. Stops the server at the end.
#[allow(clippy::too_many_arguments)]
async fn sse_load(
    addr: SocketAddr,
    id: EpisodeId,
    from: u64,
    mut version: u32,
    mut seen: mpsc::UnboundedReceiver<Seen>,
    n: usize,
    rounds: usize,
    stop: oneshot::Sender<()>,
    cores: usize,
) -> SseReport {
    let request = Arc::new(
        format!(
            "GET /api/v1/episodes/{id}/events?from={from} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        .into_bytes(),
    );
    let gate = Arc::new(Semaphore::new(64));
    let ready = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let connecting = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(subscriber(
                addr,
                request.clone(),
                from,
                gate.clone(),
                ready.clone(),
                delivered.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + PATIENCE;
    while ready.load(Ordering::Relaxed) < n && Instant::now() < deadline && tasks.iter().all(|t| !t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let connect = connecting.elapsed();
    let mut observed: Vec<Seen> = Vec::new();
    let mut done_rounds = Vec::new();
    let mut cpu_before = BTreeMap::new();
    let mut rounds_started = Instant::now();
    let mut errors = Vec::new();
    if ready.load(Ordering::Relaxed) < n {
        errors.push(format!(
            "only {} of {n} subscribers connected",
            ready.load(Ordering::Relaxed)
        ));
    } else {
        let mut conn = Conn::open(addr).await.expect("a connection for actions");
        cpu_before = cpu_by_thread();
        rounds_started = Instant::now();
        for round in 0..rounds {
            let last = round + 1 == rounds;
            let (action, body, next_gate) = if last {
                ("approve", json!({"version": version}), "characters")
            } else {
                let feedback = format!("round {round}: make it darker");
                (
                    "regenerate",
                    json!({"version": version, "feedback": feedback}),
                    "outline",
                )
            };
            let request = post_request(&format!("/api/v1/episodes/{id}/nodes/outline/{action}"), &body);
            let sent = Instant::now();
            let (code, answer) = conn.call(&request).await.expect("the action's answer");
            let returned = Instant::now();
            if code != 200 {
                errors.push(format!("{action} answered {code}: {}", String::from_utf8_lossy(answer)));
                break;
            }
            let before = observed.len();
            // Until the next gate opens: the round's last event.
            let opened = loop {
                match tokio::time::timeout(PATIENCE, seen.recv()).await {
                    Ok(Some(event)) => {
                        let gate = match &event.kind {
                            EventKind::GateOpened { key, versions, .. } if key.node == next_gate => {
                                versions.last().copied()
                            }
                            _ => None,
                        };
                        observed.push(event);
                        if let Some(v) = gate {
                            break Some(v);
                        }
                    }
                    _ => break None,
                }
            };
            let Some(opened) = opened else {
                errors.push(format!("round {round}: `{next_gate}` did not open"));
                break;
            };
            version = opened;
            let want = n * observed.len();
            let deadline = Instant::now() + Duration::from_secs(30);
            while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            done_rounds.push(Round {
                action: action.into(),
                sent,
                returned,
                post: returned - sent,
                events: observed.len() - before,
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Anything published after the last gate opened.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(event) = seen.try_recv() {
            observed.push(event);
        }
        let want = n * observed.len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while delivered.load(Ordering::Relaxed) < want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let cpu = cpu_used(&cpu_before, &cpu_by_thread(), rounds_started.elapsed(), cores);
    // Shutting the server down ends every stream.
    let _ = stop.send(());
    let mut tallies = Vec::new();
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(t)) => tallies.push(t),
            Ok(Err(e)) => errors.push(format!("a subscriber panicked: {e}")),
            Err(_) => errors.push("a subscriber did not end".into()),
        }
    }
    let mut report = sse_report(n, connect, done_rounds, &observed, tallies, errors);
    report.cpu = cpu;
    report
}

fn sse_report(
    n: usize,
    connect: Duration,
    rounds: Vec<Round>,
    observed: &[Seen],
    tallies: Vec<SubTally>,
    mut errors: Vec<String>,
) -> SseReport {
    let by_seq: std::collections::HashMap<u64, &Seen> = observed.iter().map(|s| (s.seq, s)).collect();
    // Instants to wall-clock milliseconds, for the `at` cross-check.
    let (base, base_wall) = (Instant::now(), SystemTime::now());
    let wall_ms = |t: Instant| -> f64 {
        let wall = base_wall.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1e3;
        wall - base.duration_since(t).as_secs_f64() * 1e3
    };
    // The POST an event was published during, if any: its return is the brief's reference.
    let during = |at: Instant| {
        rounds
            .iter()
            .find(|r| r.sent <= at && at <= r.returned)
            .map(|r| r.returned)
    };
    let (mut from_publish, mut from_at, mut from_return) = (Vec::new(), Vec::new(), Vec::new());
    let mut first_last: std::collections::HashMap<u64, (Instant, Instant)> = std::collections::HashMap::new();
    let (mut delivered, mut early, mut out_of_order) = (0, 0, 0);
    for tally in tallies {
        out_of_order += tally.out_of_order;
        if let Some(e) = tally.error
            && errors.len() < 5
        {
            errors.push(e);
        }
        for (seq, t) in tally.got {
            let Some(seen) = by_seq.get(&seq) else { continue };
            delivered += 1;
            if t < seen.at {
                early += 1;
            }
            from_publish.push(nanos(t.saturating_duration_since(seen.at)));
            from_at.push(((wall_ms(t) - seen.at_ms as f64).max(0.0) * 1e6) as u64);
            if let Some(returned) = during(seen.at) {
                from_return.push(nanos(t.saturating_duration_since(returned)));
            }
            let e = first_last.entry(seq).or_insert((t, t));
            e.0 = e.0.min(t);
            e.1 = e.1.max(t);
        }
    }
    let spread = first_last.values().map(|(a, b)| nanos(*b - *a)).collect();
    SseReport {
        subscribers: n,
        connect,
        rounds,
        events: observed.len(),
        expected: n * observed.len(),
        delivered,
        from_publish: Samples::new(from_publish),
        early,
        from_at: Samples::new(from_at),
        from_return: Samples::new(from_return),
        spread: Samples::new(spread),
        out_of_order,
        errors,
        cpu: String::new(),
    }
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
