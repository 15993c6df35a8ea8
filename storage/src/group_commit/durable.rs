//! Durability of sled's own files after a flush, checkpoints, and the free space a group needs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use showrunner_engine::StoreError;

use crate::journal::Journal;

use super::backend;

/// The files sled writes, made durable after each flush.
///
/// sled 0.34's flush ends in `sync_file_range`, which survives a process crash but neither
/// flushes the disk's write cache nor the file's metadata, and it writes large pages to
/// `blobs/` without any sync. So after sled's flush the writer calls `fdatasync` on the log file
/// and, when the blob directory changed, `fsync` on the new blob files and the directory.
pub(crate) struct DurableFiles {
    /// The store's directory.
    pub(super) dir: PathBuf,
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
            dir: path.to_owned(),
            log,
            blobs: path.join("blobs"),
            blobs_seen: None,
        })
    }

    pub(super) fn sync(&mut self) -> std::io::Result<()> {
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

pub(super) fn io_error(context: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        context: context.to_owned(),
        source,
    }
}

/// Everything sled holds made durable in its own files, and the journal emptied.
pub(crate) fn checkpoint(db: &sled::Db, files: &mut DurableFiles, journal: &mut Journal) -> Result<(), StoreError> {
    db.flush().map_err(backend)?;
    files.sync().map_err(io_error("syncing the store's files"))?;
    journal.reset().map_err(io_error("starting a new journal epoch"))
}

/// Free space kept for sled beyond twice what the journal holds: what its write-back and its
/// snapshots may need. [`crate::FsBlobStore`] keeps more free (`BLOB_RESERVE`), so that blobs
/// run out before commits do.
pub(crate) const SLED_RESERVE: u64 = 2 << 20;

/// The free space kept for sled while the journal holds `journaled` bytes it has not written
/// back: twice those (sled writes pages, not only the changes) and [`SLED_RESERVE`].
pub(super) fn room(journaled: u64) -> u64 {
    2 * journaled + SLED_RESERVE
}

/// The bytes free for an unprivileged writer on the file system that holds `path`; `None` when
/// that cannot be told (the check is then skipped).
pub(crate) fn free_space(path: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(path).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}
