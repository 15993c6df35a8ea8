//! ONNX Runtime itself: found, loaded once per process, and the environment every session is
//! made in.
//!
//! `ort` is built with `load-dynamic`: nothing is linked or downloaded at build time, and the
//! library is opened at run time from, in order, `ORT_DYLIB_PATH` (the file itself) or the
//! registry's `onnxruntime` model (`showrunner models install onnxruntime`, the library out of
//! the PyPI wheel). `ort::init_from` returns an error for a library that does not load, where
//! ort's own fallback would panic.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;

use super::OnnxError;
use showrunner_models::{Registry, Role};

/// The environment variable naming the ONNX Runtime library file (ort's own convention).
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// The registry's name for ONNX Runtime.
pub const RUNTIME_MODEL: &str = "onnxruntime";

/// The ONNX Runtime library to load: `ORT_DYLIB_PATH` when set, else the registry's verified
/// `onnxruntime` install.
pub fn library(registry: &Registry) -> Result<PathBuf, OnnxError> {
    if let Some(path) = std::env::var_os(DYLIB_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    Ok(registry.require(RUNTIME_MODEL, Role::Runtime)?.main_file()?)
}

/// The loaded runtime: its environment and the file it came from.
#[derive(Clone)]
pub struct Runtime {
    environment: Environment,
    library: PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static LOADING: Mutex<()> = Mutex::new(());

impl Runtime {
    /// Loads ONNX Runtime from `library` and makes the process's environment, once: a later
    /// call gets the runtime already loaded, whatever path it names (a process can hold one).
    pub fn load(library: &Path) -> Result<Runtime, OnnxError> {
        if let Some(runtime) = RUNTIME.get() {
            return Ok(runtime.clone());
        }
        // One loader at a time: ort allows one environment per process.
        let _guard = LOADING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = RUNTIME.get() {
            return Ok(runtime.clone());
        }
        let failed = |message: String| OnnxError::Runtime {
            library: library.to_owned(),
            message,
        };
        let environment = ort::init_from(library)
            .map_err(|e| failed(e.to_string()))?
            .with_name("showrunner")
            .with_telemetry(false)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let runtime = Runtime {
            environment,
            library: library.to_owned(),
        };
        Ok(RUNTIME.get_or_init(|| runtime).clone())
    }

    /// Finds the library ([`library`]) and loads it.
    pub fn from_registry(registry: &Registry) -> Result<Runtime, OnnxError> {
        if let Some(runtime) = RUNTIME.get() {
            return Ok(runtime.clone());
        }
        Runtime::load(&library(registry)?)
    }

    /// The environment sessions are made in.
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The library file it was loaded from.
    pub fn library(&self) -> &Path {
        &self.library
    }
}
