//! Group commit: a writer thread takes every commit waiting at the moment, appends their writes
//! to the journal as one record with one `fdatasync`, answers their commits, and hands the group
//! to an applier thread, which applies it to sled. The writer goes on with the next group
//! meanwhile, so one group's sync overlaps the apply of the one before.
//!
//! A commit's future resolves right after the sync that covers it: the apply to sled is not on
//! a commit's path. Reads wait instead ([`GroupCommit::settle`]): a read first waits until every
//! group made durable before it started is applied, so a read that follows an answered commit
//! sees it. While one sync runs, new commits queue up and share the next one, so throughput
//! grows with concurrency. A commit that finds nothing queued and the writer idle writes its
//! own group on its caller's thread (one append and one sync; on a multi-threaded runtime only,
//! whose other workers go on meanwhile): handing it to the writer thread and the answer back
//! costs two thread wake-ups, which on a machine whose idle CPUs sleep (a virtual machine's,
//! most of all) take longer than the sync. The applier may fall a few groups
//! behind, no more: then the writer waits for it. sled writes the batches back in the
//! background; a checkpoint (when the journal is full, and on close) makes them durable in
//! sled's files and empties the journal.
//!
//! When a write's fate is unknown — the journal's sync failed, or a durable group cannot be
//! applied — the process stops rather than answer: the next open replays the journal. A full
//! disk is not that case: it is seen before anything is written (free space is checked against
//! what the group and sled's write-back need, and the journal grows into zeros written ahead),
//! and the group is refused with `StoreError::Full`; the store stays usable.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use showrunner_engine::{EpisodeId, StoreError};
use tokio::sync::oneshot;

use crate::journal::{Appended, Journal};

mod durable;
mod ops;

pub(crate) use durable::{DurableFiles, SLED_RESERVE, checkpoint, free_space};
use durable::{io_error, room};
use ops::group_ops;
pub(crate) use ops::{Visibility, apply};

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

/// The handle to the writer thread; dropping it stops the thread after the queued work.
pub(crate) struct GroupCommit {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<thread::JoinHandle<()>>,
    progress: Arc<Progress>,
    writer: Arc<Mutex<Writer>>,
    /// Jobs sent to the writer thread and not yet taken by it.
    queued: Arc<AtomicUsize>,
}

/// How far the groups have got: the last one made durable (and answered) and the last one
/// applied to sled, groups numbered from 1 in order; and the commits and flushes counted.
#[derive(Default)]
struct Progress {
    commits: AtomicU64,
    flushes: AtomicU64,
    durable: AtomicU64,
    applied: Mutex<u64>,
    caught_up: Condvar,
}

impl Progress {
    /// Records that group `number`, of `commits` commits, is durable; its commits may be
    /// answered after this.
    fn durable(&self, number: u64, commits: usize) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.commits.fetch_add(commits as u64, Ordering::Relaxed);
        self.durable.store(number, Ordering::Release);
    }

    /// Records that every group up to `number` is applied.
    fn applied(&self, number: u64) {
        *lock(&self.applied) = number;
        self.caught_up.notify_all();
    }

    /// Waits until every group durable now is applied.
    fn settle(&self) {
        let target = self.durable.load(Ordering::Acquire);
        let mut applied = lock(&self.applied);
        while *applied < target {
            applied = self.caught_up.wait(applied).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl GroupCommit {
    pub(crate) fn start(
        db: sled::Db,
        tree: sled::Tree,
        visible: Arc<Visibility>,
        files: DurableFiles,
        journal: Journal,
    ) -> Result<Self, StoreError> {
        let progress = Arc::new(Progress::default());
        let pending: Arc<Pending> = Arc::default();
        let (to_apply, applier_rx) = mpsc::sync_channel::<ToApply>(APPLY_BEHIND);
        let applier = {
            let (tree, visible, pending, progress) = (tree.clone(), visible.clone(), pending.clone(), progress.clone());
            thread::Builder::new()
                .name("showrunner-apply".into())
                .spawn(move || applier(&tree, &visible, &pending, &progress, applier_rx))
                .map_err(|source| StoreError::Io {
                    context: "starting the apply thread".into(),
                    source,
                })?
        };
        let writer = Arc::new(Mutex::new(Writer {
            db,
            tree,
            visible,
            files,
            journal,
            pending,
            progress: progress.clone(),
            to_apply: Some(to_apply),
            applier: Some(applier),
            number: 0,
        }));
        let (tx, rx) = mpsc::channel::<Job>();
        let queued = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (writer, queued) = (writer.clone(), queued.clone());
            thread::Builder::new()
                .name("showrunner-commit".into())
                .spawn(move || write_queued(&writer, &rx, &queued))
                .map_err(|source| StoreError::Io {
                    context: "starting the commit thread".into(),
                    source,
                })?
        };
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            progress,
            writer,
            queued,
        })
    }

    /// Waits until every commit answered so far is applied to sled: call before reading sled,
    /// and not while holding the [`Visibility`] lock (the applier needs it).
    pub(crate) fn settle(&self) {
        self.progress.settle();
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.progress.commits.load(Ordering::Relaxed),
            flushes: self.progress.flushes.load(Ordering::Relaxed),
        }
    }

    /// Writes `ops` and resolves once the flush that covers them is done: on this thread when
    /// nothing is queued and the writer is idle, else through the writer thread's next group.
    pub(crate) async fn submit(
        &self,
        ops: Vec<Op>,
        status: Option<(EpisodeId, Option<IndexEntry>)>,
    ) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.write_or_queue(Job { ops, status, reply })?;
        done.await.map_err(|_| StoreError::Closed)?
    }

    /// Writes the job's group here when that is cheap and harmless: nothing queued, the writer
    /// idle (so the machine is not busy), and a multi-threaded runtime, whose other workers run
    /// the other tasks meanwhile; a single-threaded one would stall every task for the sync.
    fn write_or_queue(&self, job: Job) -> Result<(), StoreError> {
        let sender = self.tx.as_ref().ok_or(StoreError::Closed)?;
        let other_workers = tokio::runtime::Handle::try_current()
            .is_ok_and(|runtime| runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if other_workers
            && self.queued.load(Ordering::Acquire) == 0
            && let Ok(mut writer) = self.writer.try_lock()
        {
            writer.write_group(vec![job]);
            return Ok(());
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        sender.send(job).map_err(|_| StoreError::Closed)
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

/// Index and count writes of groups that are durable but not yet applied, with the number of
/// the group that wrote each last: the next group's index updates read through them.
type Pending = Mutex<HashMap<Vec<u8>, (u64, Option<Vec<u8>>)>>;

/// Locks `m`, going on past a poisoned lock (a holder that panicked left the data whole: each
/// use changes it in one step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Groups the applier may fall behind the writer before the writer waits for it.
const APPLY_BEHIND: usize = 4;

/// What the writer hands the applier.
enum ToApply {
    /// A durable, answered group: apply its writes, then forget its `tracked` index and count
    /// writes in [`Pending`].
    Group {
        number: u64,
        ops: Vec<Op>,
        tracked: Vec<Vec<u8>>,
    },
    /// Answer once everything sent before is applied.
    Drain(mpsc::SyncSender<()>),
}

/// What writing a group needs: the journal, sled, the applier's queue. Held by the writer
/// thread for each group it writes, or by a lone commit's own task.
struct Writer {
    db: sled::Db,
    tree: sled::Tree,
    visible: Arc<Visibility>,
    files: DurableFiles,
    journal: Journal,
    /// Index and count writes durable but not applied yet.
    pending: Arc<Pending>,
    progress: Arc<Progress>,
    /// `None` once closed.
    to_apply: Option<mpsc::SyncSender<ToApply>>,
    applier: Option<thread::JoinHandle<()>>,
    /// The last group's number.
    number: u64,
}

/// The writer thread: takes the waiting jobs as a group and writes it, then the next; the sync
/// of one group overlaps the apply of the one before. On close, lets the applier finish and
/// checkpoints.
fn write_queued(writer: &Mutex<Writer>, rx: &mpsc::Receiver<Job>, queued: &AtomicUsize) {
    while let Ok(first) = rx.recv() {
        let mut writer = lock(writer);
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        queued.fetch_sub(jobs.len(), Ordering::AcqRel);
        writer.write_group(jobs);
    }
    lock(writer).close();
}

impl Writer {
    /// Appends the jobs' writes to the journal as one record with one sync, answers the jobs
    /// and hands the group to the applier.
    fn write_group(&mut self, mut jobs: Vec<Job>) {
        let Some(to_apply) = self.to_apply.clone() else {
            answer(jobs, &Err(StoreError::Closed));
            return;
        };
        let size: u64 = jobs
            .iter()
            .flat_map(|job| &job.ops)
            .map(|(k, v)| (9 + k.len() + v.as_ref().map_or(0, Vec::len)) as u64)
            .sum();
        if let Err(e) = self.make_room(&to_apply, size) {
            answer(jobs, &Err(e));
            return;
        }
        self.number += 1;
        let number = self.number;
        let (ops, tracked) = match group_ops(&self.tree, &self.pending, &mut jobs) {
            Ok(prepared) => prepared,
            Err(e) => {
                answer(jobs, &Err(e));
                return;
            }
        };
        let mut appended = self.journal.append(&ops);
        if matches!(appended, Ok(Appended::Full))
            && free_space(&self.files.dir).is_some_and(|free| free < room(self.journal.pending_bytes()))
        {
            // A checkpoint now could run sled out of space: refuse until space comes back.
            appended = Ok(Appended::NoSpace);
        }
        if matches!(appended, Ok(Appended::Full)) {
            drain(&to_apply);
            appended = checkpoint(&self.db, &mut self.files, &mut self.journal)
                .and_then(|()| self.journal.append(&ops).map_err(io_error("appending to the journal")))
                .map_err(|e| std::io::Error::other(e.to_string()));
        }
        match appended {
            Ok(Appended::NoSpace) => answer(
                jobs,
                &Err(StoreError::Full {
                    context: "the store's journal".into(),
                }),
            ),
            Ok(Appended::Durable) => {
                let tracked = {
                    let mut pending = lock(&self.pending);
                    tracked
                        .into_iter()
                        .map(|(key, value)| {
                            pending.insert(key.clone(), (number, value));
                            key
                        })
                        .collect()
                };
                self.progress.durable(number, jobs.len());
                answer(jobs, &Ok(()));
                if to_apply.send(ToApply::Group { number, ops, tracked }).is_err() {
                    stop("the applier thread is gone");
                }
            }
            Ok(Appended::Full | Appended::TooLarge) => {
                // Too large for the journal: straight into sled, made durable by a checkpoint.
                drain(&to_apply);
                if let Err(e) = apply(&self.tree, &self.visible, ops)
                    .and_then(|()| checkpoint(&self.db, &mut self.files, &mut self.journal))
                {
                    stop(&format!("writing a group too large for the journal failed: {e}"));
                }
                self.progress.durable(number, jobs.len());
                self.progress.applied(number);
                answer(jobs, &Ok(()));
            }
            // Whether the record reached the disk is unknown: it may be replayed on the next
            // open, or not. Answering either way could be a lie.
            Err(e) => stop(&format!("appending to the journal failed: {e}")),
        }
    }

    /// Makes sure a group of about `size` bytes can be written with room left for sled's own
    /// writes: sled cannot take a full disk (its first failed write fails every later call until
    /// it is opened again), so the journal refuses a group, with [`StoreError::Full`], before
    /// sled could run out. The room sled needs to write back what the journal holds is
    /// `room(pending)`. Once free space is within twice the room a group needs, a checkpoint
    /// lets sled write back while it still can, which keeps what the journal holds small while
    /// space is short; a group that does not fit even then is refused. When another writer took
    /// even sled's room, nothing is checkpointed and every group is refused: sled writes nothing
    /// until space comes back, and the journal keeps what it acknowledged.
    fn make_room(&mut self, to_apply: &mpsc::SyncSender<ToApply>, size: u64) -> Result<(), StoreError> {
        let full = || StoreError::Full {
            context: "the store".into(),
        };
        let Some(free) = free_space(&self.files.dir) else {
            return Ok(());
        };
        let pending = self.journal.pending_bytes();
        if free >= 2 * room(pending + size) {
            return Ok(());
        }
        if pending > 0 {
            if free < room(pending) {
                return Err(full());
            }
            drain(to_apply);
            if let Err(e) = checkpoint(&self.db, &mut self.files, &mut self.journal) {
                stop(&format!("a checkpoint to make room failed: {e}"));
            }
        }
        match free_space(&self.files.dir) {
            Some(free) if free < room(size) => Err(full()),
            _ => Ok(()),
        }
    }

    /// Lets the applier finish, then checkpoints: a clean close leaves an empty journal, so the
    /// next open replays nothing.
    fn close(&mut self) {
        self.to_apply.take();
        if let Some(applier) = self.applier.take() {
            let _ = applier.join();
        }
        if !self.journal.is_empty()
            && let Err(e) = checkpoint(&self.db, &mut self.files, &mut self.journal)
        {
            tracing::warn!(error = %e, "checkpoint on close failed; the journal is replayed on the next open");
        }
    }
}

/// Waits until the applier has applied everything sent to it before.
fn drain(to_apply: &mpsc::SyncSender<ToApply>) {
    let (done, wait) = mpsc::sync_channel(1);
    if to_apply.send(ToApply::Drain(done)).is_ok() {
        let _ = wait.recv();
    }
}

/// The applier: applies durable groups to sled in order and records how far it got.
fn applier(
    tree: &sled::Tree,
    visible: &Visibility,
    pending: &Pending,
    progress: &Progress,
    rx: mpsc::Receiver<ToApply>,
) {
    for message in rx {
        match message {
            ToApply::Drain(done) => {
                let _ = done.send(());
            }
            ToApply::Group { number, ops, tracked } => {
                if let Err(e) = apply(tree, visible, ops) {
                    // Durable but not applied: memory would disagree with what the next open
                    // replays.
                    stop(&format!("applying a journaled group failed: {e}"));
                }
                {
                    let mut pending = lock(pending);
                    for key in tracked {
                        if pending.get(&key).is_some_and(|(n, _)| *n == number) {
                            pending.remove(&key);
                        }
                    }
                }
                progress.applied(number);
            }
        }
    }
}

/// Stops the process when what is durable and what is in memory can no longer be told apart
/// (as PostgreSQL does when an fsync of its log fails): the next open replays the journal, and
/// the engine recovers from there.
fn stop(why: &str) -> ! {
    tracing::error!("{why}; stopping so that the next start replays the journal");
    eprintln!("showrunner: {why}; stopping so that the next start replays the journal");
    std::process::abort()
}

fn answer(jobs: Vec<Job>, result: &Result<(), StoreError>) {
    for job in jobs {
        let _ = job.reply.send(match result {
            Ok(()) => Ok(()),
            Err(e) => Err(e.for_caller()),
        });
    }
}
