//! Fencing: an engine that holds the database writes under an epoch, and every write checks in
//! its own transaction that the epoch is still the database's. A process that lost the
//! database (its lock's connection gone, paused, partitioned) while another took it over (and
//! moved the epoch on) can never commit again: its writes are refused with
//! [`StoreError::InUse`], naming the process that holds the database now. The check holds the
//! owner row until the write's transaction ends, so a takeover waits for the writes in flight
//! and follows them.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use showrunner_engine::StoreError;

use super::backend;

/// No epoch: a store opened without holding the database (tools, tests) writes unfenced.
const UNFENCED: i64 = -1;

/// The epoch this store writes under.
pub(super) struct Fence {
    epoch: AtomicI64,
    /// Set once this store has seen another process take the database over.
    lost: AtomicBool,
    /// The database, for messages.
    shown: String,
}

impl Fence {
    pub(super) fn new(shown: String) -> Self {
        Self {
            epoch: AtomicI64::new(UNFENCED),
            lost: AtomicBool::new(false),
            shown,
        }
    }

    /// The epoch this store writes under (negative when it does not hold the database).
    pub(super) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Records that another process took the database over.
    pub(super) fn lose(&self) {
        self.lost.store(true, Ordering::SeqCst);
    }

    /// `Err(InUse)` once another process is known to have taken the database over.
    pub(super) fn writable(&self) -> Result<(), StoreError> {
        match self.lost.load(Ordering::SeqCst) {
            false => Ok(()),
            true => Err(StoreError::InUse {
                path: self.shown.clone(),
                pid: None,
            }),
        }
    }

    /// The database, for messages.
    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// Takes the database over: moves its epoch on, and writes under the new one from now. The
    /// table lock queues new fence checks behind the takeover (row share locks would otherwise
    /// keep joining the old holder's), and the update waits for the writes in flight.
    pub(super) async fn take_over(&self, client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        let tx = client.transaction().await.map_err(backend)?;
        tx.batch_execute("LOCK TABLE engine_owner IN EXCLUSIVE MODE")
            .await
            .map_err(backend)?;
        let epoch: i64 = tx
            .query_one(
                "UPDATE engine_owner SET epoch = epoch + 1, pid = $1, since = now() WHERE id = 1 RETURNING epoch",
                &[&pid],
            )
            .await
            .map_err(backend)?
            .get(0);
        tx.commit().await.map_err(backend)?;
        self.epoch.store(epoch, Ordering::SeqCst);
        Ok(())
    }

    /// Refuses the write whose transaction `tx` is when another process holds the database now.
    pub(super) async fn check(&self, tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
        let mine = self.epoch.load(Ordering::SeqCst);
        if mine == UNFENCED {
            return Ok(());
        }
        let row = tx
            .query_one("SELECT epoch, pid FROM engine_owner WHERE id = 1 FOR SHARE", &[])
            .await
            .map_err(backend)?;
        if row.get::<_, i64>(0) == mine {
            return Ok(());
        }
        self.lose();
        Err(StoreError::InUse {
            path: self.shown.clone(),
            pid: row.get::<_, Option<i32>>(1).and_then(|p| u32::try_from(p).ok()),
        })
    }
}
