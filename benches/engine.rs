//! Showrunner's load harness: durable transitions, recovery and fan-out against the targets, with
//! a bare-fsync baseline of the same disk. One plain `main` (`harness = false`) that prints a
//! table.
//!
//! ```text
//! cargo bench --bench engine                              # the full run
//! SHOWRUNNER_BENCH_QUICK=1 cargo bench --bench engine     # every scenario shrunk: a smoke run
//! SHOWRUNNER_BENCH_ONLY=fsync,edit cargo bench ...        # some scenarios only: fsync, edit,
//!                                                         #   shaped, commit, hops, recovery, fanout, micro
//! SHOWRUNNER_BENCH_LEVELS=1,256 cargo bench ...            # some concurrency levels only (1, 16, 256)
//! SHOWRUNNER_BENCH_DIR=/some/dir cargo bench ...          # where the data goes (default: the temp dir)
//! SHOWRUNNER_BENCH_KEEP=1 ...                             # keep the recovery stores (to profile a child:
//!   SHOWRUNNER_BENCH_RECOVER_DIR=<kept dir> SHOWRUNNER_BENCH_RECOVER_N=<n> perf record <bench binary>)
//! ```

/// The allocator the `showrunner` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "engine/common.rs"]
mod common;
#[path = "engine/fanout.rs"]
mod fanout;
#[path = "engine/fsync.rs"]
mod fsync;
#[path = "engine/micro.rs"]
mod micro;
#[path = "engine/recovery.rs"]
mod recovery;
#[path = "engine/transitions.rs"]
mod transitions;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Report, Verdict, count, dur, quick, rate, selected, size};

/// Transition p50 over fsync p50, at most.
const LATENCY_RATIO_TARGET: f64 = 1.5;
/// Durable transitions per second at 256 episodes, at least.
const THROUGHPUT_TARGET: f64 = 50_000.0;
/// Episodes recovered per second, at least (100,000 in 1 s).
const RECOVERY_TARGET: f64 = 100_000.0;
/// The 10,000-item fan-out scheduled within this.
const FANOUT_TARGET: Duration = Duration::from_secs(1);

fn device(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => {
            let dev = m.dev();
            format!("{}:{}", (dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
        }
        Err(e) => format!("unknown ({e})"),
    }
}

fn mount_of(path: &Path) -> String {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "unknown".into();
    };
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (source, target, fstype) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(target)
                .then(|| (target.len(), format!("{source} on {target} ({fstype})")))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown".into(), |(_, m)| m)
}

/// The 1, 5 and 15 minute load averages: the machine is shared, so say how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn base_parent() -> (PathBuf, &'static str) {
    match std::env::var_os("SHOWRUNNER_BENCH_DIR") {
        Some(dir) => (PathBuf::from(dir), "SHOWRUNNER_BENCH_DIR"),
        None => (std::env::temp_dir(), "std::env::temp_dir()"),
    }
}

fn transitions_rows(report: &mut Report, section: &str, m: &transitions::Measured, fsync_p50: Option<Duration>) {
    report.info(section, "calls", count(m.lat.len() as f64));
    report.info(section, "latency p50 / p99 / max", m.lat.spread());
    if let Some(f) = fsync_p50 {
        let ratio = m.lat.pct(50.0).as_secs_f64() / f.as_secs_f64().max(1e-12);
        report.info(section, "p50 ÷ fsync p50 (start of run)", format!("{ratio:.2}×"));
    }
    // The latency target is about a lone transition: judged at one episode, against the bare
    // syncs taken between its rounds of edits.
    if let Some(bare) = &m.bare {
        let ratio = m.lat.pct(50.0).as_secs_f64() / bare.pct(50.0).as_secs_f64().max(1e-12);
        report.info(section, "bare fdatasync between rounds, p50 / p99 / max", bare.spread());
        report.row(
            section,
            "p50 ÷ fsync p50 (between rounds)",
            format!("{ratio:.2}×"),
            &format!("≤ {LATENCY_RATIO_TARGET}×"),
            Verdict::of(ratio <= LATENCY_RATIO_TARGET),
        );
    }
    let tput = m.throughput();
    if m.n == 256 && section.starts_with("2a.") {
        report.row(
            section,
            "durable transitions/s",
            count(tput),
            &format!("≥ {}/s", count(THROUGHPUT_TARGET)),
            Verdict::of(tput >= THROUGHPUT_TARGET),
        );
    } else {
        report.info(section, "durable transitions/s", count(tput));
    }
    report.info(
        section,
        "p50 first 10% → last 10% of calls",
        format!("{} → {}", dur(m.early.pct(50.0)), dur(m.late.pct(50.0))),
    );
    report.info(
        section,
        "commits per flush (group commit)",
        format!("{:.1} ({} flushes)", m.per_flush(), count(m.stats.flushes as f64)),
    );
    report.info(
        section,
        "on disk afterwards",
        format!("{:.1} MiB", m.disk as f64 / (1 << 20) as f64),
    );
}

fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match (
        run(&["rev-parse", "--short", "HEAD"]),
        run(&["status", "--porcelain", "--untracked-files=no"]),
    ) {
        (Some(rev), Some(status)) if status.is_empty() => rev,
        (Some(rev), Some(_)) => format!("{rev} + uncommitted changes"),
        _ => "unknown".into(),
    }
}

/// The recovery child: see `recovery::child`.
fn recovery_child(dir: &std::ffi::OsStr) {
    let n = std::env::var(recovery::CHILD_N)
        .ok()
        .and_then(|n| n.parse().ok())
        .expect("the episode count");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let running = std::env::var_os(recovery::CHILD_RUNNING).is_some_and(|v| !v.is_empty());
    runtime.block_on(recovery::child(Path::new(dir), n, running));
}

fn main() {
    if let Some(dir) = std::env::var_os(recovery::CHILD_DIR) {
        recovery_child(&dir);
        return;
    }
    let started = Instant::now();
    let quick = quick();
    let (parent, source) = base_parent();
    std::fs::create_dir_all(&parent).expect("creating the bench directory's parent");
    let mut base = tempfile::Builder::new()
        .prefix("showrunner-bench-")
        .tempdir_in(&parent)
        .expect("creating the bench directory");
    base.disable_cleanup(std::env::var_os("SHOWRUNNER_BENCH_KEEP").is_some());
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "Showrunner engine bench ({})",
        if quick {
            "QUICK smoke run: every scenario shrunk"
        } else {
            "full run"
        }
    );
    println!("  data under {} (from {source})", base.path().display());
    println!(
        "  its filesystem: {} [device {}]",
        mount_of(base.path()),
        device(base.path())
    );
    println!(
        "  current directory {} [device {}]: {}",
        cwd.display(),
        device(&cwd),
        if device(&cwd) == device(base.path()) {
            "same device"
        } else {
            "a different device"
        }
    );
    println!("  {cores} CPU cores; tokio multi-thread runtime with {cores} workers; build: release (cargo bench)");
    println!("  source revision: {}", git_revision());
    println!("  load average at start: {}", load_average());
    println!();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut report = Report::default();

    // 1. Bare fsync.
    let mut fsync_p50 = None;
    if selected("fsync") {
        let samples = size(500, 100);
        let s = "1. bare fsync (4 KiB append)";
        let data = fsync::append_and_sync(base.path(), samples, fsync::Sync::Data);
        report.info(s, "samples", count(samples as f64));
        report.info(s, "fdatasync p50 / p99 / max", data.spread());
        report.info(
            s,
            "fdatasync mean → syncs/s, serial",
            count(1.0 / data.mean().as_secs_f64().max(1e-12)),
        );
        let all = fsync::append_and_sync(base.path(), samples, fsync::Sync::All);
        report.info(
            s,
            "fsync p50 / p99",
            format!("{} / {}", dur(all.pct(50.0)), dur(all.pct(99.0))),
        );
        let s = "1c. bare fdatasync (4 KiB overwrite in place)";
        let overwrite = fsync::overwrite_and_sync(base.path(), samples);
        report.info(s, "fdatasync p50 / p99 / max", overwrite.spread());
        // The start-of-run ratios take the cheaper of the two, the strictest baseline; the
        // latency verdict takes the overwrite probe repeated between rounds of edits.
        let baseline = data.pct(50.0).min(overwrite.pct(50.0));
        report.info(s, "baseline for the start-of-run ratios (the lower p50)", dur(baseline));
        fsync_p50 = Some(baseline);
    }

    // 2. Durable transitions.
    let levels: Vec<(usize, usize)> = [
        (1usize, size(2_000, 200)),
        (16, size(20_000, 1_600)),
        (256, size(100_000, 5_120)),
    ]
    .into_iter()
    .filter(|(n, _)| match std::env::var("SHOWRUNNER_BENCH_LEVELS") {
        Ok(l) if !l.trim().is_empty() => l.split(',').any(|x| x.trim() == n.to_string()),
        _ => true,
    })
    .collect();
    if selected("edit") {
        for &(n, total) in &levels {
            let m = runtime.block_on(transitions::engine_level(base.path(), n, total));
            transitions_rows(&mut report, &format!("2a. engine edit, N={n}"), &m, fsync_p50);
        }
    }
    if selected("shaped") {
        for &(n, total) in &levels {
            let m = runtime.block_on(transitions::engine_shaped(base.path(), n, total));
            transitions_rows(
                &mut report,
                &format!("2b. store, engine's edit commits, N={n}"),
                &m,
                fsync_p50,
            );
        }
    }
    if selected("commit") {
        for &(n, total) in &levels {
            let m = runtime.block_on(transitions::store_level(base.path(), n, total));
            transitions_rows(
                &mut report,
                &format!("2c. store, 1 event + 1 small record, N={n}"),
                &m,
                fsync_p50,
            );
        }
    }

    if selected("hops") {
        let s = "2d. hops (back to back)";
        let (task, thread) = runtime.block_on(transitions::hops(size(2_000, 200)));
        report.info(
            s,
            "task → task (mpsc) → oneshot back, p50 / p99",
            format!("{} / {}", dur(task.pct(50.0)), dur(task.pct(99.0))),
        );
        report.info(
            s,
            "task → thread (std mpsc) → oneshot back, p50 / p99",
            format!("{} / {}", dur(thread.pct(50.0)), dur(thread.pct(99.0))),
        );
    }

    // 3. Recovery.
    if selected("recovery") {
        for (n, running) in [
            (size(10_000, 1_000), false),
            (size(100_000, 5_000), false),
            (size(10_000, 1_000), true),
        ] {
            let r = runtime.block_on(recovery::run(base.path(), n, running));
            let what = if running { "caught mid-run" } else { "at a gate" };
            let s = format!("3. recovery, {} episodes {what}", count(n as f64));
            let headline = !running && (n == 100_000 || quick && n == 5_000);
            report.info(
                &s,
                "populate (store commits)",
                format!("{} ({}/s)", dur(r.populate), count(rate(r.n, r.populate))),
            );
            report.info(&s, "store size", format!("{:.1} MiB", r.disk as f64 / (1 << 20) as f64));
            match &r.open {
                Ok(o) => {
                    let eps = rate(o.loaded + o.waiting, o.open);
                    report.row(
                        &s,
                        "showrunner::open",
                        format!(
                            "{} ({} with work loaded, {} waiting)",
                            dur(o.open),
                            count(o.loaded as f64),
                            count(o.waiting as f64)
                        ),
                        if n == 100_000 && !running { "≤ 1 s" } else { "" },
                        if n == 100_000 && !running {
                            Verdict::of(o.open <= Duration::from_secs(1))
                        } else {
                            Verdict::Info
                        },
                    );
                    // The target is 100,000 episodes in a second; smaller stores carry the
                    // open's fixed costs and are shown for the trend.
                    if headline {
                        report.row(
                            &s,
                            "episodes/s",
                            count(eps),
                            &format!("≥ {}/s", count(RECOVERY_TARGET)),
                            Verdict::of(eps >= RECOVERY_TARGET),
                        );
                    } else {
                        report.info(&s, "episodes/s", count(eps));
                    }
                    report.info(&s, "  sled open alone (first open: log replay)", dur(o.sled_open));
                    report.info(&s, "  for comparison: load_episodes of all", dur(o.load));
                    report.info(&s, "  for comparison: Episode::restore of all", dur(o.restore));
                    let grown = o.rss_after.saturating_sub(o.rss_before);
                    report.info(
                        &s,
                        "resident memory after open (growth per episode)",
                        format!(
                            "{} MiB ({:.1} KiB)",
                            count((o.rss_after >> 10) as f64),
                            grown as f64 / n as f64
                        ),
                    );
                    report.info(
                        &s,
                        "peak resident memory",
                        format!("{} MiB", count((o.rss_peak >> 10) as f64)),
                    );
                    report.info(&s, "engine.shutdown afterwards", dur(o.shutdown));
                }
                Err(why) => {
                    report.row(
                        &s,
                        "showrunner::open",
                        format!("failed: {why} (limit {} GiB)", r.limit_kib >> 20),
                        if headline { "≤ 1 s" } else { "" },
                        Verdict::Miss,
                    );
                }
            }
        }
    }

    // 4. Fan-out.
    if selected("fanout") {
        let n = size(10_000, 1_000);
        let limit = Duration::from_secs(if quick { 120 } else { 600 });
        for cpu in [None, Some(n.min(1_024))] {
            let f = runtime.block_on(fanout::run(base.path(), n, cpu, limit));
            let s = format!("4. fan-out {} items, {} CPU slots", count(f.n as f64), f.cpu_limit);
            let opt = |d: Option<Duration>| d.map_or_else(|| "not reached".to_owned(), dur);
            report.info(&s, "create_episode returned", dur(f.created));
            report.info(&s, "list approved", opt(f.list_approved));
            report.info(&s, "fan-out batch began (engine clock)", opt(f.fanout_batch_at));
            // Scaled for a quick run: 1 s per 10,000 items.
            let target = FANOUT_TARGET.mul_f64(n as f64 / 10_000.0);
            report.row(
                &s,
                "(a) scheduled: first map run started (engine clock)",
                opt(f.first_started_at),
                &format!("≤ {}", dur(target)),
                Verdict::of(f.first_started_at.is_some_and(|d| d <= target)),
            );
            report.info(&s, "ItemsChanged received by a subscriber", opt(f.items_changed));
            report.info(&s, "n-th map NodeReady received by a subscriber", opt(f.all_ready));
            report.info(&s, "first map instance approved", opt(f.first_approved));
            report.info(
                &s,
                "(b) every map instance approved",
                format!(
                    "{} ({} of {} approved)",
                    opt(f.all_approved),
                    count(f.approved as f64),
                    count(n as f64)
                ),
            );
            if let (Some(started), Some(all)) = (f.first_started_at, f.all_approved) {
                report.info(
                    &s,
                    "map runs/s (first started → all approved)",
                    count(rate(n, all.saturating_sub(started))),
                );
            }
            report.info(&s, "EpisodeCompleted", opt(f.completed));
            report.info(&s, "events seen", count(f.events as f64));
            report.info(
                &s,
                "commits / flushes",
                format!("{} / {}", count(f.stats.commits as f64), count(f.stats.flushes as f64)),
            );
        }
    }

    // 5. The pure core and per-transition costs.
    if selected("micro") {
        let sizes: Vec<usize> = if quick { vec![1_000] } else { vec![1_000, 10_000] };
        for m in micro::run(&sizes) {
            let value = match m.bytes {
                Some(b) => format!("{} ({} bytes)", dur(m.per_op), count(b as f64)),
                None => dur(m.per_op),
            };
            report.info("5. micro (pure core, serde)", &m.name, value);
        }
    }

    // The disk is shared: its fsync latency moves with what else runs. Measured again at the end.
    if selected("fsync") {
        let s = "1b. bare fsync again (end of run)";
        let data = fsync::append_and_sync(base.path(), size(500, 100), fsync::Sync::Data);
        report.info(s, "fdatasync p50 / p99 / max", data.spread());
    }

    report.note("2a = Engine::edit on episodes at a Human gate; 2b = the same commits (header, the instance snapshot without its versions, the new version with its value, the events) built in the pure core and sent to SledStore::commit without the engine's actor; 2c = a constant-size commit (1 event + 1 fresh instance record)");
    report.note(
        "first/last 10%: every edit adds a version; a commit writes only the new one, so the two should not drift apart",
    );
    report.note("4: 'engine clock' times come from the events' own timestamps (ms): a map run starts only after the commit that queued it is durable; 'received by a subscriber' adds event delivery (a subscriber that lags the live buffer re-reads the store)");
    report.note("3: the open runs in a child process (fresh memory; address-space limit shown on failure); the store files are fsynced first; page cache warm");
    report.note("latency = one call, from the call to its durable answer; throughput = calls ÷ wall time of all tasks");
    report.note(
        "verdicts: latency judged at N=1 (engine) against the bare overwrite + fdatasync taken between its rounds of edits \
         (10 rounds of 50, same file system, same moment); throughput at N=256 (engine); recovery on the 100,000-episode store",
    );
    drop(runtime);
    let total = started.elapsed();
    println!("{}", report.render());
    println!(
        "whole run: {} ({} target(s) missed); load average at end: {}",
        dur(total),
        report.missed(),
        load_average()
    );
}
