//! Shared pieces of the harness: the knobs, latency statistics, formatting, the result table, and
//! the nodes and workflows the scenarios drive.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use showrunner::engine::{
    Changes, Command, Commit, Engine, EngineConfig, Episode, EpisodeId, Event, Gate, InstanceKey, Node, NodeCtx,
    NodeError, NodeSpec, Produced, Store, Timestamp, WorkflowDef, now_ms,
};
use showrunner::storage::{FsBlobStore, SledStore};

/// True when `SHOWRUNNER_BENCH_QUICK` asks for the shrunken smoke run.
pub fn quick() -> bool {
    std::env::var("SHOWRUNNER_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// True when scenario `name` should run: `SHOWRUNNER_BENCH_ONLY` (comma separated) limits them.
pub fn selected(name: &str) -> bool {
    match std::env::var("SHOWRUNNER_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

/// Picks the full or the quick size.
pub fn size(full: usize, quick_size: usize) -> usize {
    if quick() { quick_size } else { full }
}

/// Latency samples in nanoseconds, sorted.
pub struct Samples(Vec<u64>);

impl Samples {
    /// Sorts the samples.
    pub fn new(mut nanos: Vec<u64>) -> Self {
        nanos.sort_unstable();
        Self(nanos)
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (nearest rank).
    pub fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let n = self.0.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Duration::from_nanos(self.0[rank.clamp(1, n) - 1])
    }

    /// The largest sample.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.0.last().copied().unwrap_or(0))
    }

    /// `p50 / p99 / max`, for a report row.
    pub fn spread(&self) -> String {
        format!(
            "{} / {} / {}",
            dur(self.pct(50.0)),
            dur(self.pct(99.0)),
            dur(self.max())
        )
    }

    /// The mean.
    pub fn mean(&self) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let sum: u128 = self.0.iter().map(|&x| u128::from(x)).sum();
        Duration::from_nanos((sum / self.0.len() as u128) as u64)
    }
}

/// Nanoseconds of a duration, saturated to `u64`.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A duration with a unit that fits.
pub fn dur(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.2} s", ns as f64 / 1e9)
    }
}

/// A count with thousands separators.
pub fn count(x: f64) -> String {
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate per second.
pub fn rate(events: usize, over: Duration) -> f64 {
    events as f64 / over.as_secs_f64().max(1e-12)
}

/// PASS or MISS against a target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No target for this row.
    Info,
    /// The target is met.
    Pass,
    /// The target is missed.
    Miss,
}

impl Verdict {
    /// Pass when `ok`.
    pub fn of(ok: bool) -> Self {
        if ok { Verdict::Pass } else { Verdict::Miss }
    }

    fn label(self) -> &'static str {
        match self {
            Verdict::Info => "",
            Verdict::Pass => "PASS",
            Verdict::Miss => "MISS",
        }
    }
}

/// One line of the result table.
pub struct Row {
    section: String,
    metric: String,
    value: String,
    target: String,
    verdict: Verdict,
}

/// The result table, printed at the end (rows are echoed to stderr as they come, for progress).
#[derive(Default)]
pub struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    /// Adds a row without a target.
    pub fn info(&mut self, section: &str, metric: &str, value: impl Into<String>) {
        self.row(section, metric, value, "", Verdict::Info);
    }

    /// Adds a row.
    pub fn row(&mut self, section: &str, metric: &str, value: impl Into<String>, target: &str, verdict: Verdict) {
        let row = Row {
            section: section.to_owned(),
            metric: metric.to_owned(),
            value: value.into(),
            target: target.to_owned(),
            verdict,
        };
        eprintln!(
            "  [{}] {}: {} {} {}",
            row.section,
            row.metric,
            row.value,
            row.target,
            row.verdict.label()
        );
        self.rows.push(row);
    }

    /// Adds a note printed under the table.
    pub fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("  note: {note}");
        self.notes.push(note);
    }

    /// The table as text.
    pub fn render(&self) -> String {
        let headers = ["scenario", "metric", "value", "target", "verdict"];
        let cells: Vec<[&str; 5]> = self
            .rows
            .iter()
            .map(|r| [&*r.section, &*r.metric, &*r.value, &*r.target, r.verdict.label()])
            .collect();
        let mut widths = headers.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |out: &mut String, row: &[&str; 5]| {
            let mut text = String::new();
            for (i, (c, w)) in row.iter().zip(widths).enumerate() {
                let pad = w - c.chars().count();
                // Values right-aligned, text left-aligned.
                if i == 2 {
                    let _ = write!(text, "| {}{} ", " ".repeat(pad), c);
                } else {
                    let _ = write!(text, "| {}{} ", c, " ".repeat(pad));
                }
            }
            let _ = writeln!(out, "{}|", text);
        };
        let rule = |out: &mut String| {
            let mut text = String::new();
            for w in widths {
                let _ = write!(text, "+{}", "-".repeat(w + 2));
            }
            let _ = writeln!(out, "{text}+");
        };
        let mut out = String::new();
        rule(&mut out);
        line(&mut out, &headers);
        rule(&mut out);
        let mut last = "";
        for (row, r) in cells.iter().zip(&self.rows) {
            if !last.is_empty() && last != r.section {
                rule(&mut out);
            }
            last = &r.section;
            line(&mut out, row);
        }
        rule(&mut out);
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// True when any row missed its target.
    pub fn missed(&self) -> usize {
        self.rows.iter().filter(|r| r.verdict == Verdict::Miss).count()
    }
}

/// A stopwatch that prints what is going on to stderr.
pub struct Phase {
    what: String,
    started: Instant,
}

impl Phase {
    /// Starts a phase.
    pub fn start(what: impl Into<String>) -> Self {
        let what = what.into();
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        eprintln!("» {what} … (load average {})", load.join(" "));
        Self {
            what,
            started: Instant::now(),
        }
    }

    /// Ends it and returns how long it took.
    pub fn done(self) -> Duration {
        let took = self.started.elapsed();
        eprintln!("  {} took {}", self.what, dur(took));
        took
    }
}

/// A fresh directory `name` under `base`.
pub fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let dir = base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a scenario directory");
    dir
}

/// The bytes a directory tree holds.
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}

/// A node that always returns the same value.
pub struct Const(pub Value);

#[async_trait]
impl Node for Const {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _input: Value, _ctx: &NodeCtx) -> Result<Value, NodeError> {
        Ok(self.0.clone())
    }
}

/// A list node that outputs `n` items with stable ids.
pub struct Items(pub usize);

/// The list [`Items`] produces.
pub fn items(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|k| json!({ "id": format!("item-{k:06}"), "k": k }))
            .collect(),
    )
}

#[async_trait]
impl Node for Items {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _input: Value, _ctx: &NodeCtx) -> Result<Value, NodeError> {
        Ok(items(self.0))
    }
}

/// A trivial map node: echoes its item's id.
pub struct Echo;

#[async_trait]
impl Node for Echo {
    type Input = Value;
    type Output = Value;

    async fn run(&self, input: Value, _ctx: &NodeCtx) -> Result<Value, NodeError> {
        Ok(json!({ "id": input["item"]["id"], "done": true }))
    }
}

/// The gate workflow's name and node key.
pub const GATE_WORKFLOW: &str = "bench-gate";
/// The one node of [`gate_workflow`].
pub const GATE_NODE: &str = "a";

/// One single node behind a Human gate.
pub fn gate_workflow() -> WorkflowDef {
    WorkflowDef::builder(GATE_WORKFLOW)
        .node(NodeSpec::single(GATE_NODE, Const(json!({ "v": 0 }))).gate(Gate::Human))
        .build()
        .expect("the gate workflow is valid")
}

/// The fan-out workflow's name.
pub const FANOUT_WORKFLOW: &str = "bench-fanout";
/// Its list node.
pub const FANOUT_LIST: &str = "items";
/// Its map node.
pub const FANOUT_MAP: &str = "each";

/// `items` (a list of `n`) → `each` (a map over it), both with Auto gates.
pub fn fanout_workflow(n: usize) -> WorkflowDef {
    WorkflowDef::builder(FANOUT_WORKFLOW)
        .node(NodeSpec::list(FANOUT_LIST, Items(n)).gate(Gate::Auto))
        .node(NodeSpec::map(FANOUT_MAP, FANOUT_LIST, Echo).gate(Gate::Auto))
        .build()
        .expect("the fan-out workflow is valid")
}

/// An episode of [`gate_workflow`] made in the pure core and taken to its gate (version 1 waits
/// for a person), with everything it changed on the way.
pub fn gate_episode(def: &WorkflowDef, seed: u64, now: Timestamp) -> (Episode, Changes) {
    let key = InstanceKey::single(GATE_NODE);
    let input = json!({ "idea": "a bench episode", "seed": seed });
    let (mut episode, mut changes) = Episode::create(def, EpisodeId::generate(), input, seed, now);
    episode
        .apply(def, Command::Start { key: key.clone() }, now, &mut changes)
        .expect("starting the node");
    let produced = Produced {
        value: Arc::new(json!({ "v": 0 })),
        score: None,
        remarks: Vec::new(),
    };
    let finished = Command::Finished {
        key,
        attempt: 1,
        result: Ok(vec![produced]),
    };
    episode
        .apply(def, finished, now, &mut changes)
        .expect("finishing the node");
    (episode, changes)
}

/// An episode whose node was running when the engine stopped (as after a crash): recovery must
/// load it, put the run back in the queue and start it again.
pub fn running_episode(def: &WorkflowDef, seed: u64, now: Timestamp) -> (Episode, Changes) {
    let key = InstanceKey::single(GATE_NODE);
    let input = json!({ "idea": "a bench episode", "seed": seed });
    let (mut episode, mut changes) = Episode::create(def, EpisodeId::generate(), input, seed, now);
    episode
        .apply(def, Command::Start { key }, now, &mut changes)
        .expect("starting the node");
    (episode, changes)
}

/// The commit the engine's actor writes for `changes`: the events numbered from `next_seq`
/// (which moves on), the header, every dirty instance's snapshot, removals and version values.
pub fn commit_of(
    def: &WorkflowDef,
    episode: &Episode,
    changes: &mut Changes,
    next_seq: &mut u64,
    now: Timestamp,
) -> Commit {
    let id = episode.id();
    let mut commit = Commit::new(id);
    for kind in changes.events.drain(..) {
        commit.events.push(Event {
            episode: id,
            seq: *next_seq,
            at: now,
            kind,
        });
        *next_seq += 1;
    }
    let mut header = episode.header().clone();
    header.next_seq = *next_seq;
    commit.header = Some(header);
    (commit.instances, commit.versions) = episode
        .commit_records(def, changes)
        .expect("every value has its version");
    commit.removed = std::mem::take(&mut changes.removed);
    commit.runnable = Some(episode.has_work());
    changes.dirty.clear();
    changes.effects.clear();
    commit
}

/// A new episode of the gate workflow waiting at its gate, as one commit.
pub fn gate_commit(def: &WorkflowDef, seed: u64, running: bool) -> Commit {
    let now = now_ms();
    let (episode, mut changes) = if running {
        running_episode(def, seed, now)
    } else {
        gate_episode(def, seed, now)
    };
    let mut next_seq = episode.header().next_seq;
    commit_of(def, &episode, &mut changes, &mut next_seq, now)
}

/// What `showrunner::open` does, keeping a handle on the sled store for its commit counters.
pub async fn open_engine(data: &Path, defs: Vec<WorkflowDef>, config: EngineConfig) -> (Engine, Arc<SledStore>) {
    let store = Arc::new(SledStore::open(data.join("store")).expect("opening the store"));
    let blobs = Arc::new(FsBlobStore::open(data.join("blobs")).expect("opening the blob store"));
    let dyn_store: Arc<dyn Store> = store.clone();
    let (engine, _) = Engine::open(dyn_store, blobs, defs, config)
        .await
        .expect("opening the engine");
    (engine, store)
}

/// Resident memory of this process now and at its peak, in KiB (`VmRSS`, `VmHWM`).
pub fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A person's edit of the gate node, made from `version` (the current one).
pub fn edit(version: u32, v: usize) -> Command {
    Command::Edit {
        key: InstanceKey::single(GATE_NODE),
        value: json!({ "v": v }),
        base_version: Some(version),
    }
}
