//! Scenario 1: what one durable append costs on this disk, with nothing else in the way.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::common::{Samples, nanos};

/// How the file is made durable after each append.
#[derive(Clone, Copy)]
pub enum Sync {
    /// `fdatasync` (`File::sync_data` on Linux).
    Data,
    /// `fsync` (`File::sync_all`).
    All,
}

/// `samples` times: append 4 KiB at the end of a file, then sync it. The file grows with every
/// append, so the sync also has to persist the new size (as a log append does).
pub fn append_and_sync(dir: &Path, samples: usize, sync: Sync) -> Samples {
    let path = dir.join("fsync-probe.log");
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .expect("creating the fsync probe file");
    let block = vec![0xA5u8; 4096];
    let once = |file: &mut std::fs::File| {
        file.write_all(&block).expect("appending 4 KiB");
        match sync {
            Sync::Data => file.sync_data().expect("fdatasync"),
            Sync::All => file.sync_all().expect("fsync"),
        }
    };
    for _ in 0..20 {
        once(&mut file);
    }
    let mut lat = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t = Instant::now();
        once(&mut file);
        lat.push(nanos(t.elapsed()));
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    Samples::new(lat)
}

/// A file written in full and synced, whose 4 KiB blocks are overwritten in place and
/// `fdatasync`ed: nothing but data changes, so this is the cheapest durable write the disk offers
/// (what a preallocated log pays). Removed when dropped.
pub struct OverwriteProbe {
    file: std::fs::File,
    path: std::path::PathBuf,
    block: Vec<u8>,
    next: u64,
}

impl OverwriteProbe {
    const SLOTS: u64 = 256;

    /// Creates the file in `dir` and warms it up with 20 syncs.
    pub fn new(dir: &Path) -> Self {
        use std::os::unix::fs::FileExt;
        let path = dir.join("fdatasync-probe.log");
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .expect("creating the fdatasync probe file");
        let block = vec![0xA5u8; 4096];
        for slot in 0..Self::SLOTS {
            file.write_all_at(&block, slot * 4096).expect("writing the probe file");
        }
        file.sync_all().expect("fsync");
        let mut probe = Self {
            file,
            path,
            block,
            next: 0,
        };
        probe.samples(20);
        probe
    }

    /// `n` timed overwrites, each with its `fdatasync`, in nanoseconds.
    pub fn samples(&mut self, n: usize) -> Vec<u64> {
        use std::os::unix::fs::FileExt;
        (0..n)
            .map(|_| {
                let t = Instant::now();
                self.file
                    .write_all_at(&self.block, (self.next % Self::SLOTS) * 4096)
                    .expect("overwriting 4 KiB");
                self.file.sync_data().expect("fdatasync");
                self.next += 1;
                nanos(t.elapsed())
            })
            .collect()
    }
}

impl Drop for OverwriteProbe {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `samples` overwrites in place, each with its `fdatasync` ([`OverwriteProbe`]).
pub fn overwrite_and_sync(dir: &Path, samples: usize) -> Samples {
    Samples::new(OverwriteProbe::new(dir).samples(samples))
}
