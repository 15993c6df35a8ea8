//! The group-commit writer: commits queue here, and a few writer tasks on the store's runtime
//! each take what waits (up to [`MAX_GROUP`] commits, one per episode) and write it as one
//! transaction. While one group's transaction waits for its WAL flush, another writer builds
//! and sends the next, so the flushes overlap the work. A group that fails is written again one
//! commit at a time, so one bad commit fails alone.

use std::collections::HashSet;
use std::sync::Arc;

use deadpool_postgres::Pool;
use showrunner_engine::{Commit, StoreError};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::batch::Batch;
use super::membership::Membership;
use super::notifier::Notifier;
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
    /// Starts the writers on the current runtime (the store's own); they tell `notifier` of
    /// the episodes whose events they committed.
    pub(super) fn start(pool: Pool, member: Option<Arc<Membership>>, notifier: Notifier) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let waiting = Arc::new(Mutex::new(waiting));
        let notifier = Arc::new(notifier);
        for _ in 0..WRITERS {
            tokio::spawn(write_groups(
                pool.clone(),
                member.clone(),
                waiting.clone(),
                notifier.clone(),
            ));
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
async fn write_groups(
    pool: Pool,
    member: Option<Arc<Membership>>,
    waiting: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>,
    notifier: Arc<Notifier>,
) {
    let member = member.as_deref();
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
        match write(&pool, member, &group, &batch).await {
            Ok(fenced) => {
                notifier.committed(batch.episodes_with_events(&fenced));
                for (commit, answer) in group {
                    let _ = answer.send(answer_of(&commit, &fenced));
                }
            }
            // Each on its own: one commit's failure is its own.
            Err(_) if group.len() > 1 => {
                for pending in group {
                    let mut alone = Batch::default();
                    let result = match alone.add(&pending.0) {
                        Ok(()) => write(&pool, member, std::slice::from_ref(&pending), &alone)
                            .await
                            .and_then(|fenced| {
                                notifier.committed(alone.episodes_with_events(&fenced));
                                answer_of(&pending.0, &fenced)
                            }),
                        Err(e) => Err(e),
                    };
                    let _ = pending.1.send(result);
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

/// A commit's answer once its group is written: refused when it was fenced.
fn answer_of(commit: &Commit, fenced: &HashSet<String>) -> Result<(), StoreError> {
    match fenced.contains(&commit.episode.to_string()) {
        false => Ok(()),
        true => Err(StoreError::Elsewhere {
            episode: commit.episode,
            url: None,
        }),
    }
}

/// Writes one group in one transaction, less the commits of episodes another process has
/// claimed since (for a member): answers with those.
async fn write(
    pool: &Pool,
    member: Option<&Membership>,
    group: &[Pending],
    batch: &Batch,
) -> Result<HashSet<String>, StoreError> {
    let mut client = client(pool).await?;
    let tx = client.transaction().await.map_err(backend)?;
    let fenced = match member {
        None => HashSet::new(),
        Some(member) => {
            let claims: Vec<_> = group.iter().map(|(c, _)| (c.episode.to_string(), c.claim)).collect();
            let fenced = member.fenced(&tx, &claims).await?;
            member.count_refused(fenced.len());
            fenced
        }
    };
    if fenced.is_empty() {
        batch.write(&tx).await?;
    } else {
        let mut rest = Batch::default();
        for (commit, _) in group {
            if !fenced.contains(&commit.episode.to_string()) {
                rest.add(commit)?;
            }
        }
        rest.write(&tx).await?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(fenced)
}
