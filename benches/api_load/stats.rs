//! Knobs from the environment, latency samples and their percentiles, and the machine's load
//! while the bench runs.

use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) fn quick() -> bool {
    std::env::var("SHOWRUNNER_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A number from the environment, else the full or quick default.
pub(crate) fn knob(name: &str, full: usize, quick_size: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(if quick() { quick_size } else { full })
}

pub(crate) fn selected(name: &str) -> bool {
    match std::env::var("SHOWRUNNER_BENCH_ONLY") {
        Ok(only) if !only.trim().is_empty() => only.split(',').any(|s| s.trim() == name),
        _ => true,
    }
}

/// Latency samples in nanoseconds, sorted.
pub(crate) struct Samples(Vec<u64>);

impl Samples {
    pub(crate) fn new(mut nanos: Vec<u64>) -> Self {
        nanos.sort_unstable();
        Self(nanos)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `p`-th percentile (nearest rank).
    pub(crate) fn pct(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let n = self.0.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        Duration::from_nanos(self.0[rank.clamp(1, n) - 1])
    }

    pub(crate) fn max(&self) -> Duration {
        Duration::from_nanos(self.0.last().copied().unwrap_or(0))
    }

    /// `p50 / p99 / max` in one cell.
    pub(crate) fn summary(&self) -> String {
        format!("{} / {} / {}", ms(self.pct(50.0)), ms(self.pct(99.0)), ms(self.max()))
    }
}

pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn count(x: f64) -> String {
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

pub(crate) fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

/// The soft limit on open files, from `/proc/self/limits`.
pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

/// CPU seconds used so far by this process's threads, by thread name (`server` and `client` are
/// the two runtimes' threads, blocking pools included; `observer` is the SSE reference). Counts
/// of threads that have exited are lost, so the sums are slightly low.
pub(crate) fn cpu_by_thread() -> BTreeMap<String, f64> {
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
pub(crate) fn cpu_used(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    wall: Duration,
    cores: usize,
) -> String {
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
