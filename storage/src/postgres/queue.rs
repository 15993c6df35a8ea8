//! [`PgRunQueue`]: the engine's [`RunQueue`] in the `run_queue` table, which every process on
//! the database shares.
//!
//! A run row is `ready`, then `taken` by a worker under a lease (`lease_until`) and a delivery
//! number, then `reported` with its result, until the holder of its episode acknowledges it
//! (deletes it). Workers take rows with `FOR UPDATE SKIP LOCKED`, so two never take the same
//! one; a `taken` row whose lease lapsed is taken again under the next delivery, and from then
//! on the old delivery's renewals and report are refused. A report of a delivery whose lease
//! lapsed but that nobody took again is accepted: the run was not redone anywhere.
//!
//! Fairness: rows are taken from the episodes served least lately first (`run_turn` keeps when
//! each episode last had a run taken), and an episode never has more than a cap of runs taken
//! at once (checked when a row is taken; two workers taking at the same instant may each pass
//! it once). Pushes and reports notify (`showrunner_runs`, `showrunner_results`); the store's
//! listener wakes the waiters (see the `listener` module), who poll as well, since
//! notifications are best effort.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use showrunner_engine::queue::{
    ListedWorker, QueueDepth, QueuedRun, ReportedRun, RunProgress, RunQueue, RunResult, Takeable, TakenRun, WorkerCard,
};
use showrunner_engine::{BlobRef, ContentHash, EpisodeId, InstanceKey, NodeError, Resource, StoreError};
use tokio::sync::Notify;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::records::{decode, encode, instance_text, parse_id};
use super::{PgStore, backend};

/// The run queue of a PostgreSQL store (see the module's documentation).
pub struct PgRunQueue {
    store: Arc<PgStore>,
    runs: Arc<Notify>,
    results: Arc<Notify>,
}

impl PgRunQueue {
    /// The queue in `store`'s database, woken by the store's notifications.
    pub fn new(store: Arc<PgStore>) -> Self {
        let listener = store.listener();
        let (runs, results) = (listener.runs.clone(), listener.results.clone());
        Self { store, runs, results }
    }
}

fn resource_name(resource: Resource) -> &'static str {
    match resource {
        Resource::Cpu => "cpu",
        Resource::Gpu => "gpu",
    }
}

fn resource_of(name: &str) -> Option<Resource> {
    [Resource::Cpu, Resource::Gpu]
        .into_iter()
        .find(|r| resource_name(*r) == name)
}

/// The run a row's first three columns name (episode, key, attempt); `None` when they do not
/// read.
fn run_of(row: &Row) -> Option<(EpisodeId, InstanceKey, u32)> {
    let attempt: i32 = row.get(2);
    Some((
        parse_id(row.get(0))?,
        serde_json::from_str(row.get(1)).ok()?,
        u32::try_from(attempt).ok()?,
    ))
}

/// A definition as the `definition` column names it.
fn definition_text(workflow: &str, version: &str) -> String {
    format!("{workflow}@{version}")
}

fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The fence of a taken run: its instance, attempt, delivery and worker, as `$1`..`$5`.
const FENCE: &str = "episode = $1 AND key = $2 AND attempt = $3 AND delivery = $4 AND worker = $5 AND state = 'taken'";

#[async_trait]
impl RunQueue for PgRunQueue {
    async fn push(&self, run: &QueuedRun) -> Result<(), StoreError> {
        let episode = run.episode.to_string();
        let key = instance_text(&run.run.key)?;
        let attempt = int(run.run.attempt);
        let definition = definition_text(&run.workflow, &run.definition_version);
        let resource = resource_name(run.resource);
        let tags = run.tags.clone();
        let record = encode(run)?;
        self.store
            .write(move |client| async move {
                client
                    .execute(
                        "WITH pushed AS (
                             INSERT INTO run_queue (episode, key, attempt, definition, resource, tags, run, state)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, 'ready')
                             ON CONFLICT (episode, key) DO UPDATE SET attempt = excluded.attempt,
                                 definition = excluded.definition, resource = excluded.resource,
                                 tags = excluded.tags, run = excluded.run, state = 'ready', delivery = 0,
                                 worker = NULL, lease_until = NULL, result = NULL, queued_at = now()
                             WHERE run_queue.attempt < excluded.attempt
                             RETURNING resource)
                         SELECT pg_notify('showrunner_runs', resource) FROM pushed",
                        &[&episode, &key, &attempt, &definition, &resource, &tags, &record],
                    )
                    .await
                    .map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn withdraw(&self, episode: EpisodeId, key: &InstanceKey, attempt: u32) -> Result<(), StoreError> {
        self.delete("attempt <= $3", episode, key, attempt).await
    }

    async fn take(
        &self,
        worker: &str,
        can: &Takeable,
        lease: Duration,
        per_episode: u32,
    ) -> Result<Option<TakenRun>, StoreError> {
        let resources: Vec<&'static str> = can.resources.iter().map(|r| resource_name(*r)).collect();
        let tags = can.tags.clone();
        let definitions: Vec<String> = can.definitions.iter().map(|(w, v)| definition_text(w, v)).collect();
        let cap = i64::from(per_episode.max(1));
        let worker = worker.to_owned();
        let lease = lease.as_secs_f64();
        let row = self
            .store
            .write(move |client| async move {
                client
                    .query_opt(
                        "WITH next AS (
                             SELECT q.episode, q.key FROM run_queue q
                             LEFT JOIN run_turn t ON t.episode = q.episode
                             WHERE (q.state = 'ready' OR (q.state = 'taken' AND q.lease_until < now()))
                               AND q.resource = ANY($1) AND q.tags <@ $2 AND q.definition = ANY($3)
                               AND (SELECT count(*) FROM run_queue b WHERE b.episode = q.episode
                                    AND b.state = 'taken' AND b.lease_until >= now()) < $4
                             ORDER BY t.taken_at NULLS FIRST, q.queued_at
                             LIMIT 1
                             FOR UPDATE OF q SKIP LOCKED),
                         taken AS (
                             UPDATE run_queue q SET state = 'taken', delivery = q.delivery + 1, worker = $5,
                                 lease_until = now() + make_interval(secs => $6)
                             FROM next WHERE q.episode = next.episode AND q.key = next.key
                             RETURNING q.episode, q.run, q.delivery, q.key),
                         turn AS (
                             INSERT INTO run_turn (episode, taken_at) SELECT episode, clock_timestamp() FROM taken
                             ON CONFLICT (episode) DO UPDATE SET taken_at = excluded.taken_at)
                         SELECT episode, run, delivery, key FROM taken",
                        &[&resources, &tags, &definitions, &cap, &worker, &lease],
                    )
                    .await
                    .map_err(backend)
            })
            .await?;
        let Some(row) = row else { return Ok(None) };
        let (text, key): (String, String) = (row.get(0), row.get(3));
        let delivery: i32 = row.get(2);
        match decode::<QueuedRun>(row.get(1), parse_id(&text), "a queued run") {
            Ok(queued) => Ok(Some(TakenRun {
                queued,
                delivery: u32::try_from(delivery).unwrap_or(0),
            })),
            Err(error) => {
                // A run this build cannot read (written by another version): it fails, for the
                // holder to show, rather than be taken again every lease.
                tracing::error!(episode = text, key, %error, "a queued run does not decode; it fails");
                let failed = encode(&RunResult::Err(NodeError::Permanent(error.to_string())))?;
                self.store
                    .write(move |client| async move {
                        client
                            .execute(
                                "WITH reported AS (
                                     UPDATE run_queue SET state = 'reported', result = $4, lease_until = NULL
                                     WHERE episode = $1 AND key = $2 AND delivery = $3 RETURNING episode)
                                 SELECT pg_notify('showrunner_results', episode) FROM reported",
                                &[&text, &key, &delivery, &failed],
                            )
                            .await
                            .map_err(backend)
                    })
                    .await?;
                Ok(None)
            }
        }
    }

    async fn renew(&self, worker: &str, run: &TakenRun, lease: Duration) -> Result<bool, StoreError> {
        let sql = format!("UPDATE run_queue SET lease_until = now() + make_interval(secs => $6) WHERE {FENCE}");
        self.fenced(sql, Fence::of(worker, run)?, vec![Box::new(lease.as_secs_f64())])
            .await
    }

    async fn release(&self, worker: &str, run: &TakenRun) -> Result<bool, StoreError> {
        let sql = format!(
            "WITH released AS (
                 UPDATE run_queue SET state = 'ready', worker = NULL, lease_until = NULL
                 WHERE {FENCE} RETURNING resource)
             SELECT pg_notify('showrunner_runs', resource) FROM released"
        );
        self.fenced(sql, Fence::of(worker, run)?, Vec::new()).await
    }

    async fn report(&self, worker: &str, run: &TakenRun, result: &RunResult) -> Result<bool, StoreError> {
        let sql = format!(
            "WITH reported AS (
                 UPDATE run_queue SET state = 'reported', result = $6, lease_until = NULL
                 WHERE {FENCE} RETURNING episode)
             SELECT pg_notify('showrunner_results', episode) FROM reported"
        );
        self.fenced(sql, Fence::of(worker, run)?, vec![Box::new(encode(result)?)])
            .await
    }

    async fn progress(&self, worker: &str, run: &TakenRun, fraction: f32, message: &str) -> Result<bool, StoreError> {
        let sql = format!(
            "WITH reported AS (
                 UPDATE run_queue SET progress = $6, progress_message = $7, progress_seq = progress_seq + 1
                 WHERE {FENCE} RETURNING episode)
             SELECT pg_notify('showrunner_results', episode) FROM reported"
        );
        let extra: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(fraction), Box::new(message.to_owned())];
        self.fenced(sql, Fence::of(worker, run)?, extra).await
    }

    async fn progressing(&self, episodes: &[EpisodeId]) -> Result<Vec<RunProgress>, StoreError> {
        let rows = self
            .of_episodes(
                "SELECT episode, key, attempt, progress_seq, progress, progress_message FROM run_queue
                 WHERE state = 'taken' AND progress_seq > 0 AND episode = ANY($1)",
                episodes,
            )
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let (episode, key, attempt) = run_of(row)?;
                let seq: i32 = row.get(3);
                let fraction: Option<f32> = row.get(4);
                let message: Option<String> = row.get(5);
                Some(RunProgress {
                    episode,
                    key,
                    attempt,
                    seq: u32::try_from(seq).ok()?,
                    fraction: fraction.unwrap_or(0.0),
                    message: message.unwrap_or_default(),
                })
            })
            .collect())
    }

    async fn in_flight(&self, episodes: &[EpisodeId]) -> Result<Vec<(EpisodeId, InstanceKey, u32)>, StoreError> {
        let rows = self
            .of_episodes(
                "SELECT episode, key, attempt FROM run_queue WHERE episode = ANY($1)",
                episodes,
            )
            .await?;
        Ok(rows.iter().filter_map(run_of).collect())
    }

    async fn reported(&self, episodes: &[EpisodeId]) -> Result<Vec<ReportedRun>, StoreError> {
        let rows = self
            .of_episodes(
                "SELECT episode, key, attempt, result FROM run_queue WHERE state = 'reported' AND episode = ANY($1)",
                episodes,
            )
            .await?;
        // A row that does not decode fails its run, not every other one.
        let mut reported = Vec::with_capacity(rows.len());
        for row in &rows {
            let text: &str = row.get(0);
            let key: &str = row.get(1);
            let (Some(episode), Ok(key)) = (parse_id(text), serde_json::from_str::<InstanceKey>(key)) else {
                tracing::error!(
                    episode = text,
                    key,
                    "a reported run names no instance; it is left in the queue"
                );
                continue;
            };
            let attempt: i32 = row.get(2);
            let result: Option<&[u8]> = row.get(3);
            let result = decode::<RunResult>(result.unwrap_or_default(), Some(episode), "a reported result")
                .unwrap_or_else(|e| Err(NodeError::Permanent(e.to_string())));
            reported.push(ReportedRun {
                episode,
                key,
                attempt: u32::try_from(attempt).unwrap_or(0),
                result,
            });
        }
        Ok(reported)
    }

    async fn acknowledge(&self, episode: EpisodeId, key: &InstanceKey, attempt: u32) -> Result<(), StoreError> {
        self.delete("attempt = $3 AND state = 'reported'", episode, key, attempt)
            .await
    }

    async fn wait_for_runs(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.runs.notified()).await;
    }

    async fn wait_for_results(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.results.notified()).await;
    }

    async fn announce(&self, worker: &WorkerCard) -> Result<(), StoreError> {
        let id = worker.id.clone();
        let pid = i32::try_from(worker.pid).unwrap_or(i32::MAX);
        let tags = worker.tags.clone();
        let resources: Vec<&'static str> = worker
            .slots
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(r, _)| resource_name(*r))
            .collect();
        let slots = worker
            .slots
            .iter()
            .map(|(r, n)| format!("{}={n}", resource_name(*r)))
            .collect::<Vec<_>>()
            .join(",");
        let definitions: Vec<String> = worker.definitions.iter().map(|(w, v)| definition_text(w, v)).collect();
        let lease = i64::try_from(worker.lease.as_millis()).unwrap_or(i64::MAX);
        self.store
            .write(move |client| async move {
                client
                    .execute(
                        "INSERT INTO worker_process (id, pid, tags, resources, slots, definitions, lease_ms, seen_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, now())
                         ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                        &[&id, &pid, &tags, &resources, &slots, &definitions, &lease],
                    )
                    .await
                    .map_err(backend)?;
                client
                    .execute(
                        "DELETE FROM worker_process WHERE seen_at < now() - interval '1 day'",
                        &[],
                    )
                    .await
                    .map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn retire(&self, worker: &str) -> Result<(), StoreError> {
        let id = worker.to_owned();
        self.store
            .write(move |client| async move {
                client
                    .execute("DELETE FROM worker_process WHERE id = $1", &[&id])
                    .await
                    .map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn workers(&self) -> Result<Vec<ListedWorker>, StoreError> {
        let rows = self
            .store
            .write(move |client| async move {
                client
                    .query(
                        "SELECT id, pid, tags, slots, definitions, extract(epoch FROM now() - seen_at)::float8,
                             lease_ms
                         FROM worker_process ORDER BY id",
                        &[],
                    )
                    .await
                    .map_err(backend)
            })
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let slots: String = row.get(3);
                let definitions: Vec<String> = row.get(4);
                let silent: f64 = row.get(5);
                let lease: i64 = row.get(6);
                ListedWorker {
                    card: WorkerCard {
                        id: row.get(0),
                        pid: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
                        tags: row.get(2),
                        slots: slots
                            .split(',')
                            .filter_map(|s| {
                                let (r, n) = s.split_once('=')?;
                                Some((resource_of(r)?, n.parse().ok()?))
                            })
                            .collect(),
                        definitions: definitions
                            .iter()
                            .filter_map(|d| d.rsplit_once('@'))
                            .map(|(w, v)| (w.to_owned(), v.to_owned()))
                            .collect(),
                        lease: Duration::from_millis(u64::try_from(lease).unwrap_or(0)),
                    },
                    silent_for: Duration::from_secs_f64(silent.max(0.0)),
                }
            })
            .collect())
    }

    async fn untakeable(&self) -> Result<u64, StoreError> {
        let row = self
            .store
            .write(move |client| async move {
                client
                    .query_one(
                        "SELECT count(*) FROM run_queue q
                         WHERE (q.state = 'ready' OR (q.state = 'taken' AND q.lease_until < now()))
                           AND NOT EXISTS (SELECT 1 FROM worker_process w
                               WHERE w.seen_at > now() - w.lease_ms * interval '1 millisecond'
                                 AND q.resource = ANY(w.resources) AND q.tags <@ w.tags
                                 AND q.definition = ANY(w.definitions))",
                        &[],
                    )
                    .await
                    .map_err(backend)
            })
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    async fn depth(&self) -> Result<QueueDepth, StoreError> {
        self.store
            .write(move |client| async move {
                let mut depth = QueueDepth::default();
                for row in client
                    .query(
                        "SELECT resource,
                             count(*) FILTER (WHERE state = 'ready' OR (state = 'taken' AND lease_until < now())),
                             count(*) FILTER (WHERE state = 'taken' AND lease_until >= now()),
                             count(*) FILTER (WHERE state = 'reported')
                         FROM run_queue GROUP BY resource ORDER BY resource",
                        &[],
                    )
                    .await
                    .map_err(backend)?
                {
                    let Some(resource) = resource_of(row.get(0)) else { continue };
                    let count = |n: usize| u64::try_from(row.get::<_, i64>(n)).unwrap_or(0);
                    depth.by_resource.push((resource, count(1), count(2), count(3)));
                }
                for row in client
                    .query(
                        "SELECT array_to_string(tags, ','), count(*) FROM run_queue
                         WHERE state = 'ready' OR (state = 'taken' AND lease_until < now())
                         GROUP BY 1 ORDER BY 1",
                        &[],
                    )
                    .await
                    .map_err(backend)?
                {
                    depth
                        .ready_by_tags
                        .push((row.get(0), u64::try_from(row.get::<_, i64>(1)).unwrap_or(0)));
                }
                let oldest: Option<f64> = client
                    .query_one(
                        "SELECT extract(epoch FROM now() - min(queued_at))::float8 FROM run_queue WHERE state = 'ready'",
                        &[],
                    )
                    .await
                    .map_err(backend)?
                    .get(0);
                depth.oldest_ready = oldest.map(|s| Duration::from_secs_f64(s.max(0.0)));
                Ok(depth)
            })
            .await
    }
}

impl PgRunQueue {
    /// The rows `sql` selects with the ids of `episodes` as `$1`.
    async fn of_episodes(&self, sql: &'static str, episodes: &[EpisodeId]) -> Result<Vec<Row>, StoreError> {
        let ids: Vec<String> = episodes.iter().map(ToString::to_string).collect();
        self.store
            .write(move |client| async move { client.query(sql, &[&ids]).await.map_err(backend) })
            .await
    }

    /// Deletes the instance's run where `condition` (on `$3`, the attempt) holds.
    async fn delete(
        &self,
        condition: &'static str,
        episode: EpisodeId,
        key: &InstanceKey,
        attempt: u32,
    ) -> Result<(), StoreError> {
        let (episode, key, attempt) = (episode.to_string(), instance_text(key)?, int(attempt));
        self.store
            .write(move |client| async move {
                let sql = format!("DELETE FROM run_queue WHERE episode = $1 AND key = $2 AND {condition}");
                client
                    .execute(&sql, &[&episode, &key, &attempt])
                    .await
                    .map_err(backend)?;
                Ok(())
            })
            .await
    }

    /// Runs `sql` with the fence as `$1`..`$5` and `extra` from `$6` on; says whether it
    /// changed the run (false: the run is no longer this worker's under this delivery).
    async fn fenced(
        &self,
        sql: String,
        fence: Fence,
        extra: Vec<Box<dyn ToSql + Sync + Send>>,
    ) -> Result<bool, StoreError> {
        self.store
            .write(move |client| async move {
                let mut params: Vec<&(dyn ToSql + Sync)> = vec![
                    &fence.episode,
                    &fence.key,
                    &fence.attempt,
                    &fence.delivery,
                    &fence.worker,
                ];
                params.extend(extra.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
                let n = client.execute(&sql, &params).await.map_err(backend)?;
                Ok(n == 1)
            })
            .await
    }
}

/// A taken run's fence as query parameters.
struct Fence {
    episode: String,
    key: String,
    attempt: i32,
    delivery: i32,
    worker: String,
}

impl Fence {
    fn of(worker: &str, run: &TakenRun) -> Result<Self, StoreError> {
        Ok(Self {
            episode: run.queued.episode.to_string(),
            key: instance_text(&run.queued.run.key)?,
            attempt: int(run.queued.run.attempt),
            delivery: int(run.delivery),
            worker: worker.to_owned(),
        })
    }
}

/// The blobs the reported results in the queue name, and the age of its oldest run not yet
/// reported (see
/// [`Store::queued_blobs`](showrunner_engine::Store::queued_blobs)).
pub(super) async fn queued_blobs(
    client: &impl GenericClient,
) -> Result<(Vec<ContentHash>, Option<Duration>), StoreError> {
    let mut blobs = Vec::new();
    for row in client
        .query("SELECT result FROM run_queue WHERE state = 'reported'", &[])
        .await
        .map_err(backend)?
    {
        let result: Option<&[u8]> = row.get(0);
        // A result that does not decode is read as JSON as it is: its blobs are kept all the same.
        let value: serde_json::Value = serde_json::from_slice(result.unwrap_or_default()).unwrap_or_default();
        blobs.extend(BlobRef::find_all(&value));
    }
    let oldest: Option<f64> = client
        .query_one(
            "SELECT extract(epoch FROM now() - min(queued_at))::float8 FROM run_queue WHERE state <> 'reported'",
            &[],
        )
        .await
        .map_err(backend)?
        .get(0);
    Ok((blobs, oldest.map(|s| Duration::from_secs_f64(s.max(0.0)))))
}
