//! A small real file system for the full-disk tests (the store's, in `storage/tests`, and the
//! server's, in `tests/it`, which includes this file by path): a tmpfs mounted for the test, and
//! helpers that fill it.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// A tmpfs, unmounted when dropped.
pub(crate) struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mb` MB; `None` (the test is skipped) when this machine does not let
    /// the test mount, which CI must (`CI=true`): there it fails with the reason.
    pub(crate) fn mount(mb: u32) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Self { dir }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "the full-disk test needs to mount a tmpfs (run as root): {why}"
                );
                eprintln!("skipped: cannot mount a tmpfs here ({why})");
                None
            }
        }
    }

    /// Where it is mounted.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Free bytes on the file system of `dir`, for an unprivileged writer.
pub(crate) fn free(dir: &Path) -> u64 {
    let stat = rustix::fs::statvfs(dir).expect("statvfs");
    stat.f_bavail * stat.f_frsize
}

/// Fills the file system of `file` with it until fewer than `leave` bytes are free.
pub(crate) fn fill(file: &Path, leave: u64) {
    let mut out = File::create(file).expect("the filler");
    let chunk = vec![7u8; 64 * 1024];
    let dir = file.parent().expect("a directory");
    loop {
        let free = free(dir);
        if free <= leave {
            break;
        }
        let n = usize::try_from((free - leave).min(chunk.len() as u64)).expect("small");
        if out.write_all(&chunk[..n]).is_err() {
            break;
        }
    }
    let _ = out.sync_all();
}
