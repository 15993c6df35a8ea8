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

/// `samples` times: overwrite 4 KiB inside a file that was written in full and synced before,
/// then `fdatasync` it. Nothing but data changes, so this is the cheapest durable write the disk
/// offers (what a preallocated log pays).
pub fn overwrite_and_sync(dir: &Path, samples: usize) -> Samples {
    use std::os::unix::fs::FileExt;
    const SLOTS: u64 = 256;
    let path = dir.join("fdatasync-probe.log");
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("creating the fdatasync probe file");
    let block = vec![0xA5u8; 4096];
    for slot in 0..SLOTS {
        file.write_all_at(&block, slot * 4096).expect("writing the probe file");
    }
    file.sync_all().expect("fsync");
    let once = |n: usize| {
        file.write_all_at(&block, (n as u64 % SLOTS) * 4096)
            .expect("overwriting 4 KiB");
        file.sync_data().expect("fdatasync");
    };
    for n in 0..20 {
        once(n);
    }
    let mut lat = Vec::with_capacity(samples);
    for n in 0..samples {
        let t = Instant::now();
        once(n);
        lat.push(nanos(t.elapsed()));
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    Samples::new(lat)
}
