//! Checking a model's files against its manifest: size, then sha256.
//!
//! Hashing a 100 MB GGUF at every start would cost a fraction of a second each time, so a
//! verified file's stamp (size, modification and change times, inode) is remembered in
//! `MODEL/.verified.json`; a file whose stamp still matches is not hashed again. The change
//! time (ctime) moves on every write and cannot be set back by a program, and a copy has
//! another inode, so a file changed or replaced since is hashed again.
//!
//! A stamp taken within [`RACY_WINDOW`] of the file's last change is not remembered: a write in
//! the same clock tick as the verification would leave the times unchanged (git's "racily
//! clean" problem), so such a file is hashed again next time. The cache is a hint: losing it, or
//! failing to write it, only costs a hash.

use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::{RegistryError, RegistryResult};
use super::manifest::Manifest;

/// The cache's file name inside a model's directory.
pub const CACHE_FILE: &str = ".verified.json";

/// How old a file's last change must be before its verification is remembered.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// The sha256 of everything `reader` yields, lowercase hex, with the byte count.
pub fn sha256_reader(mut reader: impl Read) -> std::io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

/// The sha256 of a file, lowercase hex, with its size.
pub fn sha256_file(path: &Path) -> RegistryResult<(String, u64)> {
    let file = File::open(path).map_err(RegistryError::io("opening", path))?;
    sha256_reader(file).map_err(RegistryError::io("reading", path))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// What identifies one state of a file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    modified_ns: i128,
    changed_ns: i128,
    inode: u64,
    device: u64,
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        let nanos = |t: std::io::Result<SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128)
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Stamp {
                size: meta.len(),
                modified_ns: nanos(meta.modified()),
                changed_ns: meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
                inode: meta.ino(),
                device: meta.dev(),
            }
        }
        #[cfg(not(unix))]
        {
            Stamp {
                size: meta.len(),
                modified_ns: nanos(meta.modified()),
                changed_ns: 0,
                inode: 0,
                device: 0,
            }
        }
    }

    /// Whether the file last changed long enough ago for the stamp to identify its content.
    fn settled(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let cutoff = now.as_nanos() as i128 - RACY_WINDOW.as_nanos() as i128;
        self.modified_ns < cutoff && self.changed_ns < cutoff
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    files: BTreeMap<PathBuf, CachedFile>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedFile {
    stamp: Stamp,
    sha256: String,
}

fn load_cache(dir: &Path) -> Cache {
    std::fs::read(dir.join(CACHE_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn store_cache(dir: &Path, cache: &Cache) {
    // Best effort: a read-only models folder just means hashing again next time.
    let Ok(bytes) = serde_json::to_vec_pretty(cache) else {
        return;
    };
    let tmp = dir.join(format!("{CACHE_FILE}.{}.tmp", std::process::id()));
    let written = File::create(&tmp).and_then(|mut f| f.write_all(&bytes));
    if written.is_err() || std::fs::rename(&tmp, dir.join(CACHE_FILE)).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Where a manifest's file is: relative paths are inside `dir`, absolute ones (registered
/// files used in place) are where they are.
pub fn resolve(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        dir.join(path)
    }
}

/// Checks every file of the model in `dir` against `manifest`: present, the right size, the
/// right sha256 (or an unchanged stamp of a file that had it). The first bad file is the error.
pub fn verify(dir: &Path, manifest: &Manifest) -> RegistryResult<()> {
    let mut cache = load_cache(dir);
    let mut changed = false;
    let now = SystemTime::now();
    let corrupt = |file: &Path, reason: String| RegistryError::Corrupt {
        name: manifest.name.clone(),
        file: file.to_owned(),
        reason,
        fix: manifest.fix_command(),
    };
    for entry in &manifest.files {
        let path = resolve(dir, &entry.path);
        let meta = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => meta,
            Ok(_) => return Err(corrupt(&path, "not a file".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(corrupt(&path, "missing".into())),
            Err(e) => return Err(RegistryError::io("reading", &path)(e)),
        };
        if meta.len() != entry.size {
            return Err(corrupt(&path, format!("{} bytes, expected {}", meta.len(), entry.size)));
        }
        let stamp = Stamp::of(&meta);
        let cached = cache.files.get(&entry.path);
        if cached.is_some_and(|c| c.stamp == stamp && c.sha256 == entry.sha256) {
            continue;
        }
        let (sha256, size) = sha256_file(&path)?;
        if size != entry.size || sha256 != entry.sha256 {
            cache.files.remove(&entry.path);
            store_cache(dir, &cache);
            return Err(corrupt(&path, format!("sha256 {sha256}, expected {}", entry.sha256)));
        }
        if stamp.settled(now) {
            cache.files.insert(entry.path.clone(), CachedFile { stamp, sha256 });
            changed = true;
        }
    }
    if changed {
        store_cache(dir, &cache);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        let (sum, n) = sha256_reader(&b"abc"[..]).expect("hash");
        assert_eq!(n, 3);
        assert_eq!(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_remembered_stamp_skips_the_hash_until_the_file_changes() {
        use crate::manifest::{FileEntry, Format, MANIFEST_VERSION, Role};
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("w.onnx");
        std::fs::write(&file, b"bbbb").expect("write");
        let (good, _) = sha256_reader(&b"aaaa"[..]).expect("hash");
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            name: "m".into(),
            role: Role::Speech,
            format: Format::Onnx,
            description: String::new(),
            licence: String::new(),
            sources: vec![],
            files: vec![FileEntry {
                path: "w.onnx".into(),
                size: 4,
                sha256: good.clone(),
                origin: None,
            }],
            inputs: vec![],
            outputs: vec![],
            parameters: Default::default(),
        };
        assert!(matches!(
            verify(dir.path(), &manifest),
            Err(RegistryError::Corrupt { .. })
        ));
        // Plant a cache entry saying the file as it is now has the expected hash: trusted.
        let stamp = Stamp::of(&std::fs::metadata(&file).expect("stat"));
        let mut cache = Cache::default();
        cache.files.insert("w.onnx".into(), CachedFile { stamp, sha256: good });
        store_cache(dir.path(), &cache);
        verify(dir.path(), &manifest).expect("the remembered stamp is trusted");
        // Any write moves ctime (past the clock's tick): hashed again, refused.
        std::thread::sleep(Duration::from_millis(30));
        std::fs::write(&file, b"bbbb").expect("rewrite");
        assert!(matches!(
            verify(dir.path(), &manifest),
            Err(RegistryError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_fresh_stamp_is_not_settled() {
        let now = SystemTime::now();
        let ns = now.duration_since(SystemTime::UNIX_EPOCH).expect("clock").as_nanos() as i128;
        let stamp = |age: i128| Stamp {
            size: 1,
            modified_ns: ns - age,
            changed_ns: ns - age,
            inode: 1,
            device: 1,
        };
        assert!(!stamp(0).settled(now));
        assert!(stamp(10_000_000_000).settled(now));
    }
}
