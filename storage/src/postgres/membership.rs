//! Several engine processes on one database. Each process that runs episodes joins as a member:
//! a row in `engine_process` that it renews every fifth of its lease. A member is alive while its
//! last renewal is younger than the lease.
//!
//! One process writes an episode at a time: it claims the episode (a row in `episode_lease`,
//! whose epoch every claim sets anew from one sequence, so that no epoch is ever given twice,
//! even to an episode deleted and claimed again), which succeeds when it held it already, nobody did, or the
//! holder is no longer alive. Every commit checks, in its own transaction, that the episode's
//! lease is still this process's under the commit's epoch, and holds the row until the
//! transaction ends: a process that lost an episode (paused past its lease, cut off) never
//! commits to it again, and a claim waits for the commits in flight and follows them.
//!
//! A member that could not renew for half its lease (paused, cut off) counts its hold as
//! lapsed (see [`Store::hold_lapsed`](showrunner_engine::Store::hold_lapsed)) before any other
//! process may take one of its episodes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use showrunner_engine::{Claim, EpisodeId, HoldStats, StoreError};
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, GenericClient, NoTls, Transaction};

use super::records::parse_id;
use super::{backend, client};

/// How long a claim waits for a lease row another transaction holds (a holder's commit takes
/// milliseconds): past it, the holder is paused mid-commit, and the episode counts as moving.
const CLAIM_WAIT: Duration = Duration::from_secs(2);

/// The clause that says a process row `p` is alive, with the lease in seconds as `$LEASE`.
const ALIVE: &str = "p.renewed > now() - make_interval(secs => $LEASE)";

/// This process as a member of the database's engines.
pub(super) struct Membership {
    /// Its id: a ULID, new for every process start.
    id: String,
    /// How long it stays alive without renewing.
    lease: Duration,
    /// When the last renewal that went through was sent.
    renewed: Mutex<Instant>,
    /// Set when a renewal found this process already counted dead by the others (its last
    /// renewal older than the lease, or it was marked gone); cleared when read.
    declared_dead: AtomicBool,
    /// Set once a silence (no renewal for half the lease) was reported; cleared by the next
    /// renewal, so that each silence is reported once.
    silence_reported: AtomicBool,
    /// Set once this process gave its episodes up: it renews no more.
    left: AtomicBool,
    /// Claims that went through, and of those the takeovers.
    claims: AtomicU64,
    takeovers: AtomicU64,
    /// Commits refused by the fence.
    refused: AtomicU64,
    /// Microseconds spent in claims.
    claim_micros: AtomicU64,
}

impl Membership {
    /// Joins: records this process (alive from now), and forgets the members long dead that
    /// hold nothing.
    pub(super) async fn join(pool: &Pool, lease: Duration) -> Result<Arc<Self>, StoreError> {
        let member = Arc::new(Self {
            // A ULID, as episode ids are.
            id: EpisodeId::generate().to_string(),
            lease,
            renewed: Mutex::new(Instant::now()),
            declared_dead: AtomicBool::new(false),
            silence_reported: AtomicBool::new(false),
            left: AtomicBool::new(false),
            claims: AtomicU64::new(0),
            takeovers: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            claim_micros: AtomicU64::new(0),
        });
        let client = client(pool).await?;
        client
            .execute(
                "DELETE FROM engine_process p WHERE p.renewed < now() - interval '1 day'
                 AND NOT EXISTS (SELECT 1 FROM episode_lease l WHERE l.process = p.id)",
                &[],
            )
            .await
            .map_err(backend)?;
        member.renew(&**client).await?;
        Ok(member)
    }

    /// Renews every fifth of the lease until the store's runtime ends.
    /// Renews on a connection of its own (a busy pool never delays it), made again when it
    /// breaks.
    pub(super) fn keep(self: &Arc<Self>, config: Config) -> JoinHandle<()> {
        let member = self.clone();
        tokio::spawn(async move {
            let mut failing = false;
            let mut connection: Option<Client> = None;
            loop {
                tokio::time::sleep(member.lease / 5).await;
                if member.left.load(Ordering::SeqCst) {
                    return;
                }
                if connection.as_ref().is_none_or(Client::is_closed) {
                    connection = connect(&config).await.ok();
                }
                let renewed = match &connection {
                    Some(client) => member.renew(client).await,
                    None => Err(StoreError::Unavailable("connecting to PostgreSQL".into())),
                };
                match renewed {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!(process = %member.id, "renewing this process's lease again");
                    }
                    Ok(()) => {}
                    Err(error) if !failing => {
                        failing = true;
                        tracing::warn!(process = %member.id, %error, "could not renew this process's lease");
                    }
                    Err(_) => {}
                }
            }
        })
    }

    /// Marks this process alive now (recording it again if its row went), noting whether the
    /// others had counted it dead meanwhile.
    async fn renew(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        let sent = Instant::now();
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let sql = format!(
            "WITH before AS (SELECT p.renewed, NOT ({}) AS dead FROM engine_process p WHERE p.id = $1)
             INSERT INTO engine_process (id, pid, url, started, renewed) VALUES ($1, $2, NULL, now(), now())
             ON CONFLICT (id) DO UPDATE SET renewed = now()
             RETURNING (SELECT dead FROM before)",
            ALIVE.replace("$LEASE", "$3")
        );
        let row = client
            .query_one(&sql, &[&self.id, &pid, &self.lease_secs()])
            .await
            .map_err(backend)?;
        if row.get::<_, Option<bool>>(0) == Some(true) {
            self.declared_dead.store(true, Ordering::SeqCst);
        }
        *self.renewed.lock().unwrap_or_else(|e| e.into_inner()) = sent;
        self.silence_reported.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// Whether this process's hold lapsed since this was last asked: no renewal went through
    /// for half the lease (reported once per silence), or one found that the others had
    /// counted it dead.
    pub(super) fn lapsed(&self) -> bool {
        let silent = self.renewed.lock().unwrap_or_else(|e| e.into_inner()).elapsed() >= self.lease / 2;
        let newly_silent = silent && !self.silence_reported.swap(true, Ordering::SeqCst);
        self.declared_dead.swap(false, Ordering::SeqCst) || newly_silent
    }

    /// What this process's claims came to.
    pub(super) fn stats(&self) -> HoldStats {
        HoldStats {
            claims: self.claims.load(Ordering::Relaxed),
            takeovers: self.takeovers.load(Ordering::Relaxed),
            refused_commits: self.refused.load(Ordering::Relaxed),
            claim_seconds: self.claim_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }

    /// Counts `n` commits refused by the fence.
    pub(super) fn count_refused(&self, n: usize) {
        self.refused.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Gives every episode up and marks this process gone; it renews no more.
    pub(super) async fn leave(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        self.left.store(true, Ordering::SeqCst);
        client
            .execute("DELETE FROM episode_lease WHERE process = $1", &[&self.id])
            .await
            .map_err(backend)?;
        client
            .execute(
                "UPDATE engine_process SET renewed = '-infinity' WHERE id = $1",
                &[&self.id],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// The lease in seconds, as SQL takes it.
    fn lease_secs(&self) -> f64 {
        self.lease.as_secs_f64()
    }

    /// Records where this process's API answers. A process that advertised the same URL
    /// before is gone (this one listens there now: a restart on the same address), so its
    /// episodes are free at once instead of once its lease lapses.
    pub(super) async fn advertise(&self, client: &impl GenericClient, url: &str) -> Result<(), StoreError> {
        client
            .execute(
                "UPDATE engine_process SET renewed = '-infinity' WHERE url = $2 AND id <> $1",
                &[&self.id, &url],
            )
            .await
            .map_err(backend)?;
        client
            .execute("UPDATE engine_process SET url = $2 WHERE id = $1", &[&self.id, &url])
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Claims `episode` for this process: under a new epoch when it held it, no one did, or its
    /// holder is dead; else `Elsewhere`, naming the holder's API.
    pub(super) async fn claim(&self, client: &mut Client, episode: EpisodeId) -> Result<Claim, StoreError> {
        let began = Instant::now();
        let sql = format!(
            "WITH before AS (SELECT process FROM episode_lease WHERE episode = $1)
             INSERT INTO episode_lease AS l (episode, process, epoch) VALUES ($1, $2, nextval('lease_epoch'))
             ON CONFLICT (episode) DO UPDATE SET process = EXCLUDED.process, epoch = EXCLUDED.epoch
             WHERE l.process = EXCLUDED.process
                OR NOT EXISTS (SELECT 1 FROM engine_process p WHERE p.id = l.process AND {})
             RETURNING epoch, (SELECT process FROM before)",
            ALIVE.replace("$LEASE", "$3")
        );
        let id = episode.to_string();
        let tx = client.transaction().await.map_err(backend)?;
        // A claim renews this process too: a process the others count dead (silent past its
        // lease) must not take an episode back from its own row and then have another process
        // take it from under it, unseen, because it still looks dead. A renewal that finds it
        // counted dead reports a lapse (its other episodes may have gone).
        self.renew(&tx).await?;
        // A holder paused in the middle of a commit holds the lease row: the episode is moving.
        tx.batch_execute(&format!("SET LOCAL lock_timeout = {}", CLAIM_WAIT.as_millis()))
            .await
            .map_err(backend)?;
        let taken = match tx.query_opt(&sql, &[&id, &self.id, &self.lease_secs()]).await {
            Ok(taken) => taken,
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                return Err(StoreError::Elsewhere { episode, url: None });
            }
            Err(e) => return Err(backend(e)),
        };
        tx.commit().await.map_err(backend)?;
        if let Some(row) = taken {
            let epoch: i64 = row.get(0);
            let before: Option<String> = row.get(1);
            self.claims.fetch_add(1, Ordering::Relaxed);
            if before.is_some_and(|p| p != self.id) {
                self.takeovers.fetch_add(1, Ordering::Relaxed);
            }
            let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.claim_micros.fetch_add(micros, Ordering::Relaxed);
            return Ok(Claim(u64::try_from(epoch).unwrap_or_default()));
        }
        let url: Option<String> = client
            .query_opt(
                "SELECT p.url FROM episode_lease l JOIN engine_process p ON p.id = l.process WHERE l.episode = $1",
                &[&id],
            )
            .await
            .map_err(backend)?
            .and_then(|row| row.get(0));
        Err(StoreError::Elsewhere { episode, url })
    }

    /// The episodes of `commits` (episode, claim) that this process no longer holds under the
    /// commit's claim; the others' lease rows stay locked until `tx` ends.
    pub(super) async fn fenced(
        &self,
        tx: &Transaction<'_>,
        commits: &[(String, Claim)],
    ) -> Result<HashSet<String>, StoreError> {
        let episodes: Vec<&str> = commits.iter().map(|(e, _)| e.as_str()).collect();
        let rows = tx
            .query(
                "SELECT episode, process, epoch FROM episode_lease WHERE episode = ANY($1) ORDER BY episode FOR SHARE",
                &[&episodes],
            )
            .await
            .map_err(backend)?;
        let held: HashSet<(String, i64)> = rows
            .iter()
            .filter(|row| row.get::<_, &str>(1) == self.id)
            .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(2)))
            .collect();
        Ok(commits
            .iter()
            .filter(|(episode, claim)| {
                let epoch = i64::try_from(claim.0).unwrap_or(i64::MAX);
                !held.contains(&(episode.clone(), epoch))
            })
            .map(|(episode, _)| episode.clone())
            .collect())
    }

    /// Refuses deleting `episode` while another live process holds it; the lease goes with
    /// the episode.
    pub(super) async fn release_for_delete(&self, tx: &Transaction<'_>, episode: EpisodeId) -> Result<(), StoreError> {
        let sql = format!(
            "SELECT l.process = $2 OR NOT EXISTS (SELECT 1 FROM engine_process p WHERE p.id = l.process AND {}),
                    (SELECT url FROM engine_process WHERE id = l.process)
             FROM episode_lease l WHERE l.episode = $1 FOR UPDATE",
            ALIVE.replace("$LEASE", "$3")
        );
        let id = episode.to_string();
        if let Some(row) = tx
            .query_opt(&sql, &[&id, &self.id, &self.lease_secs()])
            .await
            .map_err(backend)?
            && !row.get::<_, bool>(0)
        {
            return Err(StoreError::Elsewhere {
                episode,
                url: row.get(1),
            });
        }
        tx.execute("DELETE FROM episode_lease WHERE episode = $1", &[&id])
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Episodes with work whose holder is dead, or that nobody holds.
    pub(super) async fn unheld_work(&self, client: &impl GenericClient) -> Result<Vec<EpisodeId>, StoreError> {
        let sql = format!(
            "SELECT w.episode FROM work w
             LEFT JOIN episode_lease l ON l.episode = w.episode
             WHERE l.episode IS NULL OR (l.process <> $1
                AND NOT EXISTS (SELECT 1 FROM engine_process p WHERE p.id = l.process AND {}))
             LIMIT 256",
            ALIVE.replace("$LEASE", "$2")
        );
        let rows = client
            .query(&sql, &[&self.id, &self.lease_secs()])
            .await
            .map_err(backend)?;
        Ok(rows.iter().filter_map(|row| parse_id(row.get(0))).collect())
    }
}

/// Every engine process the database knows of, alive or not, oldest first.
pub(super) async fn members(client: &impl GenericClient) -> Result<Vec<Member>, StoreError> {
    let rows = client
        .query(
            "SELECT p.id, p.pid, p.url, extract(epoch FROM now() - p.renewed)::float8,
                    (SELECT count(*) FROM episode_lease l WHERE l.process = p.id)
             FROM engine_process p ORDER BY p.started",
            &[],
        )
        .await
        .map_err(backend)?;
    Ok(rows
        .iter()
        .map(|row| Member {
            id: row.get(0),
            pid: row.get(1),
            url: row.get(2),
            silent_for: row.get(3),
            episodes: row.get(4),
        })
        .collect())
}

/// A process on the database, as `store status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// Its id (new for every start).
    pub id: String,
    /// Its operating-system process id.
    pub pid: Option<i32>,
    /// Where its API answers, when it serves one.
    pub url: Option<String>,
    /// Seconds since it last renewed its lease.
    pub silent_for: f64,
    /// Episodes it holds.
    pub episodes: i64,
}

/// A connection of its own, with its driver running.
async fn connect(config: &Config) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await.map_err(backend)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
