//! The crash torture on a cluster: three `showrunner serve` processes on one PostgreSQL database
//! (started by the test) and one blob directory, every request sent to the next server in turn
//! (so actions land on processes that do not hold their episode and are passed on), while a
//! killer SIGKILLs a random server (one round in five, two at once; one in ten restarts
//! PostgreSQL instead) and starts it again. The checks are the single server's (see the
//! `torture` module): every acknowledged action holds, versions and event logs have no gap, no
//! 5xx other than `503 episode_moving` (retried with the same `Idempotency-Key`, as clients
//! are told to), and every episode completes with its video.
//!
//! `SHOWRUNNER_CLUSTER_KILLS` (100 by default) and `SHOWRUNNER_TORTURE_EPISODES` (5) size it.

use std::path::PathBuf;
use std::time::Duration;

use showrunner::storage::PgCluster;

use crate::served::Served;
use crate::torture::{Rng, Servers, knob, torture, within};

/// The servers' lease, in seconds: short, so that a killed server's episodes move on quickly.
const LEASE_S: &str = "1";

/// Three servers on one database.
struct Cluster {
    postgres: PgCluster,
    url: String,
    data: PathBuf,
    log: PathBuf,
    servers: Vec<Served>,
}

impl Cluster {
    async fn server(&self) -> Served {
        Served::member_on(&self.data, &self.url, Some(&self.log), LEASE_S).await
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
        let n = self.servers.len() as u64;
        match rng.below(10) {
            0 => {
                tokio::task::block_in_place(|| self.postgres.restart()).expect("restart PostgreSQL");
                "PostgreSQL restarted".into()
            }
            1 | 2 => {
                let first = rng.below(n) as usize;
                let second = (first + 1 + rng.below(n - 1) as usize) % n as usize;
                self.servers[first].kill();
                self.servers[second].kill();
                self.servers[first] = self.server().await;
                self.servers[second] = self.server().await;
                format!("servers {first} and {second}")
            }
            _ => {
                let victim = rng.below(n) as usize;
                self.servers[victim].kill();
                self.servers[victim] = self.server().await;
                format!("server {victim}")
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_on_one_database_survive_random_sigkills_and_postgres_restarts_losing_nothing() {
    let episodes = knob("SHOWRUNNER_TORTURE_EPISODES", 5) as usize;
    let kills = knob("SHOWRUNNER_CLUSTER_KILLS", 100) as usize;
    let budget = Duration::from_secs(knob("SHOWRUNNER_TORTURE_BUDGET_S", 600));
    let postgres = PgCluster::start().expect("a PostgreSQL server");
    let url = postgres.create_database("cluster").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let mut cluster = Cluster {
        postgres,
        url,
        data,
        log: log.clone(),
        servers: Vec::new(),
    };
    for _ in 0..3 {
        let server = cluster.server().await;
        cluster.servers.push(server);
    }
    within(budget, &log, torture(cluster, episodes, kills)).await;
}
