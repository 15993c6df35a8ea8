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
    let (client, driver) = connect(config).await?;
    let (k1, k2) = ENGINE_LOCK;
    let take = match wait {
        true => "SELECT pg_advisory_lock($1, $2) IS NOT NULL",
        false => "SELECT pg_try_advisory_lock($1, $2)",
    };
    let taken: bool = client.query_one(take, &[&k1, &k2]).await.map_err(backend)?.get(0);
    if taken {
        fence.take_over(&client).await?;
        return Ok((client, driver));
    }
    let holder: Option<String> = client
        .query_opt(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::int4::oid
               AND l.objid = $2::int4::oid AND l.objsubid = 2",
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
                Ok(Some(held)) => {
                    (client, driver) = held;
                    tracing::info!(database = fence.shown(), "holding the database again");
                    break;
                }
                Ok(None) => {
                    fence.lose();
                    tracing::error!(
                        database = fence.shown(),
                        "another process has taken the database over: this process no longer writes to it"
                    );
                    return;
                }
                Err(_) => {}
            }
        }
    }
}

/// The lock again, when no other process took the database meanwhile; `None` when one did.
async fn again(config: &Config, fence: &Fence) -> Result<Option<(Client, JoinHandle<()>)>, StoreError> {
    let (client, driver) = connect(config).await?;
    let (k1, k2) = ENGINE_LOCK;
    let taken: bool = client
        .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&k1, &k2])
        .await
        .map_err(backend)?
        .get(0);
    if !taken {
        return Ok(None);
    }
    let epoch: i64 = client
        .query_one("SELECT epoch FROM engine_owner WHERE id = 1", &[])
        .await
        .map_err(backend)?
        .get(0);
    Ok((epoch == fence.epoch()).then_some((client, driver)))
}
