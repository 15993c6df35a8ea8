//! [`StoreLock`]: one process per store. sled locks its own files too, but its refusal is a raw
//! `EWOULDBLOCK`; this lock, taken first, names the process that holds the store.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use showrunner_engine::StoreError;

/// The lock file, next to sled's files: it holds the PID of the process that has the store open.
const LOCK_FILE: &str = "showrunner.pid";

/// An exclusive lock on a store's directory, held until dropped.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the lock of the store at `dir` (created if missing), or says which process holds
    /// it ([`StoreError::InUse`]). Another handle of this process may be letting go: that is
    /// waited for a moment, as sled's own lock is.
    pub(crate) fn take(dir: &Path) -> Result<Self, StoreError> {
        let io = |what: &str| {
            let context = format!("{what} {}", dir.join(LOCK_FILE).display());
            move |source| StoreError::io(context, source)
        };
        std::fs::create_dir_all(dir).map_err(io("creating the directory of"))?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io("opening"))?;
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file
                        .seek(SeekFrom::Start(0))
                        .and_then(|_| file.read_to_string(&mut text));
                    let pid = text.trim().parse::<u32>().ok();
                    if pid == Some(std::process::id()) && tries < 100 {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                    return Err(StoreError::InUse {
                        path: dir.display().to_string(),
                        pid,
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io("locking")(e)),
            }
        }
        file.set_len(0).map_err(io("writing"))?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| write!(file, "{}", std::process::id()))
            .map_err(io("writing"))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = StoreLock::take(dir.path()).expect("the first lock");
        // As another process would see it: the same lock file, a PID that is not ours.
        std::fs::write(dir.path().join(LOCK_FILE), "4242").expect("write");
        let error = StoreLock::take(dir.path()).expect_err("refused");
        assert_eq!(
            error.to_string(),
            format!("the store at {} is in use by process 4242", dir.path().display())
        );
        drop(held);
        StoreLock::take(dir.path()).expect("free again");
    }
}
