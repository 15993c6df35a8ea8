//! The content-addressed blob store: one file per blob, named by its BLAKE3 hash.
//!
//! A blob is written to a temporary file, fsynced, renamed to `blobs/<hash>` and the directory
//! fsynced, so a blob name on disk always holds the whole blob, and a blob is durable before the
//! commit that references it. Reads verify the hash.
//!
//! Temporary files are named `<pid>-<n>`: a collection never touches them (a put in flight owns
//! its file, and a failed put removes its own); opening the store removes those of other
//! processes, left by a crash mid-write. Which blobs a collection may delete is the engine's
//! call ([`Sweep`]); a full file system is [`StoreError::Full`], with nothing left behind.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::group_commit::{SLED_RESERVE, free_space};
use async_trait::async_trait;
use showrunner_engine::{BlobRef, BlobStore, ContentHash, GcStats, StoreError, Sweep, write_durably};

const TMP_DIR: &str = "tmp";

/// Free space a blob write leaves on its file system: twice what the store keeps for sled
/// ([`SLED_RESERVE`]), so that on a shared disk blobs run out first and commits go on a while.
const BLOB_RESERVE: u64 = 2 * SLED_RESERVE;

/// Blobs as files under one directory.
#[derive(Debug)]
pub struct FsBlobStore {
    dir: PathBuf,
    counter: AtomicU64,
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
        // Left by a crash mid-write: no process writes them any more.
        let ours = format!("{}-", std::process::id());
        let entries = fs::read_dir(&tmp).map_err(io(format!("listing {}", tmp.display())))?;
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(&ours) {
                remove(&entry.path())?;
            }
        }
        Ok(Self {
            dir,
            counter: AtomicU64::new(0),
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
            return Ok(BlobRef(hash));
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
        let tmp_name = format!("{}-{n}", std::process::id());
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
                let old = fs::metadata(&path).and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
                if old && sweep.sweep(hash, &mut || remove(&path))? {
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
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Sweeps every blob outside a set.
    struct Live(HashSet<ContentHash>);

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

    #[tokio::test]
    async fn a_damaged_blob_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let a = store.put(b"clip".to_vec()).await.expect("put");
        fs::write(store.path(a), b"clip, damaged").expect("damage");
        assert!(matches!(store.get(a).await, Err(StoreError::Corrupt { .. })));
    }
}
