//! [`PgStore`]: the engine's [`Store`] on PostgreSQL, for stores that several processes share.
//!
//! A commit is answered once PostgreSQL has it durable (`synchronous_commit = on`, set on every
//! connection). The commits of different episodes that wait at one moment are written as one
//! transaction, one statement per table (see the `writer` and `batch` modules), so they share
//! round trips and one WAL flush; a few such groups are in flight at once. A load reads one episode in a single repeatable-read transaction, so it sees a commit
//! whole or not at all. The schema is migrated when the store opens (see the `schema` module).

mod batch;
mod bridge;
mod catalog;
#[cfg(any(test, feature = "test-cluster"))]
pub mod cluster;
mod errors;
mod listener;
mod membership;
mod notifier;
mod queue;
mod records;
mod schema;
#[cfg(test)]
mod tests;
mod urls;
mod writer;

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use serde_json::Value;
use showrunner_engine::{
    Claim, Commit, ContentHash, DefinitionUse, EpisodeId, EpisodeRecord, EpisodeSnapshot, EpisodeStatus,
    EpisodeSummary, Event, EventFeed, IdempotencyRecord, InstanceKey, LoadFailure, SeriesId, SeriesRecord, Store,
    StoreError, UploadRecord,
};
use tokio_postgres::NoTls;

use bridge::Bridge;
use errors::{backend, causes};
use listener::Listener;
pub use membership::Member;
use membership::Membership;
pub use queue::PgRunQueue;
use records::{decode, instance_text, load, parse_id, status_of};
pub use schema::SCHEMA_VERSION;
pub use urls::redacted_url;
use writer::Writer;

/// How many connections one store keeps at most.
const POOL_SIZE: usize = 16;

/// The shortest lease a member may renew (every fifth of it).
const MIN_LEASE: Duration = Duration::from_millis(500);

/// The shortest grace of a blob collection on a database several processes share: a blob
/// another process wrote for a commit it has not made yet is younger.
const SHARED_COLLECTION_GRACE: Duration = Duration::from_secs(3600);

/// How long a connection may take to open, and a write to wait for one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Episodes in a PostgreSQL database.
pub struct PgStore {
    pool: Pool,
    /// This process as one of the engines on the database, for [`PgStore::open_member`]: its
    /// commits are fenced by the episodes' leases.
    member: Option<Arc<Membership>>,
    /// The task that renews the member's lease; it ends with the store's runtime.
    _keeper: Option<tokio::task::JoinHandle<()>>,
    writer: Writer,
    bridge: Bridge,
    /// How to connect, for the connections a store keeps outside its pool.
    config: tokio_postgres::Config,
    /// The store's notifications, listened for from the first need of them.
    listener: OnceLock<Listener>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`, or key=value
    /// settings) and migrates its schema; refuses a database migrated past this build. Its
    /// writes are not fenced: for tools, and for an engine with the database to itself.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::connect(url, None)
    }

    /// [`PgStore::open`], joining the engines on the database (see the `membership` module):
    /// this process claims each episode before it writes it, its commits are refused once
    /// another process has claimed the episode since, and it counts as alive while it renews
    /// its `lease`, which it does every fifth of it.
    pub fn open_member(url: &str, lease: Duration) -> Result<Self, StoreError> {
        if lease < MIN_LEASE {
            return Err(StoreError::Backend(format!(
                "a lease of {lease:?} is too short: at least {MIN_LEASE:?}"
            )));
        }
        Self::connect(url, Some(lease))
    }

    fn connect(url: &str, lease: Option<Duration>) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("the store URL does not parse: {e}")))?;
        // Durable commits; a transaction left idle (a process paused mid-write) gives its locks
        // up; a dead peer is noticed; the URL's own options are kept.
        let mut options = config.get_options().map(str::to_owned).unwrap_or_default();
        // A member's transactions never wait for a paused process longer than its lease.
        let idle = lease.map_or(Duration::from_secs(30), |l| l.max(Duration::from_secs(1)));
        options.push_str(&format!(
            " -c synchronous_commit=on -c idle_in_transaction_session_timeout={}",
            idle.as_millis()
        ));
        config.options(options.trim());
        config.application_name(format!("showrunner pid {}", std::process::id()));
        config.connect_timeout(CONNECT_TIMEOUT);
        config.keepalives_idle(Duration::from_secs(30));
        let keeper_config = config.clone();
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(backend)?;
        let bridge = Bridge::new()?;
        {
            let pool = pool.clone();
            bridge.wait(async move { schema::migrate(client(&pool).await?).await })?;
        }
        let member = match lease {
            None => None,
            Some(lease) => {
                let pool = pool.clone();
                Some(bridge.wait(async move { Membership::join(&pool, lease).await })?)
            }
        };
        let writer = bridge.enter(|| {
            let notifier = notifier::Notifier::start(keeper_config.clone());
            Writer::start(pool.clone(), member.clone(), notifier)
        });
        let keeper = member.as_ref().map(|m| bridge.enter(|| m.keep(keeper_config.clone())));
        Ok(Self {
            pool,
            member,
            _keeper: keeper,
            writer,
            bridge,
            config: keeper_config,
            listener: OnceLock::new(),
        })
    }

    /// The engine processes the database knows of, alive or not, with how long each has been
    /// silent and how many episodes it holds.
    pub fn members(&self) -> Result<Vec<Member>, StoreError> {
        self.read(|client| async move { membership::members(&**client).await })
    }

    /// The store's notifications (see the `listener` module), listening from the first call.
    fn listener(&self) -> &Listener {
        self.listener
            .get_or_init(|| self.bridge.enter(|| Listener::start(self.config.clone())))
    }

    /// Runs `read` with a pooled connection on the store's runtime, and waits for it.
    fn read<T, F>(&self, read: impl FnOnce(Object) -> F + Send + 'static) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.bridge.wait(async move { read(client(&pool).await?).await })
    }

    /// Runs `write` with a pooled connection on the store's runtime, and awaits it.
    async fn write<T, F>(&self, write: impl FnOnce(Object) -> F + Send + 'static) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let pool = self.pool.clone();
        self.bridge.run(async move { write(client(&pool).await?).await }).await
    }
}

/// A connection from the pool.
async fn client(pool: &Pool) -> Result<Object, StoreError> {
    pool.get().await.map_err(|e| {
        let why = match &e {
            deadpool_postgres::PoolError::Backend(e) => causes(e),
            other => causes(other),
        };
        StoreError::Unavailable(format!("connecting to PostgreSQL: {why}"))
    })
}

fn status_names(statuses: &[EpisodeStatus]) -> Vec<String> {
    let statuses = if statuses.is_empty() {
        &EpisodeStatus::ALL[..]
    } else {
        statuses
    };
    statuses.iter().map(|s| s.name().to_owned()).collect()
}

#[async_trait]
impl Store for PgStore {
    fn event_feed(&self) -> Option<&dyn EventFeed> {
        Some(self.listener())
    }

    async fn claim(&self, episode: EpisodeId) -> Result<Claim, StoreError> {
        let Some(member) = self.member.clone() else {
            return Ok(Claim::default());
        };
        self.write(move |mut client| async move { member.claim(&mut client, episode).await })
            .await
    }

    fn unheld_work(&self) -> Result<Vec<EpisodeId>, StoreError> {
        let Some(member) = self.member.clone() else {
            return Ok(Vec::new());
        };
        self.read(move |client| async move { member.unheld_work(&**client).await })
    }

    fn min_collection_grace(&self) -> Duration {
        SHARED_COLLECTION_GRACE
    }

    fn queued_blobs(&self) -> Result<(Vec<ContentHash>, Option<Duration>), StoreError> {
        self.read(|client| async move { queue::queued_blobs(&client).await })
    }

    fn hold_stats(&self) -> Option<showrunner_engine::HoldStats> {
        self.member.as_ref().map(|m| m.stats())
    }

    fn hold_lapsed(&self) -> bool {
        self.member.as_ref().is_some_and(|m| m.lapsed())
    }

    async fn release_all(&self) -> Result<(), StoreError> {
        let Some(member) = self.member.clone() else {
            return Ok(());
        };
        self.write(move |client| async move { member.leave(&**client).await })
            .await
    }

    async fn advertise(&self, url: &str) -> Result<bool, StoreError> {
        let Some(member) = self.member.clone() else {
            return Ok(false);
        };
        let url = url.to_owned();
        self.write(move |client| async move { member.advertise(&**client, &url).await })
            .await?;
        Ok(true)
    }

    async fn commit(&self, commit: Commit) -> Result<(), StoreError> {
        if let Some(header) = &commit.header
            && header.id != commit.episode
        {
            return Err(StoreError::Backend(format!(
                "a commit of episode {} carries the header of {}",
                commit.episode, header.id
            )));
        }
        self.writer.submit(commit).await
    }

    fn summaries(&self, statuses: &[EpisodeStatus]) -> Result<Vec<Result<EpisodeSummary, LoadFailure>>, StoreError> {
        let names = status_names(statuses);
        self.read(move |client| async move {
            let rows = client
                .query(
                    "SELECT id, status, workflow, definition_version FROM episodes WHERE status = ANY($1) ORDER BY status, id",
                    &[&names],
                )
                .await
                .map_err(backend)?;
            Ok(rows
                .iter()
                .map(|row| {
                    let id = parse_id(row.get(0));
                    let status = status_of(row.get(1));
                    match (id, status) {
                        (Some(id), Some(status)) => Ok(EpisodeSummary {
                            id,
                            workflow: row.get(2),
                            definition_version: row.get(3),
                            status,
                        }),
                        _ => Err(LoadFailure {
                            episode: id,
                            error: StoreError::Corrupt {
                                episode: id,
                                what: "an episode row with a malformed id or status".into(),
                            },
                        }),
                    }
                })
                .collect())
        })
    }

    fn definitions_in_use(&self) -> Result<Vec<DefinitionUse>, StoreError> {
        self.read(|client| async move {
            let rows = client
                .query(
                    "SELECT workflow, definition_version, count(*) FROM episodes
                     WHERE status IN ('active', 'paused', 'failed') GROUP BY 1, 2 ORDER BY 1, 2",
                    &[],
                )
                .await
                .map_err(backend)?;
            Ok(rows
                .iter()
                .map(|row| DefinitionUse {
                    workflow: row.get(0),
                    version: row.get(1),
                    unfinished: u64::try_from(row.get::<_, i64>(2)).unwrap_or(0),
                })
                .collect())
        })
    }

    fn episodes_with_work(&self) -> Result<Vec<EpisodeId>, StoreError> {
        self.read(|client| async move {
            let rows = client
                .query("SELECT episode FROM work ORDER BY episode", &[])
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| {
                    parse_id(row.get(0)).ok_or_else(|| StoreError::Corrupt {
                        episode: None,
                        what: "a work row without an episode id".into(),
                    })
                })
                .collect()
        })
    }

    fn load_episode(&self, episode: EpisodeId) -> Result<Option<EpisodeSnapshot>, StoreError> {
        self.read(move |mut client| async move { load(&mut client, episode, true).await })
    }

    fn load_header(&self, episode: EpisodeId) -> Result<Option<EpisodeRecord>, StoreError> {
        self.read(move |mut client| async move { Ok(load(&mut client, episode, false).await?.map(|e| e.header)) })
    }

    fn episodes_with_status(&self, status: EpisodeStatus) -> Result<Vec<EpisodeId>, StoreError> {
        self.read(move |client| async move {
            let rows = client
                .query(
                    "SELECT id FROM episodes WHERE status = $1 ORDER BY id",
                    &[&status.name()],
                )
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| {
                    parse_id(row.get(0)).ok_or_else(|| StoreError::Corrupt {
                        episode: None,
                        what: "an episode row with a malformed id".into(),
                    })
                })
                .collect()
        })
    }

    fn episodes_page(
        &self,
        statuses: &[EpisodeStatus],
        before: Option<EpisodeId>,
        limit: usize,
    ) -> Result<Vec<(EpisodeId, EpisodeStatus)>, StoreError> {
        let names = status_names(statuses);
        let before = before.map(|id| id.to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |client| async move {
            let rows = client
                .query(
                    "SELECT id, status FROM episodes WHERE status = ANY($1) AND ($2::text IS NULL OR id < $2)
                     ORDER BY id DESC LIMIT $3",
                    &[&names, &before, &limit],
                )
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| match (parse_id(row.get(0)), status_of(row.get(1))) {
                    (Some(id), Some(status)) => Ok((id, status)),
                    (id, _) => Err(StoreError::Corrupt {
                        episode: id,
                        what: "an episode row with a malformed id or status".into(),
                    }),
                })
                .collect()
        })
    }

    fn events(&self, episode: EpisodeId, from_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let from = i64::try_from(from_seq).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |client| async move {
            let rows = client
                .query(
                    "SELECT event FROM events WHERE episode = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                    &[&episode.to_string(), &from, &limit],
                )
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| decode(row.get(0), Some(episode), "event"))
                .collect()
        })
    }

    fn version_value(&self, episode: EpisodeId, key: &InstanceKey, n: u32) -> Result<Value, StoreError> {
        let key = key.clone();
        self.read(move |client| async move {
            let row = client
                .query_opt(
                    "SELECT value FROM versions WHERE episode = $1 AND key = $2 AND n = $3",
                    &[
                        &episode.to_string(),
                        &instance_text(&key)?,
                        &i32::try_from(n).unwrap_or(i32::MAX),
                    ],
                )
                .await
                .map_err(backend)?
                .ok_or_else(|| StoreError::NotFound(format!("version {n} of `{key}` in episode {episode}")))?;
            decode(row.get(0), Some(episode), "version value")
        })
    }

    async fn delete_episode(&self, episode: EpisodeId) -> Result<(), StoreError> {
        let member = self.member.clone();
        self.write(move |mut client| async move {
            let tx = client.transaction().await.map_err(backend)?;
            if let Some(member) = member {
                member.release_for_delete(&tx, episode).await?;
            }
            let id = episode.to_string();
            let mut deleted = 0;
            for table in [
                "episodes WHERE id",
                "work WHERE episode",
                "instances WHERE episode",
                "versions WHERE episode",
                "events WHERE episode",
                "run_queue WHERE episode",
                "run_turn WHERE episode",
            ] {
                deleted += tx
                    .execute(&format!("DELETE FROM {table} = $1"), &[&id])
                    .await
                    .map_err(backend)?;
            }
            if deleted == 0 {
                return Err(StoreError::NotFound(format!("episode {episode}")));
            }
            // Streams of the episode in other processes end.
            tx.execute("SELECT pg_notify('showrunner_events', $1)", &[&id])
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)
        })
        .await
    }

    async fn put_series(&self, series: &SeriesRecord, once: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
        self.write_series(series, once).await
    }

    async fn replace_series(&self, series: &SeriesRecord, previous: u32) -> Result<bool, StoreError> {
        self.write_series_over(series, previous).await
    }

    fn idempotency(&self, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let key = key.to_owned();
        self.read(move |client| async move {
            let row = client
                .query_opt("SELECT record FROM idempotency WHERE key = $1", &[&key])
                .await
                .map_err(backend)?;
            row.map(|row| decode(row.get(0), None, "an idempotency record"))
                .transpose()
        })
    }

    fn series(&self, id: SeriesId) -> Result<Option<SeriesRecord>, StoreError> {
        self.read_series(id)
    }

    fn all_series(&self) -> Result<Vec<SeriesRecord>, StoreError> {
        self.read_all_series()
    }

    async fn delete_series(&self, id: SeriesId) -> Result<(), StoreError> {
        self.remove_series(id).await
    }

    async fn put_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        self.write_upload(upload).await
    }

    fn uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        self.read_uploads()
    }

    fn uploads_of(&self, blob: ContentHash) -> Result<Vec<UploadRecord>, StoreError> {
        self.read_uploads_of(blob)
    }

    async fn delete_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        self.remove_upload(upload).await
    }
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &SCHEMA_VERSION)
            .finish_non_exhaustive()
    }
}
