//! The content-addressed blob store: one file per blob, named by its BLAKE3 hash.
//!
//! A blob is written to a temporary file, fsynced, renamed to `blobs/<hash>` and the directory
//! fsynced, so a blob name on disk always holds the whole blob, and a blob is durable before the
//! commit that references it. Reads verify the hash.
//!
//! Temporary files are named `<pid>-<ulid>-<n>` (unique across machines): a collection never
//! touches them (a put in flight owns
//! its file, and a failed put removes its own); opening the store removes those older than an
//! hour, left by a crash mid-write (a younger one may be another live process's: several
//! processes, on this machine or others, may share one directory). Which blobs a collection may
//! delete is the engine's call ([`Sweep`]); a full file system is [`StoreError::Full`], with
//! nothing left behind.
//!
//! Several processes on one directory: a put of a blob that is already there makes it young
//! again (its modification time), so that another process's collection, which only offers blobs
//! older than its grace period, leaves a blob alone that was just put for a commit to come; and a
//! collection checks a blob's age again right before removing it.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::group_commit::{SLED_RESERVE, free_space};
use async_trait::async_trait;
use showrunner_engine::{BlobRef, BlobStore, ContentHash, GcStats, StoreError, Sweep, write_durably};

const TMP_DIR: &str = "tmp";

/// The age past which a temporary file is a crashed write's leftover, not a live put's.
const TMP_LEFTOVER: Duration = Duration::from_secs(3600);

/// Free space a blob write leaves on its file system: twice what the store keeps for sled
/// ([`SLED_RESERVE`]), so that on a shared disk blobs run out first and commits go on a while.
const BLOB_RESERVE: u64 = 2 * SLED_RESERVE;

/// Blobs as files under one directory.
#[derive(Debug)]
pub struct FsBlobStore {
    dir: PathBuf,
    counter: AtomicU64,
    /// This opener's part of its temporary files' names: the process id and a ULID (80 random
    /// bits), so that processes on different machines or containers (where process ids repeat)
    /// never write the same temporary file.
    token: String,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::io(context, source)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("syncing directory {}", dir.display())))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("blob task failed: {e}")))?
}

impl FsBlobStore {
    /// Opens (creating if needed) a blob store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let tmp = dir.join(TMP_DIR);
        fs::create_dir_all(&tmp).map_err(io(format!("creating {}", dir.display())))?;
        // Left by a crash mid-write: old enough that no live put still writes them.
        let token = format!("{}-{}", std::process::id(), showrunner_engine::EpisodeId::generate());
        let ours = format!("{token}-");
        let cutoff = SystemTime::now()
            .checked_sub(TMP_LEFTOVER)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let entries = fs::read_dir(&tmp).map_err(io(format!("listing {}", tmp.display())))?;
        for entry in entries.flatten() {
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
            if old && !entry.file_name().to_string_lossy().starts_with(&ours) {
                remove(&entry.path())?;
            }
        }
        Ok(Self {
            dir,
            counter: AtomicU64::new(0),
            token,
        })
    }

    /// The file that holds `blob`.
    pub fn path(&self, blob: BlobRef) -> PathBuf {
        self.dir.join(blob.0.to_hex())
    }

    fn put_sync(dir: &Path, tmp_name: String, bytes: &[u8]) -> Result<BlobRef, StoreError> {
        let hash = ContentHash::of(bytes);
        let target = dir.join(hash.to_hex());
        if target.exists() {
            // Young again, so that no process's collection takes it from the commit to come.
            let touched = File::options()
                .write(true)
                .open(&target)
                .and_then(|f| f.set_modified(SystemTime::now()));
            match touched {
                Ok(()) => return Ok(BlobRef(hash)),
                // Collected meanwhile: written again below.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(format!("touching {}", target.display()), e)),
            }
        }
        // Blobs stop short of the space the store keeps for its own writes.
        if free_space(dir).is_some_and(|free| free < bytes.len() as u64 + BLOB_RESERVE) {
            return Err(StoreError::Full {
                context: format!("blob {hash}"),
            });
        }
        let tmp = dir.join(TMP_DIR).join(tmp_name);
        write_durably(&tmp, &target, bytes)
            .map_err(|e| StoreError::io(format!("{} {}", e.step, e.path.display()), e.source))?;
        Ok(BlobRef(hash))
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        let dir = self.dir.clone();
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp_name = format!("{}-{n}", self.token);
        blocking(move || Self::put_sync(&dir, tmp_name, &bytes)).await
    }

    async fn get(&self, blob: BlobRef) -> Result<Vec<u8>, StoreError> {
        let path = self.path(blob);
        blocking(move || {
            let bytes = fs::read(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StoreError::NotFound(format!("blob {}", blob.0)),
                _ => StoreError::Io {
                    context: format!("reading {}", path.display()),
                    source: e,
                },
            })?;
            if ContentHash::of(&bytes) != blob.0 {
                return Err(StoreError::Corrupt {
                    episode: None,
                    what: format!("blob {} does not match its hash", blob.0),
                });
            }
            Ok(bytes)
        })
        .await
    }

    async fn contains(&self, blob: BlobRef) -> Result<bool, StoreError> {
        let path = self.path(blob);
        blocking(move || Ok(path.exists())).await
    }

    async fn collect(&self, sweep: Arc<dyn Sweep>, grace: Duration) -> Result<GcStats, StoreError> {
        let dir = self.dir.clone();
        blocking(move || {
            let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
            let mut stats = GcStats::default();
            let entries = fs::read_dir(&dir).map_err(io(format!("listing {}", dir.display())))?;
            for entry in entries {
                let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
                let name = entry.file_name();
                let Some(hash) = name.to_str().and_then(ContentHash::from_hex) else {
                    continue;
                };
                let path = entry.path();
                // A blob gone since the listing has no age: nothing to do.
                let old = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
                if !old(&path) {
                    stats.kept += 1;
                    continue;
                }
                // Aged again right before the removal: another process may have put it since.
                let mut put_again = false;
                let swept = sweep.sweep(hash, &mut || match old(&path) {
                    true => remove(&path),
                    false => {
                        put_again = true;
                        Ok(())
                    }
                })?;
                let removed = swept && !put_again;
                if removed {
                    stats.removed += 1;
                } else {
                    stats.kept += 1;
                }
            }
            sync_dir(&dir)?;
            Ok(stats)
        })
        .await
    }
}

/// Removes a file; one already gone is fine.
fn remove(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(StoreError::io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Sweeps every blob outside a set (the blob stores' tests share it).
    pub(crate) struct Live(pub(crate) HashSet<ContentHash>);

    impl Sweep for Live {
        fn sweep(
            &self,
            blob: ContentHash,
            remove: &mut dyn FnMut() -> Result<(), StoreError>,
        ) -> Result<bool, StoreError> {
            if self.0.contains(&blob) {
                return Ok(false);
            }
            remove().map(|()| true)
        }
    }

    #[tokio::test]
    async fn put_get_dedup_and_collect() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path().join("blobs")).expect("open");
        let a = store.put(b"frame a".to_vec()).await.expect("put");
        let again = store.put(b"frame a".to_vec()).await.expect("put");
        let b = store.put(b"frame b".to_vec()).await.expect("put");
        assert_eq!(a, again);
        assert_eq!(store.get(a).await.expect("get"), b"frame a");
        let live = Arc::new(Live(HashSet::from([a.0])));
        // Too young: nothing is removed yet.
        assert_eq!(
            store
                .collect(live.clone(), Duration::from_secs(3600))
                .await
                .expect("gc")
                .removed,
            0
        );
        let stats = store.collect(live, Duration::ZERO).await.expect("gc");
        assert_eq!(stats, GcStats { removed: 1, kept: 1 });
        assert!(store.contains(a).await.expect("contains"));
        assert!(!store.contains(b).await.expect("contains"));
        assert!(matches!(store.get(b).await, Err(StoreError::NotFound(_))));
    }

    /// Sets a file's modification time `ago` in the past.
    fn age(path: &Path, ago: Duration) {
        let when = SystemTime::now() - ago;
        File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(when))
            .expect("age the file");
    }

    #[tokio::test]
    async fn a_put_of_a_stored_blob_makes_it_young_again_for_every_collection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let a = store.put(b"portrait".to_vec()).await.expect("put");
        let nothing_lives = Arc::new(Live(HashSet::new()));
        age(&store.path(a), Duration::from_secs(7200));
        // Another process puts the same bytes for a commit of its own: young again, kept.
        let other = FsBlobStore::open(dir.path()).expect("a second opener");
        assert_eq!(other.put(b"portrait".to_vec()).await.expect("put again"), a);
        let stats = store
            .collect(nothing_lives.clone(), Duration::from_secs(3600))
            .await
            .expect("gc");
        assert_eq!(stats, GcStats { removed: 0, kept: 1 });
        // Old again and put by nobody: collected.
        age(&store.path(a), Duration::from_secs(7200));
        let stats = store
            .collect(nothing_lives, Duration::from_secs(3600))
            .await
            .expect("gc");
        assert_eq!(stats, GcStats { removed: 1, kept: 0 });
        assert!(!store.contains(a).await.expect("contains"));
    }

    /// Sweeps everything, but another process puts each blob again just before the removal.
    struct PutMeanwhile(PathBuf);

    impl Sweep for PutMeanwhile {
        fn sweep(
            &self,
            blob: ContentHash,
            remove: &mut dyn FnMut() -> Result<(), StoreError>,
        ) -> Result<bool, StoreError> {
            File::options()
                .write(true)
                .open(self.0.join(blob.to_hex()))
                .and_then(|f| f.set_modified(SystemTime::now()))
                .expect("touch");
            remove().map(|()| true)
        }
    }

    #[tokio::test]
    async fn a_blob_put_again_while_it_is_swept_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let a = store.put(b"clip".to_vec()).await.expect("put");
        age(&store.path(a), Duration::from_secs(7200));
        let sweep = Arc::new(PutMeanwhile(dir.path().to_path_buf()));
        let stats = store.collect(sweep, Duration::from_secs(3600)).await.expect("gc");
        assert_eq!(stats, GcStats { removed: 0, kept: 1 });
        assert_eq!(store.get(a).await.expect("still there"), b"clip");
    }

    #[test]
    fn opening_leaves_a_live_writers_temporary_file_and_removes_a_crashed_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(FsBlobStore::open(dir.path()).expect("open"));
        let tmp = dir.path().join(TMP_DIR);
        let (live, crashed) = (tmp.join("999991-0"), tmp.join("999992-0"));
        fs::write(&live, b"half a frame").expect("write");
        fs::write(&crashed, b"half a frame").expect("write");
        age(&crashed, Duration::from_secs(7200));
        drop(FsBlobStore::open(dir.path()).expect("reopen"));
        assert!(live.exists(), "another process's put in flight is left alone");
        assert!(!crashed.exists(), "a crashed write's leftover is removed");
    }

    #[tokio::test]
    async fn a_damaged_blob_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let a = store.put(b"clip".to_vec()).await.expect("put");
        fs::write(store.path(a), b"clip, damaged").expect("damage");
        assert!(matches!(store.get(a).await, Err(StoreError::Corrupt { .. })));
    }
}
