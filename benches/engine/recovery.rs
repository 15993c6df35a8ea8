//! Scenario 3: how long `showrunner::open` takes to bring back a store full of episodes that wait
//! at a Human gate, or whose node was running when the engine stopped (a crash).
//!
//! The store is populated through the pure core and the store, which writes exactly what the
//! engine writes for such an episode (header, instance snapshot, version value, and the events
//! `EpisodeCreated, NodeReady, NodeStarted, NodeProduced, GateOpened`), only in one commit per
//! episode instead of three, and with many commits in flight so group commit batches them.
//!
//! The open runs in a child process (the harness re-executed, under an address-space limit):
//! its memory is measured on its own, and an engine that needs more memory than the machine has
//! fails there instead of taking the harness (or a neighbour) down.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use showrunner::engine::{EngineConfig, Episode, EpisodeStatus, InstanceKey, NodeState, Store};
use showrunner::storage::SledStore;

use crate::common::{GATE_NODE, Phase, disk_usage, fresh_dir, gate_commit, gate_workflow, rss_kib};

/// The environment variable that makes the harness a recovery child: the data directory.
pub const CHILD_DIR: &str = "SHOWRUNNER_BENCH_RECOVER_DIR";
/// The child's expected episode count.
pub const CHILD_N: &str = "SHOWRUNNER_BENCH_RECOVER_N";
/// Set when the child's episodes were running (so every one must be loaded and re-queued).
pub const CHILD_RUNNING: &str = "SHOWRUNNER_BENCH_RECOVER_RUNNING";

/// What one recovery measured.
pub struct Recovered {
    /// Episodes stored.
    pub n: usize,
    /// Populating the store.
    pub populate: Duration,
    /// Bytes on disk.
    pub disk: u64,
    /// The address-space limit the child ran under, KiB.
    pub limit_kib: u64,
    /// What the child measured, or why it has nothing.
    pub open: Result<Opened, String>,
}

/// What the child measured.
pub struct Opened {
    /// `showrunner::open`, start to finish.
    pub open: Duration,
    /// Episodes the recovery report says were loaded (work in flight) and left waiting at gates.
    pub loaded: usize,
    /// Episodes waiting at gates: checked, loaded on first use.
    pub waiting: usize,
    /// Resident memory before and after the open, and its peak, KiB.
    pub rss_before: u64,
    /// After.
    pub rss_after: u64,
    /// Peak.
    pub rss_peak: u64,
    /// Stopping the recovered engine.
    pub shutdown: Duration,
    /// Of the open (measured again, separately, on a never-opened copy): opening sled.
    pub sled_open: Duration,
    /// For comparison: reading and decoding every unfinished episode (`Store::load_episodes`).
    pub load: Duration,
    /// Rebuilding the episodes (`Episode::restore`).
    pub restore: Duration,
}

/// The never-opened copy of the store, for the breakdown.
const PRISTINE: &str = "store-pristine";

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `fsync`s every file and directory under `dir`.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            sync_tree(&entry.path())?;
        } else {
            std::fs::File::open(entry.path())?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Stores `n` episodes waiting at a gate (or, with `running`, caught mid-run), then has a child
/// process time `showrunner::open`.
pub async fn run(base: &Path, n: usize, running: bool) -> Recovered {
    let dir = fresh_dir(base, &format!("recovery-{n}-{running}"));
    let def = gate_workflow();
    let what = if running { "caught mid-run" } else { "at a Human gate" };
    let phase = Phase::start(format!("recovery: populating {n} episodes {what}"));
    let store = Arc::new(SledStore::open(dir.join("store")).expect("opening the store"));
    futures::stream::iter(0..n)
        .map(|i| {
            let commit = gate_commit(&def, i as u64, running);
            let store = store.clone();
            async move { store.commit(commit).await.expect("a durable commit") }
        })
        .buffer_unordered(1024)
        .collect::<Vec<()>>()
        .await;
    drop(store);
    let populate = phase.done();
    let disk = disk_usage(&dir);
    // A copy that has never been opened since it was written, for the breakdown: the first open
    // of a sled store replays its log, later ones start from a snapshot.
    copy_dir(&dir.join("store"), &dir.join(PRISTINE)).expect("copying the store");
    // Everything on disk before the clock starts: the kernel's writeback of hundreds of MiB must
    // not compete with the open for the CPU.
    sync_tree(&dir).expect("syncing the store files");

    let limit_kib = child_limit_kib();
    let phase = Phase::start(format!(
        "recovery: showrunner::open over {n} episodes (child process, {} GiB address-space limit)",
        limit_kib >> 20
    ));
    let open = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || run_child(&dir, n, running, limit_kib)
    })
    .await
    .expect("the child's waiter");
    phase.done();
    // `SHOWRUNNER_BENCH_KEEP=1` keeps the populated store, e.g. to profile a child run over it.
    if std::env::var_os("SHOWRUNNER_BENCH_KEEP").is_some() {
        eprintln!("  kept {} ({n} episodes)", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Recovered {
        n,
        populate,
        disk,
        limit_kib,
        open,
    }
}

/// 60% of the memory available now, at most 16 GiB: room for the engine, none for a runaway.
fn child_limit_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(8 << 20);
    (available * 6 / 10).min(16 << 20)
}

fn run_child(dir: &PathBuf, n: usize, running: bool, limit_kib: u64) -> Result<Opened, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding the harness binary: {e}"))?;
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {limit_kib} && exec \"$0\""))
        .arg(&exe)
        .env(CHILD_DIR, dir)
        .env(CHILD_N, n.to_string())
        .env(CHILD_RUNNING, if running { "1" } else { "" })
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting the child: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("RESULT "));
    let Some(line) = line else {
        use std::os::unix::process::ExitStatusExt;
        let how = match (output.status.code(), output.status.signal()) {
            (_, Some(6)) => "aborted (SIGABRT: an allocation failed under the limit)".to_owned(),
            (_, Some(9)) => "killed (SIGKILL: out of memory)".to_owned(),
            (_, Some(sig)) => format!("killed by signal {sig}"),
            (Some(code), None) => format!("exited with {code}"),
            (None, None) => "ended without a status".to_owned(),
        };
        return Err(how);
    };
    let v: Value = serde_json::from_str(line).map_err(|e| format!("reading the child's result: {e}"))?;
    let ms = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(f64::NAN) / 1e3);
    let kib = |k: &str| v[k].as_u64().unwrap_or(0);
    Ok(Opened {
        open: ms("open_ms"),
        loaded: v["loaded"].as_u64().unwrap_or(0) as usize,
        waiting: v["waiting"].as_u64().unwrap_or(0) as usize,
        rss_before: kib("rss_before"),
        rss_after: kib("rss_after"),
        rss_peak: kib("rss_peak"),
        shutdown: ms("shutdown_ms"),
        sled_open: ms("sled_open_ms"),
        load: ms("load_ms"),
        restore: ms("restore_ms"),
    })
}

/// The child: opens the engine over `dir` (which holds `n` episodes), checks the result, then
/// times the pieces separately; prints one `RESULT {json}` line.
pub async fn child(dir: &Path, n: usize, running: bool) {
    let (rss_before, _) = rss_kib();
    let t = Instant::now();
    let (engine, report) = showrunner::open(dir, vec![gate_workflow()], EngineConfig::default())
        .await
        .expect("recovering");
    let open = t.elapsed();
    let (rss_after, _) = rss_kib();
    assert!(
        report.corrupt.is_empty() && report.failed.is_empty() && report.unknown_definitions.is_empty(),
        "recovery reported problems: {report:?}"
    );
    assert_eq!(
        report.loaded + report.waiting,
        n,
        "every stored episode is accounted for"
    );
    if running {
        assert_eq!(report.loaded, n, "every episode caught mid-run is loaded and re-queued");
    }
    if let Some(&id) = engine
        .episodes(EpisodeStatus::Active)
        .expect("the status index")
        .first()
    {
        let record = engine
            .instance(id, &InstanceKey::single(GATE_NODE))
            .await
            .expect("a recovered instance");
        let expected = if running {
            // Re-queued: it may have run (and reached its gate) already.
            matches!(
                record.state,
                NodeState::Ready {} | NodeState::Running { .. } | NodeState::AwaitingApproval {}
            )
        } else {
            record.state == (NodeState::AwaitingApproval {})
        };
        assert!(
            expected,
            "a recovered episode is in the wrong state: {:?}",
            record.state
        );
    }
    let t = Instant::now();
    engine.shutdown().await;
    drop(engine);
    let shutdown = t.elapsed();
    let (_, rss_peak) = rss_kib();

    // The same work again, piece by piece, on the never-opened copy, to see where the time goes.
    let def = gate_workflow();
    let pristine = dir.join(PRISTINE);
    let t = Instant::now();
    let store =
        SledStore::open(if pristine.exists() { pristine } else { dir.join("store") }).expect("opening the store");
    let sled_open = t.elapsed();
    let t = Instant::now();
    let loaded = store
        .load_episodes(&[EpisodeStatus::Active, EpisodeStatus::Paused, EpisodeStatus::Failed])
        .expect("loading episodes");
    let load = t.elapsed();
    let t = Instant::now();
    let restored: Vec<Episode> = loaded
        .into_iter()
        .map(|s| Episode::restore(&def, s.expect("an episode that loads")).expect("an episode that restores"))
        .collect();
    let restore = t.elapsed();
    assert_eq!(restored.len(), n);
    drop(restored);
    drop(store);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let result = json!({
        "open_ms": ms(open),
        "loaded": report.loaded,
        "waiting": report.waiting,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_peak": rss_peak,
        "shutdown_ms": ms(shutdown),
        "sled_open_ms": ms(sled_open),
        "load_ms": ms(load),
        "restore_ms": ms(restore),
    });
    println!("RESULT {result}");
}
