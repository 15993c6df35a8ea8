//! One durable, atomic file write, for every crate that keeps a file of its own beside the
//! store (the blob store's blobs, the API's stored answers): a crash leaves the old file or the
//! whole new one, never a part.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A step of [`write_durably`] that failed: what it was doing, to which path, and why.
#[derive(Debug, thiserror::Error)]
#[error("{step} {}: {source}", path.display())]
pub struct DurableWriteError {
    /// What it was doing: `creating`, `writing`, `syncing`, `renaming into`, `syncing directory`.
    pub step: &'static str,
    /// The file or directory it was doing it to.
    pub path: PathBuf,
    /// Why it failed.
    #[source]
    pub source: std::io::Error,
}

/// Writes `bytes` to `target` atomically and durably: into `tmp` (on the same file system)
/// first, synced, renamed over `target`, then `target`'s directory synced, so that once this
/// returns the file survives a power cut, and a crash before leaves `target` as it was. On an
/// error `tmp` is removed, so a full disk keeps no half-written file taking its space.
///
/// # Errors
///
/// [`DurableWriteError`] naming the step and the path.
pub fn write_durably(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<(), DurableWriteError> {
    let failed = |step: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| DurableWriteError { step, path, source }
    };
    let written = File::create(tmp)
        .map_err(failed("creating", tmp))
        .and_then(|mut file| {
            file.write_all(bytes).map_err(failed("writing", tmp))?;
            file.sync_all().map_err(failed("syncing", tmp))
        })
        .and_then(|()| std::fs::rename(tmp, target).map_err(failed("renaming into", target)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    let dir = target
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed("syncing directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tmp, target) = (dir.path().join("x.tmp"), dir.path().join("x"));
        write_durably(&tmp, &target, b"first").expect("write");
        write_durably(&tmp, &target, b"second").expect("write");
        assert_eq!(std::fs::read(&target).expect("read"), b"second");
        assert!(!tmp.exists());
        let missing = dir.path().join("no-such-dir").join("y");
        let error = write_durably(&missing.with_extension("tmp"), &missing, b"z").expect_err("no directory");
        assert_eq!(error.step, "creating");
    }
}
