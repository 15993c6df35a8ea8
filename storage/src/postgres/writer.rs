//! The group-commit writer: commits queue here, and a few writer tasks on the store's runtime
//! each take what waits (up to [`MAX_GROUP`] commits, one per episode) and write it as one
//! transaction. While one group's transaction waits for its WAL flush, another writer builds
//! and sends the next, so the flushes overlap the work. A group that fails is written again one
//! commit at a time, so one bad commit fails alone.

use std::sync::Arc;

use deadpool_postgres::Pool;
use showrunner_engine::{Commit, StoreError};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::batch::Batch;
use super::fence::Fence;
use super::{backend, client};

/// The most commits one transaction holds.
const MAX_GROUP: usize = 512;
/// How many groups may be in flight at once.
const WRITERS: usize = 4;

/// A commit waiting to be written, and where its answer goes.
type Pending = (Commit, oneshot::Sender<Result<(), StoreError>>);

/// The queue of commits; the writers end when it is dropped.
pub(super) struct Writer {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Writer {
    /// Starts the writers on the current runtime (the store's own).
    pub(super) fn start(pool: Pool, fence: Arc<Fence>) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for _ in 0..WRITERS {
            tokio::spawn(write_groups(pool.clone(), fence.clone(), waiting.clone()));
        }
        Self { queue }
    }

    /// Queues `commit`; resolves once it is durable (or refused).
    pub(super) async fn submit(&self, commit: Commit) -> Result<(), StoreError> {
        let (answer, answered) = oneshot::channel();
        self.queue.send((commit, answer)).map_err(|_| StoreError::Closed)?;
        answered.await.map_err(|_| StoreError::Closed)?
    }
}

/// One writer: takes a group, writes it, answers it, until the queue closes.
async fn write_groups(pool: Pool, fence: Arc<Fence>, waiting: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>) {
    // A commit of an episode already in the group starts the writer's next group.
    let mut carried: Option<Pending> = None;
    loop {
        let mut group: Vec<Pending> = Vec::new();
        let mut batch = Batch::default();
        {
            let mut waiting = waiting.lock().await;
            let first = match carried.take() {
                Some(first) => first,
                None => match waiting.recv().await {
                    Some(first) => first,
                    None => return,
                },
            };
            take(&mut batch, &mut group, first);
            while group.len() < MAX_GROUP {
                let Ok(next) = waiting.try_recv() else { break };
                if batch.has_episode(&next.0) || batch.has_key_of(&next.0) {
                    carried = Some(next);
                    break;
                }
                take(&mut batch, &mut group, next);
            }
        }
        if group.is_empty() {
            continue;
        }
        match write(&pool, &fence, &batch).await {
            Ok(()) => {
                for (_, answer) in group {
                    let _ = answer.send(Ok(()));
                }
            }
            // Each on its own: one commit's failure is its own.
            Err(_) if group.len() > 1 => {
                for (commit, answer) in group {
                    let mut alone = Batch::default();
                    let result = match alone.add(&commit) {
                        Ok(()) => write(&pool, &fence, &alone).await,
                        Err(e) => Err(e),
                    };
                    let _ = answer.send(result);
                }
            }
            Err(e) => {
                if let Some((_, answer)) = group.pop() {
                    let _ = answer.send(Err(e));
                }
            }
        }
    }
}

/// Adds a pending commit to the group, or answers it at once when its records do not encode.
fn take(batch: &mut Batch, group: &mut Vec<Pending>, (commit, answer): Pending) {
    match batch.add(&commit) {
        Ok(()) => group.push((commit, answer)),
        Err(e) => {
            let _ = answer.send(Err(e));
        }
    }
}

/// Writes one group in one transaction, fenced.
async fn write(pool: &Pool, fence: &Fence, batch: &Batch) -> Result<(), StoreError> {
    let mut client = client(pool).await?;
    let tx = client.transaction().await.map_err(backend)?;
    fence.check(&tx).await?;
    batch.write(&tx).await?;
    tx.commit().await.map_err(backend)
}
