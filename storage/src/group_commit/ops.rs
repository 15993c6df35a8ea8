//! A group's jobs as sled writes: each job's own writes, then the status index and the counts
//! they change, read through the writes of the jobs before it and of groups not yet applied.

use std::collections::HashMap;
use std::sync::RwLock;

use showrunner_engine::{EpisodeId, StoreError};

use crate::keys::{STATUS, definition_key, episode_key, index_key};

use super::{IndexEntry, Job, Op, Pending, backend, lock};

/// True for the status bytes of unfinished episodes (active, paused, failed).
pub(super) fn unfinished(status: u8) -> bool {
    matches!(status, b'a' | b'p' | b'f')
}

/// Index and count writes by key: the latest value of each.
pub(super) type Tracked = HashMap<Vec<u8>, Option<Vec<u8>>>;

/// A group's writes so far, in order, with the latest value of each key for reads within the
/// group: the index and count updates of one job must see the writes of the jobs before it.
pub(super) struct GroupWrites<'a> {
    tree: &'a sled::Tree,
    pending: &'a Pending,
    ops: Vec<Op>,
    latest: Tracked,
}

impl<'a> GroupWrites<'a> {
    pub(super) fn new(tree: &'a sled::Tree, pending: &'a Pending) -> Self {
        Self {
            tree,
            pending,
            ops: Vec::new(),
            latest: HashMap::new(),
        }
    }

    /// A key's value as of this group: its own writes, then earlier groups' writes that are
    /// durable but not applied yet, then the tree.
    pub(super) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(value) = self.latest.get(key) {
            return Ok(value.clone());
        }
        if let Some((_, value)) = lock(self.pending).get(key) {
            return Ok(value.clone());
        }
        Ok(self.tree.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    /// Records a write that later reads of this group may need to see.
    pub(super) fn put_tracked(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.latest.insert(key.clone(), value.clone());
        self.ops.push((key, value));
    }
}

/// Adds the status index writes for an episode whose status is now `status`, and the change in
/// its definition's count of unfinished episodes to `counts`.
pub(super) fn index_ops(
    writes: &mut GroupWrites<'_>,
    counts: &mut HashMap<Vec<u8>, i64>,
    episode: EpisodeId,
    status: Option<IndexEntry>,
) -> Result<(), StoreError> {
    let status_key = episode_key(STATUS, episode);
    let old = writes.get(&status_key)?.and_then(|v| v.first().copied());
    if old.is_some() && old == status.as_ref().map(|(s, _)| *s) {
        return Ok(());
    }
    if let Some(old) = old {
        let old_key = index_key(old, episode);
        if unfinished(old)
            && let Some(summary) = writes.get(&old_key)?
        {
            *counts.entry(summary).or_default() -= 1;
        }
        writes.put_tracked(old_key, None);
    }
    match status {
        Some((new, summary)) => {
            if unfinished(new) {
                *counts.entry(summary.clone()).or_default() += 1;
            }
            writes.put_tracked(index_key(new, episode), Some(summary));
            writes.put_tracked(status_key, Some(vec![new]));
        }
        None => writes.put_tracked(status_key, None),
    }
    Ok(())
}

/// Writes the changed counts of unfinished episodes per definition.
pub(super) fn count_ops(writes: &mut GroupWrites<'_>, counts: HashMap<Vec<u8>, i64>) -> Result<(), StoreError> {
    for (summary, delta) in counts {
        if delta == 0 {
            continue;
        }
        let key = definition_key(&summary);
        let now = writes
            .get(&key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
            .map_or(0, i64::from_be_bytes);
        match now + delta {
            n if n > 0 => writes.put_tracked(key, Some(n.to_be_bytes().to_vec())),
            _ => writes.put_tracked(key, None),
        }
    }
    Ok(())
}

/// Every write of a group of jobs, index and counts included, as one list; and the index and
/// count writes by key, which later groups must see before the group is applied.
pub(super) fn group_ops(
    tree: &sled::Tree,
    pending: &Pending,
    jobs: &mut [Job],
) -> Result<(Vec<Op>, Tracked), StoreError> {
    let mut writes = GroupWrites::new(tree, pending);
    let mut counts = HashMap::new();
    for job in jobs {
        for (key, value) in job.ops.drain(..) {
            // Only status and index keys are read back within a group, and the index writes
            // are tracked where they are made.
            writes.ops.push((key, value));
        }
        if let Some((episode, status)) = job.status.take() {
            index_ops(&mut writes, &mut counts, episode, status)?;
        }
    }
    count_ops(&mut writes, counts)?;
    Ok((writes.ops, writes.latest))
}

/// Held for writing while a group is applied and for reading by whoever must see whole groups
/// (loading an episode): the group's writes go in one by one, since the journal, not sled, makes
/// them atomic on disk (a sled batch would make sled write its log at every group).
pub(crate) type Visibility = RwLock<()>;

/// Applies writes to sled's tree (in memory; sled writes them back later), visible to readers
/// that hold the [`Visibility`] lock all at once.
pub(crate) fn apply(tree: &sled::Tree, visible: &Visibility, ops: Vec<Op>) -> Result<(), StoreError> {
    let _applying = visible.write().unwrap_or_else(|e| e.into_inner());
    for (key, value) in ops {
        match value {
            Some(v) => tree.insert(key, v).map_err(backend)?,
            None => tree.remove(key).map_err(backend)?,
        };
    }
    Ok(())
}
