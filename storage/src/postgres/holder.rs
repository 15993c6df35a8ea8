//! Holding the database: the engine lock (a PostgreSQL advisory lock) on a connection of the
//! store's own, kept by a task on the store's runtime. When that connection ends while this
//! process lives (the server restarted, the network dropped), the task takes the lock again as
//! soon as the server answers, provided no other process took the database meanwhile (the epoch
//! is still this store's); if one did, this store is fenced and the task stops.

use std::sync::Arc;
use std::time::Duration;

use showrunner_engine::StoreError;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config, NoTls};

use super::fence::Fence;
use super::schema::SCHEMA_VERSION;
use super::{backend, causes};

/// The advisory lock (as two `int4` keys) an engine's store holds while it drives the
/// database's episodes.
const ENGINE_LOCK: (i32, i32) = (0x5348_4f57, 0x454e_4731);

/// How long the keeper waits between tries to take the lock again.
const RETRY: Duration = Duration::from_millis(200);

/// Takes the database (waiting while another process holds it, with `wait`, through server
/// restarts), then keeps it; the task ends with the store's runtime.
pub(super) async fn hold(config: Config, fence: Arc<Fence>, wait: bool) -> Result<JoinHandle<()>, StoreError> {
    let (client, connection) = loop {
        match first(&config, &fence, wait).await {
            Ok(held) => break held,
            // A standby waits out a server that went away.
            Err(StoreError::Backend(_)) if wait => tokio::time::sleep(RETRY).await,
            Err(e) => return Err(e),
        }
    };
    Ok(tokio::spawn(keep(config, fence, client, connection)))
}

/// The lock's connection, with its driver running.
async fn connect(config: &Config) -> Result<(Client, JoinHandle<()>), StoreError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| StoreError::Backend(format!("connecting to PostgreSQL: {}", causes(&e))))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, driver))
}

/// The first take: the lock, and the epoch moved on.
async fn first(config: &Config, fence: &Fence, wait: bool) -> Result<(Client, JoinHandle<()>), StoreError> {
    let (mut client, driver) = connect(config).await?;
    let (k1, k2) = ENGINE_LOCK;
    let take = match wait {
        true => "SELECT pg_advisory_lock($1, $2) IS NOT NULL",
        false => "SELECT pg_try_advisory_lock($1, $2)",
    };
    let taken: bool = client.query_one(take, &[&k1, &k2]).await.map_err(backend)?.get(0);
    if taken {
        // A standby may have waited through an upgrade: a schema newer than this build's is
        // refused, and the lock goes with the connection.
        let found: Option<i32> = client
            .query_one("SELECT max(version) FROM showrunner_schema", &[])
            .await
            .map_err(backend)?
            .get(0);
        let found = found.unwrap_or(0);
        if i64::from(found) > i64::from(SCHEMA_VERSION) {
            return Err(StoreError::UnknownFormat {
                found: found.to_string(),
                supported: SCHEMA_VERSION,
            });
        }
        fence.take_over(&mut client).await?;
        return Ok((client, driver));
    }
    let holder: Option<String> = client
        .query_opt(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid
               AND l.objid = $2::int4::oid AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             LIMIT 1",
            &[&k1, &k2],
        )
        .await
        .map_err(backend)?
        .map(|row| row.get(0));
    Err(StoreError::InUse {
        path: fence.shown().to_owned(),
        pid: holder.and_then(|name| name.strip_prefix("showrunner pid ")?.parse().ok()),
    })
}

/// Keeps the lock: when its connection ends, takes it again while the epoch is still ours.
async fn keep(config: Config, fence: Arc<Fence>, mut client: Client, mut driver: JoinHandle<()>) {
    loop {
        let _ = (&mut driver).await;
        drop(client);
        tracing::warn!(
            database = fence.shown(),
            "the connection holding the database ended; taking it again"
        );
        loop {
            tokio::time::sleep(RETRY).await;
            match again(&config, &fence).await {
                Ok(Again::Held(held)) => {
                    (client, driver) = held;
                    tracing::info!(database = fence.shown(), "holding the database again");
                    break;
                }
                // Still held by this process's old session (the server has not yet seen it
                // end), or the server not back yet: try again.
                Ok(Again::NotYet) | Err(_) => {}
                Ok(Again::Lost) => {
                    fence.lose();
                    tracing::error!(
                        database = fence.shown(),
                        "another process has taken the database over: this process no longer writes to it"
                    );
                    return;
                }
            }
        }
    }
}

/// What a try to take the lock again came to.
enum Again {
    /// Taken, the epoch still this store's.
    Held((Client, JoinHandle<()>)),
    /// Not taken, and the epoch still this store's: a session of ours the server has not seen
    /// end yet holds it, or no one does yet.
    NotYet,
    /// Another process has moved the epoch on: it holds the database.
    Lost,
}

/// The lock again, when no other process took the database meanwhile.
async fn again(config: &Config, fence: &Fence) -> Result<Again, StoreError> {
    let (client, driver) = connect(config).await?;
    let (k1, k2) = ENGINE_LOCK;
    let taken: bool = client
        .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&k1, &k2])
        .await
        .map_err(backend)?
        .get(0);
    let epoch: i64 = client
        .query_one("SELECT epoch FROM engine_owner WHERE id = 1", &[])
        .await
        .map_err(backend)?
        .get(0);
    Ok(match (epoch == fence.epoch(), taken) {
        (false, _) => Again::Lost,
        (true, true) => Again::Held((client, driver)),
        (true, false) => Again::NotYet,
    })
}
