//! Group commit: one writer thread applies every commit waiting at the moment as one atomic
//! sled batch, flushes once, and then answers all of them.
//!
//! A commit's future resolves only after the flush that covers it. While one flush runs, new
//! commits queue up and share the next one, so throughput grows with concurrency while a lone
//! commit costs one batch and one flush.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::SystemTime;

use showrunner_engine::{EpisodeId, StoreError};
use tokio::sync::oneshot;

use crate::keys::{STATUS, definition_key, episode_key, index_key};

/// One write: a key and its new value, or `None` to delete it.
pub(crate) type Op = (Vec<u8>, Option<Vec<u8>>);

/// An episode's entry in the status index: its status byte, and the summary the index holds
/// (workflow and definition version), so summaries are read without decoding headers.
pub(crate) type IndexEntry = (u8, Vec<u8>);

/// Work for the writer: encoded writes, the episode's new index entry (`None` inside when the
/// episode is deleted), and the reply channel.
pub(crate) struct Job {
    pub ops: Vec<Op>,
    pub status: Option<(EpisodeId, Option<IndexEntry>)>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Counters of the group commit, for metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Commits made durable.
    pub commits: u64,
    /// Flushes done; each served one or more commits.
    pub flushes: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    flushes: AtomicU64,
}

/// The handle to the writer thread; dropping it stops the thread after the queued work.
pub(crate) struct GroupCommit {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
    counters: Arc<Counters>,
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl GroupCommit {
    pub(crate) fn start(db: sled::Db, tree: sled::Tree, files: DurableFiles) -> Result<Self, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let counters = Arc::new(Counters::default());
        let counted = counters.clone();
        let thread = thread::Builder::new()
            .name("showrunner-commit".into())
            .spawn(move || writer(db, tree, files, rx, &counted))
            .map_err(|source| StoreError::Io {
                context: "starting the commit thread".into(),
                source,
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            flushes: self.counters.flushes.load(Ordering::Relaxed),
        }
    }

    /// Queues `ops` and resolves once the flush that covers them is done.
    pub(crate) async fn submit(
        &self,
        ops: Vec<Op>,
        status: Option<(EpisodeId, Option<IndexEntry>)>,
    ) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        let sender = self.tx.as_ref().ok_or(StoreError::Closed)?;
        sender
            .send(Job { ops, status, reply })
            .map_err(|_| StoreError::Closed)?;
        done.await.map_err(|_| StoreError::Closed)?
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// True for the status bytes of unfinished episodes (active, paused, failed).
fn unfinished(status: u8) -> bool {
    matches!(status, b'a' | b'p' | b'f')
}

/// Adds the status index writes for an episode whose status is now `status`, and the change in
/// its definition's count of unfinished episodes to `counts`.
fn index_ops(
    tree: &sled::Tree,
    batch: &mut sled::Batch,
    counts: &mut HashMap<Vec<u8>, i64>,
    episode: EpisodeId,
    status: Option<IndexEntry>,
) -> Result<(), StoreError> {
    let status_key = episode_key(STATUS, episode);
    let old = tree.get(&status_key).map_err(backend)?.and_then(|v| v.first().copied());
    if old.is_some() && old == status.as_ref().map(|(s, _)| *s) {
        return Ok(());
    }
    if let Some(old) = old {
        let old_key = index_key(old, episode);
        if unfinished(old) {
            if let Some(summary) = tree.get(&old_key).map_err(backend)? {
                *counts.entry(summary.to_vec()).or_default() -= 1;
            }
        }
        batch.remove(old_key);
    }
    match status {
        Some((new, summary)) => {
            if unfinished(new) {
                *counts.entry(summary.clone()).or_default() += 1;
            }
            batch.insert(index_key(new, episode), summary);
            batch.insert(status_key, &[new][..]);
        }
        None => batch.remove(status_key),
    }
    Ok(())
}

/// Writes the changed counts of unfinished episodes per definition.
fn count_ops(tree: &sled::Tree, batch: &mut sled::Batch, counts: HashMap<Vec<u8>, i64>) -> Result<(), StoreError> {
    for (summary, delta) in counts {
        if delta == 0 {
            continue;
        }
        let key = definition_key(&summary);
        let now = tree
            .get(&key)
            .map_err(backend)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, i64::from_be_bytes);
        match now + delta {
            n if n > 0 => batch.insert(key, &n.to_be_bytes()[..]),
            _ => batch.remove(key),
        }
    }
    Ok(())
}

/// The files sled writes, made durable after each flush.
///
/// sled 0.34's flush ends in `sync_file_range`, which survives a process crash but neither
/// flushes the disk's write cache nor the file's metadata, and it writes large pages to
/// `blobs/` without any sync. So after sled's flush the writer calls `fdatasync` on the log file
/// and, when the blob directory changed, `fsync` on the new blob files and the directory.
pub(crate) struct DurableFiles {
    log: File,
    blobs: PathBuf,
    blobs_seen: Option<SystemTime>,
}

impl DurableFiles {
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let log = File::open(path.join("db")).map_err(|source| StoreError::Io {
            context: format!("opening {} for syncing", path.join("db").display()),
            source,
        })?;
        // The store's directory entries (created by sled) must be durable too.
        File::open(path)
            .and_then(|d| d.sync_all())
            .map_err(|source| StoreError::Io {
                context: format!("syncing {}", path.display()),
                source,
            })?;
        Ok(Self {
            log,
            blobs: path.join("blobs"),
            blobs_seen: None,
        })
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.log.sync_data()?;
        let Ok(changed) = std::fs::metadata(&self.blobs).and_then(|m| m.modified()) else {
            return Ok(());
        };
        if self.blobs_seen == Some(changed) {
            return Ok(());
        }
        let since = self.blobs_seen.unwrap_or(SystemTime::UNIX_EPOCH);
        for entry in std::fs::read_dir(&self.blobs)?.flatten() {
            let fresh = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since);
            if fresh {
                File::open(entry.path())?.sync_all()?;
            }
        }
        File::open(&self.blobs)?.sync_all()?;
        self.blobs_seen = Some(changed);
        Ok(())
    }
}

fn writer(db: sled::Db, tree: sled::Tree, mut files: DurableFiles, rx: mpsc::Receiver<Job>, counters: &Counters) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let mut batch = sled::Batch::default();
        let mut counts = HashMap::new();
        let mut result = Ok(());
        for job in &mut jobs {
            for (key, value) in job.ops.drain(..) {
                match value {
                    Some(v) => batch.insert(key, v),
                    None => batch.remove(key),
                }
            }
            if let Some((episode, status)) = job.status.take() {
                if let Err(e) = index_ops(&tree, &mut batch, &mut counts, episode, status) {
                    result = Err(e);
                }
            }
        }
        if let Err(e) = count_ops(&tree, &mut batch, counts) {
            result = Err(e);
        }
        let result = result.and_then(|()| {
            tree.apply_batch(batch)
                .and_then(|()| db.flush().map(|_| ()))
                .map_err(backend)?;
            files.sync().map_err(|source| StoreError::Io {
                context: "syncing the store's files".into(),
                source,
            })
        });
        if result.is_ok() {
            counters.flushes.fetch_add(1, Ordering::Relaxed);
            counters.commits.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        }
        for job in jobs {
            let _ = job.reply.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Backend(e.to_string())),
            });
        }
    }
}
