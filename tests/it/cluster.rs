//! The crash torture on a cluster: three `showrunner serve --no-work` processes and two
//! `showrunner worker` processes on one PostgreSQL database (started by the test) and one blob
//! directory, every request sent to the next server in turn (so actions land on processes that
//! do not hold their episode and are passed on), while a killer SIGKILLs a random process (one
//! round in ten, two at once; one in ten restarts PostgreSQL instead) and starts it again. The
//! checks are the single server's (see the `torture` module): every acknowledged action holds,
//! versions and event logs have no gap, no 5xx other than `503 episode_moving` (retried with the
//! same `Idempotency-Key`, as clients are told to), and every episode completes with its video;
//! and from the workers' logs, no attempt of a run was ever performed by two workers at once.
//!
//! `SHOWRUNNER_CLUSTER_KILLS` (100 by default) and `SHOWRUNNER_TORTURE_EPISODES` (5) size it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use showrunner::engine::now_ms;
use showrunner::storage::PgCluster;

use crate::served::Served;
use crate::torture::{Rng, Servers, knob, torture, within};

/// The processes' lease, in seconds: short, so that a killed process's work moves on quickly.
const LEASE_S: &str = "1";

/// A `showrunner worker`, its stdout (one line per run) in a file of its own.
struct CliWorker {
    child: Child,
    log: PathBuf,
}

impl CliWorker {
    fn start(data: &Path, url: &str, log: PathBuf, stderr: &Path) -> Self {
        let out = std::fs::File::create(&log).expect("a worker log");
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(stderr)
            .expect("the log");
        let child = Command::new(env!("CARGO_BIN_EXE_showrunner"))
            .args(["--store", url, "--lease", LEASE_S, "--data"])
            .arg(data)
            .args(["worker", "--slots", "cpu=2,gpu=1"])
            .stdout(out)
            .stderr(stderr)
            .spawn()
            .expect("start a worker");
        Self { child, log }
    }
}

impl Drop for CliWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three servers and two workers on one database.
struct Cluster {
    postgres: PgCluster,
    url: String,
    data: PathBuf,
    log: PathBuf,
    servers: Vec<Served>,
    workers: Vec<CliWorker>,
    /// Workers started so far (each logs to a file of its own).
    started: usize,
    /// When each killed worker's log stopped: the runs it had not ended stopped then.
    killed: Arc<Mutex<HashMap<PathBuf, u64>>>,
}

impl Cluster {
    async fn server(&self) -> Served {
        Served::launch_with(
            &self.data,
            &self.url,
            Some(&self.log),
            &["--lease", LEASE_S, "--no-work"],
        )
        .await
    }

    fn worker(&mut self) -> CliWorker {
        self.started += 1;
        let log = self.log.with_file_name(format!("worker-{}.log", self.started));
        CliWorker::start(&self.data, &self.url, log, &self.log)
    }

    /// SIGKILLs process `n` (a server below 3, else a worker) and starts it again.
    async fn restart(&mut self, n: usize) {
        match n {
            0..3 => {
                self.servers[n].kill();
                self.servers[n] = self.server().await;
            }
            _ => {
                let w = n - 3;
                let _ = self.workers[w].child.kill();
                let at = now_ms();
                let _ = self.workers[w].child.wait();
                let log = self.workers[w].log.clone();
                self.killed.lock().expect("kills").insert(log, at);
                self.workers[w] = self.worker();
            }
        }
    }
}

impl Servers for Cluster {
    fn bases(&self) -> Vec<String> {
        self.servers
            .iter()
            .map(|s| s.url("").trim_end_matches('/').to_owned())
            .collect()
    }

    async fn kill(&mut self, rng: &mut Rng) -> String {
        let n = (self.servers.len() + self.workers.len()) as u64;
        let name = |i: usize| match i {
            0..3 => format!("server {i}"),
            _ => format!("worker {}", i - 3),
        };
        match rng.below(10) {
            0 => {
                tokio::task::block_in_place(|| self.postgres.restart()).expect("restart PostgreSQL");
                "PostgreSQL restarted".into()
            }
            1 => {
                let first = rng.below(n) as usize;
                let second = (first + 1 + rng.below(n - 1) as usize) % n as usize;
                self.restart(first).await;
                self.restart(second).await;
                format!("{} and {}", name(first), name(second))
            }
            _ => {
                let victim = rng.below(n) as usize;
                self.restart(victim).await;
                name(victim)
            }
        }
    }
}

/// One run of a worker: from its start to its end (or the worker's death).
#[derive(Debug)]
struct Performed {
    log: PathBuf,
    delivery: u32,
    from: u64,
    to: u64,
}

/// Reads the workers' logs in `dir` and checks that no attempt of a run was performed by two
/// workers at once; gives how many runs they performed.
fn check_no_attempt_ran_twice_at_once(dir: &Path, killed: &HashMap<PathBuf, u64>) -> usize {
    let mut runs: HashMap<(String, String, String), Vec<Performed>> = HashMap::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the test directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("worker-"))
        })
        .collect();
    entries.sort();
    let mut performed = 0;
    for log in entries {
        let text = std::fs::read_to_string(&log).expect("a worker log");
        let end_of_log = killed.get(&log).copied().unwrap_or(u64::MAX);
        let mut open: HashMap<(String, String, String, u32), u64> = HashMap::new();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let field = |name: &str| {
                f.iter()
                    .find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
                    .unwrap_or_default()
                    .to_owned()
            };
            if f.len() < 4 || f[0] != "run" {
                continue;
            }
            let run = (f[2].to_owned(), f[3].to_owned(), field("attempt"));
            let delivery: u32 = field("delivery").parse().expect("a delivery");
            let at: u64 = field("at").parse().expect("a time");
            match f[1] {
                "started" => {
                    open.insert((run.0, run.1, run.2, delivery), at);
                }
                _ => {
                    let from = open
                        .remove(&(run.0.clone(), run.1.clone(), run.2.clone(), delivery))
                        .unwrap_or_else(|| panic!("{}: an end with no start: {line}", log.display()));
                    performed += 1;
                    runs.entry(run).or_default().push(Performed {
                        log: log.clone(),
                        delivery,
                        from,
                        to: at,
                    });
                }
            }
        }
        for ((episode, key, attempt, delivery), from) in open {
            runs.entry((episode, key, attempt)).or_default().push(Performed {
                log: log.clone(),
                delivery,
                from,
                to: end_of_log,
            });
        }
    }
    for (run, mut spans) in runs {
        spans.sort_by_key(|s| (s.from, s.delivery));
        for pair in spans.windows(2) {
            assert!(
                pair[1].from >= pair[0].to && pair[1].delivery > pair[0].delivery,
                "{run:?} ran on two workers at once ({} and {}): {pair:?}",
                pair[0].log.display(),
                pair[1].log.display()
            );
        }
    }
    performed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_and_two_workers_on_one_database_survive_random_sigkills_and_postgres_restarts_losing_nothing() {
    let episodes = knob("SHOWRUNNER_TORTURE_EPISODES", 5) as usize;
    let kills = knob("SHOWRUNNER_CLUSTER_KILLS", 100) as usize;
    let budget = Duration::from_secs(knob("SHOWRUNNER_TORTURE_BUDGET_S", 600));
    let postgres = PgCluster::start().expect("a PostgreSQL server");
    let url = postgres.create_database("cluster").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let killed = Arc::new(Mutex::new(HashMap::new()));
    let mut cluster = Cluster {
        postgres,
        url,
        data,
        log: log.clone(),
        servers: Vec::new(),
        workers: Vec::new(),
        started: 0,
        killed: killed.clone(),
    };
    for _ in 0..3 {
        let server = cluster.server().await;
        cluster.servers.push(server);
    }
    for _ in 0..2 {
        let worker = cluster.worker();
        cluster.workers.push(worker);
    }
    within(budget, &log, torture(cluster, episodes, kills)).await;
    let killed = killed.lock().expect("kills").clone();
    let performed = check_no_attempt_ran_twice_at_once(dir.path(), &killed);
    assert!(performed > 0, "the workers performed no run");
    eprintln!("workers: {performed} runs performed, none of an attempt on two workers at once");
}
