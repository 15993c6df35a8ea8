//! The write-ahead journal: what makes a commit durable with one `fdatasync`.
//!
//! Each group commit's writes are appended here as one record and synced before they are
//! applied to sled; sled then writes them back in its own time, and a checkpoint (sled's flush,
//! an `fdatasync` of its files, a new journal epoch) lets the journal start over. On open, the
//! records of the current epoch are applied to sled again: every record holds absolute writes
//! (a key's new value, or its removal), and sled's durable state is always a prefix of the
//! journal's records (a record is applied only once it is durable), so replaying all of them in
//! order gives exactly the state of the last one.
//!
//! The file is written in full (zeros) before records go into it and grows by doubling, so an
//! append overwrites allocated blocks and its `fdatasync` flushes data only: no file size or
//! extent change to journal. Layout:
//!
//! ```text
//! header (4096 bytes): "SRJ1" · epoch u64 LE · blake3(magic ‖ epoch)[..8]
//! record: len u32 LE · epoch u64 LE · blake3(epoch ‖ len ‖ payload)[..8] · payload · zeros to
//!         the next 4 KiB boundary (records start on page boundaries)
//! payload: count u32 · count × (key len u32 · key · tag u8 (0 remove, 1 insert) · [value len u32 · value])
//! ```
//!
//! Reading stops at the first record whose length is zero, whose epoch is not the header's, or
//! whose checksum fails: a torn append was never acknowledged, and nothing follows it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::group_commit::Op;

const MAGIC: &[u8; 4] = b"SRJ1";
const HEADER_LEN: u64 = 4096;
const RECORD_HEAD: usize = 4 + 8 + 8;
/// The size a new journal starts at.
const INITIAL_LEN: u64 = 1 << 20;
/// The size it may grow to before a checkpoint empties it.
const MAX_LEN: u64 = 64 << 20;
/// Zeros are written in chunks of this size when the file grows.
const ZEROS: usize = 1 << 20;
/// Records start on page boundaries and are written in whole pages, padded with zeros: a sync
/// then writes back full pages that no read has to fill first, as an in-place overwrite does.
const PAGE: u64 = 4096;

fn page_aligned(at: u64) -> u64 {
    at.div_ceil(PAGE) * PAGE
}

/// The journal file and where the next record goes.
pub(crate) struct Journal {
    file: File,
    epoch: u64,
    /// Where the next record starts.
    end: u64,
    /// The file's length; every byte of it has been written.
    len: u64,
}

/// What an append did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// The record is durable.
    Durable,
    /// No room left: checkpoint, then append again.
    Full,
    /// The record is larger than the journal can ever be: write it another way.
    TooLarge,
    /// The file system has no room to grow the journal: nothing was written, the journal is as
    /// it was (a full disk is seen before anything is half-written).
    NoSpace,
}

fn checksum(parts: &[&[u8]]) -> [u8; 8] {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    let mut out = [0; 8];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    out
}

fn header(epoch: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN as usize);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&epoch.to_le_bytes());
    let sum = checksum(&[MAGIC, &epoch.to_le_bytes()]);
    h.extend_from_slice(&sum);
    h.resize(HEADER_LEN as usize, 0);
    h
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the journal {what}"))
}

/// Encodes a group's writes as a record payload.
fn encode(ops: &[Op]) -> Vec<u8> {
    let size: usize = ops
        .iter()
        .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for (key, value) in ops {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
        }
    }
    out
}

/// Decodes a record payload; `None` when it is malformed.
fn decode(mut bytes: &[u8]) -> Option<Vec<Op>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = bytes.split_at_checked(n)?;
        *bytes = rest;
        Some(head)
    }
    fn take_u32(bytes: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?) as usize)
    }
    let count = take_u32(&mut bytes)?;
    let mut ops = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let klen = take_u32(&mut bytes)?;
        let key = take(&mut bytes, klen)?.to_vec();
        let value = match take(&mut bytes, 1)?[0] {
            0 => None,
            1 => {
                let vlen = take_u32(&mut bytes)?;
                Some(take(&mut bytes, vlen)?.to_vec())
            }
            _ => return None,
        };
        ops.push((key, value));
    }
    bytes.is_empty().then_some(ops)
}

impl Journal {
    /// Opens the journal at `path` (creating it, durably, when missing) and returns it with the
    /// records of its current epoch, in order, to apply again.
    pub(crate) fn open(path: &Path) -> io::Result<(Self, Vec<Vec<Op>>)> {
        if !path.exists() {
            Self::create(path)?;
        }
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        if len < HEADER_LEN {
            return Err(corrupt("is shorter than its header"));
        }
        let mut head = [0u8; 20];
        file.read_exact_at(&mut head, 0)?;
        if &head[..4] != MAGIC {
            return Err(corrupt("does not start with its magic bytes"));
        }
        let epoch = u64::from_le_bytes(head[4..12].try_into().map_err(|_| corrupt("header is short"))?);
        if head[12..20] != checksum(&[MAGIC, &epoch.to_le_bytes()]) {
            return Err(corrupt("header's checksum does not match"));
        }
        let mut journal = Self {
            file,
            epoch,
            end: HEADER_LEN,
            len,
        };
        let records = journal.read_records()?;
        Ok((journal, records))
    }

    /// Writes a new, empty journal: the header, zeros up to the initial size, synced with its
    /// directory entry.
    fn create(path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("new");
        {
            let file = File::create(&tmp)?;
            file.write_all_at(&header(1), 0)?;
            write_zeros(&file, HEADER_LEN, INITIAL_LEN)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// The records of the current epoch from the start; leaves `end` after the last one.
    fn read_records(&mut self) -> io::Result<Vec<Vec<Op>>> {
        let mut records = Vec::new();
        let mut at = HEADER_LEN;
        let epoch = self.epoch.to_le_bytes();
        while at + RECORD_HEAD as u64 <= self.len {
            let mut head = [0u8; RECORD_HEAD];
            self.file.read_exact_at(&mut head, at)?;
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as u64;
            if len == 0 || head[4..12] != epoch || at + RECORD_HEAD as u64 + len > self.len {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            self.file.read_exact_at(&mut payload, at + RECORD_HEAD as u64)?;
            if head[12..20] != checksum(&[&epoch, &head[..4], &payload]) {
                break;
            }
            let Some(ops) = decode(&payload) else { break };
            records.push(ops);
            at = page_aligned(at + RECORD_HEAD as u64 + len);
        }
        self.end = at;
        Ok(records)
    }

    /// Appends `ops` as one record and syncs it.
    pub(crate) fn append(&mut self, ops: &[Op]) -> io::Result<Appended> {
        let payload = encode(ops);
        let need = page_aligned((RECORD_HEAD + payload.len()) as u64);
        if HEADER_LEN + need > MAX_LEN {
            return Ok(Appended::TooLarge);
        }
        if self.end + need > self.len {
            if self.len >= MAX_LEN {
                return Ok(Appended::Full);
            }
            if let Err(e) = self.grow(self.end + need) {
                if !full(&e) {
                    return Err(e);
                }
                // Give back what the failed growth took: the records so far are untouched.
                self.file.set_len(self.len)?;
                return Ok(Appended::NoSpace);
            }
        }
        let mut record = Vec::with_capacity(need as usize);
        let len = (payload.len() as u32).to_le_bytes();
        let epoch = self.epoch.to_le_bytes();
        record.extend_from_slice(&len);
        record.extend_from_slice(&epoch);
        record.extend_from_slice(&checksum(&[&epoch, &len, &payload]));
        record.extend_from_slice(&payload);
        record.resize(need as usize, 0);
        self.file.write_all_at(&record, self.end)?;
        self.file.sync_data()?;
        self.end += need;
        Ok(Appended::Durable)
    }

    /// Doubles the file (up to the largest size) until `at_least` bytes fit, writing zeros.
    fn grow(&mut self, at_least: u64) -> io::Result<()> {
        let mut len = self.len;
        while len < at_least && len < MAX_LEN {
            len = (len * 2).min(MAX_LEN);
        }
        write_zeros(&self.file, self.len, len)?;
        // The new length is metadata: a full sync, once per growth.
        self.file.sync_all()?;
        self.len = len;
        Ok(())
    }

    /// Starts a new epoch: the records so far are no longer read. Called once everything they
    /// hold is durable elsewhere.
    pub(crate) fn reset(&mut self) -> io::Result<()> {
        self.epoch += 1;
        self.file.write_all_at(&header(self.epoch), 0)?;
        self.file.sync_data()?;
        self.end = HEADER_LEN;
        Ok(())
    }

    /// The bytes of records waiting for a checkpoint.
    pub(crate) fn pending_bytes(&self) -> u64 {
        self.end - HEADER_LEN
    }

    /// True when records are waiting for a checkpoint.
    pub(crate) fn is_empty(&self) -> bool {
        self.end == HEADER_LEN
    }
}

/// True for the errors of a full file system (or a spent quota).
pub(crate) fn full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

fn write_zeros(file: &File, from: u64, to: u64) -> io::Result<()> {
    let zeros = vec![0u8; ZEROS];
    let mut at = from;
    while at < to {
        let n = ((to - at) as usize).min(ZEROS);
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(k: &str, v: Option<&str>) -> Op {
        (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))
    }

    #[test]
    fn records_come_back_in_order_until_a_reset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let (mut journal, records) = Journal::open(&path).expect("a new journal");
        assert!(records.is_empty() && journal.is_empty());
        let first = vec![op("a", Some("1")), op("b", None)];
        let second = vec![op("a", Some("2"))];
        assert_eq!(journal.append(&first).expect("append"), Appended::Durable);
        assert_eq!(journal.append(&second).expect("append"), Appended::Durable);
        drop(journal);
        let (mut journal, records) = Journal::open(&path).expect("reopened");
        assert_eq!(records, vec![first, second.clone()]);
        journal.reset().expect("reset");
        let third = vec![op("c", Some("3"))];
        journal.append(&third).expect("append");
        drop(journal);
        let (_, records) = Journal::open(&path).expect("reopened");
        assert_eq!(records, vec![third], "the old epoch's records are not read");
    }

    #[test]
    fn a_torn_record_ends_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path).expect("a new journal");
        journal.append(&[op("a", Some("1"))]).expect("append");
        let torn_at = journal.end;
        journal.append(&[op("b", Some("22222222"))]).expect("append");
        journal.append(&[op("c", Some("3"))]).expect("append");
        // Damage the second record's payload: it and everything after it are dropped.
        assert_eq!(torn_at % PAGE, 0, "records start on pages");
        journal
            .file
            .write_all_at(b"X", torn_at + RECORD_HEAD as u64 + 6)
            .expect("damage");
        drop(journal);
        let (journal, records) = Journal::open(&path).expect("reopened");
        assert_eq!(records, vec![vec![op("a", Some("1"))]]);
        assert_eq!(journal.end, torn_at, "the next record overwrites the torn one");
    }

    #[test]
    fn the_journal_grows_then_reports_full_and_too_large() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path).expect("a new journal");
        let big = "x".repeat(3 << 20);
        assert_eq!(
            journal.append(&[op("big", Some(&big))]).expect("append"),
            Appended::Durable
        );
        assert!(journal.len >= 4 << 20, "grew to fit: {}", journal.len);
        let huge = "y".repeat(MAX_LEN as usize);
        assert_eq!(
            journal.append(&[op("huge", Some(&huge))]).expect("append"),
            Appended::TooLarge
        );
        let mut appended = 0;
        let chunk = "z".repeat(8 << 20);
        loop {
            match journal.append(&[op("chunk", Some(&chunk))]).expect("append") {
                Appended::Durable => appended += 1,
                Appended::Full => break,
                Appended::TooLarge | Appended::NoSpace => panic!("an 8 MiB record fits"),
            }
        }
        assert!(appended >= 6, "{appended}");
        assert_eq!(journal.len, MAX_LEN);
        journal.reset().expect("reset");
        assert_eq!(
            journal.append(&[op("chunk", Some(&chunk))]).expect("append"),
            Appended::Durable
        );
    }

    #[test]
    fn a_damaged_header_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("journal");
        drop(Journal::open(&path).expect("a new journal"));
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.write_all_at(b"\x07", 5).expect("damage");
        let error = Journal::open(&path).err().expect("refused");
        assert!(error.to_string().contains("checksum"), "{error}");
    }
}
