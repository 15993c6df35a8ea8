//! Blobs pinned against garbage collection while the commit that will reference them is on its
//! way, and the sweep that a collection runs under the same lock.
//!
//! Why pins and not only a grace period: a blob is written before the commit that references it
//! (so that a commit never names a missing blob), and between the two a collection that reads
//! the references sees none. Whatever the grace, that window is unsafe once a run takes longer
//! than the grace or a dedup put finds an old blob that a collection is about to delete. So:
//! - every blob written or named for a commit is pinned from before its bytes are checked or
//!   written until that commit has resolved (or was given up);
//! - a collection first copies the current pins into its protected set, and every pin made
//!   while it runs joins that set too; only then does it read the references from the store,
//!   which shows every answered commit. A blob may go only when no reference names it and it was
//!   never pinned during the collection;
//! - the check and the unlink of a blob happen under the lock a pin takes, and a put pins before
//!   it looks at the disk: a dedup put racing a deletion either protects the blob in time or
//!   finds it gone and writes it again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::ids::ContentHash;
use crate::store::{BlobRef, BlobStore, GcStats, Sweep};

#[derive(Default)]
struct PinState {
    /// Pinned blobs with how many holders pin each.
    counts: HashMap<ContentHash, usize>,
    /// While a collection runs: every blob pinned since it started.
    protected: Option<HashSet<ContentHash>>,
}

/// The engine's pinned blobs.
#[derive(Default)]
pub(crate) struct Pins {
    state: Mutex<PinState>,
}

impl Pins {
    fn lock(&self) -> MutexGuard<'_, PinState> {
        // Plain counters: a panic while holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pin(&self, blob: ContentHash) {
        let mut state = self.lock();
        *state.counts.entry(blob).or_default() += 1;
        if let Some(protected) = &mut state.protected {
            protected.insert(blob);
        }
    }

    fn unpin(&self, blobs: &[ContentHash]) {
        let mut state = self.lock();
        for blob in blobs {
            if let Some(count) = state.counts.get_mut(blob) {
                *count -= 1;
                if *count == 0 {
                    state.counts.remove(blob);
                }
            }
        }
    }

    /// Pins `blobs` until the returned holder is dropped.
    pub(crate) fn hold(self: &Arc<Self>, blobs: impl IntoIterator<Item = ContentHash>) -> Pinned {
        let pinned = Pinned::new(self.clone());
        for blob in blobs {
            pinned.add(blob);
        }
        pinned
    }

    /// Starts a collection: the pins held now and every pin made until the returned guard is
    /// dropped are protected from it.
    pub(crate) fn begin_collection(self: &Arc<Self>) -> Collecting {
        let mut state = self.lock();
        let now: HashSet<ContentHash> = state.counts.keys().copied().collect();
        state.protected = Some(now);
        Collecting { pins: self.clone() }
    }
}

/// A collection in progress ([`Pins::begin_collection`]); ends its protected set when dropped.
pub(crate) struct Collecting {
    pins: Arc<Pins>,
}

impl Drop for Collecting {
    fn drop(&mut self) {
        self.pins.lock().protected = None;
    }
}

/// What one collection may delete: blobs that no reference names and that no pin protected.
pub(crate) struct Sweeper {
    pub(crate) pins: Arc<Pins>,
    pub(crate) live: HashSet<ContentHash>,
}

impl Sweep for Sweeper {
    fn sweep(&self, blob: ContentHash, remove: &mut dyn FnMut() -> Result<(), StoreError>) -> Result<bool, StoreError> {
        if self.live.contains(&blob) {
            return Ok(false);
        }
        // Held across the unlink: a put pins under this lock before it looks at the disk.
        let state = self.pins.lock();
        let protected = state.protected.as_ref().is_some_and(|p| p.contains(&blob)) || state.counts.contains_key(&blob);
        if protected {
            return Ok(false);
        }
        remove()?;
        Ok(true)
    }
}

/// Blobs pinned by one holder (a run, an upload, an edit) until the last clone is dropped.
#[derive(Clone)]
pub(crate) struct Pinned(Arc<PinnedInner>);

struct PinnedInner {
    pins: Arc<Pins>,
    blobs: Mutex<Vec<ContentHash>>,
}

impl Pinned {
    fn new(pins: Arc<Pins>) -> Self {
        Self(Arc::new(PinnedInner {
            pins,
            blobs: Mutex::new(Vec::new()),
        }))
    }

    /// Pins one more blob.
    pub(crate) fn add(&self, blob: ContentHash) {
        self.0.pins.pin(blob);
        self.0.blobs.lock().unwrap_or_else(|e| e.into_inner()).push(blob);
    }
}

impl Drop for PinnedInner {
    fn drop(&mut self) {
        let blobs = std::mem::take(self.blobs.get_mut().unwrap_or_else(|e| e.into_inner()));
        self.pins.unpin(&blobs);
    }
}

/// The blob store as a run sees it: every blob it puts is pinned by the run's holder, which the
/// actor keeps until the commit of the run's result has resolved.
pub(crate) struct PinningBlobs {
    pub(crate) inner: Arc<dyn BlobStore>,
    pub(crate) pinned: Pinned,
}

#[async_trait]
impl BlobStore for PinningBlobs {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        // Pinned before the store looks for an existing copy (see the module docs).
        self.pinned.add(ContentHash::of(&bytes));
        self.inner.put(bytes).await
    }

    async fn get(&self, blob: BlobRef) -> Result<Vec<u8>, StoreError> {
        self.inner.get(blob).await
    }

    async fn contains(&self, blob: BlobRef) -> Result<bool, StoreError> {
        self.inner.contains(blob).await
    }

    async fn collect(&self, sweep: Arc<dyn Sweep>, grace: Duration) -> Result<GcStats, StoreError> {
        self.inner.collect(sweep, grace).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ContentHash {
        ContentHash::of(&[n])
    }

    fn sweeps(sweeper: &Sweeper, blob: ContentHash) -> bool {
        sweeper.sweep(blob, &mut || Ok(())).expect("sweep")
    }

    #[test]
    fn a_pin_made_during_a_collection_protects_after_it_is_released() {
        let pins = Arc::new(Pins::default());
        let before = pins.hold([hash(1)]);
        let collecting = pins.begin_collection();
        drop(before);
        let during = pins.hold([hash(2)]);
        drop(during);
        let sweeper = Sweeper {
            pins: pins.clone(),
            live: HashSet::from([hash(3)]),
        };
        assert!(!sweeps(&sweeper, hash(1)), "pinned when the collection began");
        assert!(!sweeps(&sweeper, hash(2)), "pinned while it ran");
        assert!(!sweeps(&sweeper, hash(3)), "live");
        assert!(sweeps(&sweeper, hash(4)), "neither");
        drop(collecting);
        let next = pins.begin_collection();
        assert!(sweeps(&sweeper, hash(2)), "a later collection may take it");
        drop(next);
    }
}
