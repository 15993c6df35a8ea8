//! Several engine processes on one database. Each process that runs episodes joins as a member:
//! a row in `engine_process` that it renews every fifth of its lease. A member is alive while its
//! last renewal is younger than the lease.
//!
//! One process writes an episode at a time: it claims the episode (a row in `episode_lease`,
//! whose epoch every claim moves on), which succeeds when it held it already, nobody did, or the
//! holder is no longer alive. Every commit checks, in its own transaction, that the episode's
//! lease is still this process's under the commit's epoch, and holds the row until the
//! transaction ends: a process that lost an episode (paused past its lease, cut off) never
//! commits to it again, and a claim waits for the commits in flight and follows them.
//!
//! A member that could not renew for half its lease (paused, cut off) counts its hold as
//! lapsed (see [`Store::hold_lapsed`](showrunner_engine::Store::hold_lapsed)) before any other
//! process may take one of its episodes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use showrunner_engine::{Claim, EpisodeId, StoreError};
use tokio::task::JoinHandle;
use tokio_postgres::{GenericClient, Transaction};

use super::records::parse_id;
use super::{backend, client};

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
    pub(super) fn keep(self: &Arc<Self>, pool: Pool) -> JoinHandle<()> {
        let member = self.clone();
        tokio::spawn(async move {
            let mut failing = false;
            loop {
                tokio::time::sleep(member.lease / 5).await;
                let renewed = match client(&pool).await {
                    Ok(client) => member.renew(&**client).await,
                    Err(e) => Err(e),
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

    /// Marks this process alive now (recording it again if its row went).
    async fn renew(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        let sent = Instant::now();
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        client
            .execute(
                "INSERT INTO engine_process (id, pid, url, started, renewed) VALUES ($1, $2, NULL, now(), now())
                 ON CONFLICT (id) DO UPDATE SET renewed = now()",
                &[&self.id, &pid],
            )
            .await
            .map_err(backend)?;
        *self.renewed.lock().unwrap_or_else(|e| e.into_inner()) = sent;
        Ok(())
    }

    /// Whether this process's hold lapsed: no renewal went through for half the lease.
    pub(super) fn lapsed(&self) -> bool {
        self.renewed.lock().unwrap_or_else(|e| e.into_inner()).elapsed() >= self.lease / 2
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
    pub(super) async fn claim(&self, client: &impl GenericClient, episode: EpisodeId) -> Result<Claim, StoreError> {
        let sql = format!(
            "INSERT INTO episode_lease AS l (episode, process, epoch) VALUES ($1, $2, 1)
             ON CONFLICT (episode) DO UPDATE SET process = EXCLUDED.process, epoch = l.epoch + 1
             WHERE l.process = EXCLUDED.process
                OR NOT EXISTS (SELECT 1 FROM engine_process p WHERE p.id = l.process AND {})
             RETURNING epoch",
            ALIVE.replace("$LEASE", "$3")
        );
        let id = episode.to_string();
        let taken = client
            .query_opt(&sql, &[&id, &self.id, &self.lease_secs()])
            .await
            .map_err(backend)?;
        if let Some(row) = taken {
            let epoch: i64 = row.get(0);
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
