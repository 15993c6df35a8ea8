//! The intent classifier on MiniLM (`minilm-l6`, on ONNX Runtime): its accuracy on the labelled
//! set and on the held-out set it was never tuned on. The models are installed as the model
//! tests install them (`SHOWRUNNER_MODELS`, or `~/.cache/showrunner-models/models`); the test
//! fails, never skips, when they cannot be had.

mod common;
#[path = "../../../nodes/models/tests/installed/mod.rs"]
mod installed;

use std::sync::Arc;

use showrunner_chat::confirm::CONFIRM_BELOW;
use showrunner_chat::intent::{IntentClassifier, IntentKind};
use showrunner_onnx::{Device, MINILM_MODEL, MiniLmEmbedder};
use showrunner_story::stock::NODES;

fn embedder() -> Arc<MiniLmEmbedder> {
    let registry = installed::registry(&["onnxruntime", MINILM_MODEL]);
    let embedder = MiniLmEmbedder::from_registry(&registry, MINILM_MODEL, Device::Cpu)
        .unwrap_or_else(|e| panic!("loading MiniLM: {e}"));
    Arc::new(embedder)
}

/// Classifies every row of a set with MiniLM.
fn accuracy(classifier: &IntentClassifier, name: &str) -> (f64, String) {
    common::evaluate(classifier, name, &format!("{name} on MiniLM"))
}

#[test]
fn intent_sets_on_minilm() {
    let classifier = IntentClassifier::new(embedder(), NODES).expect("classifier");
    let (labelled, report) = accuracy(&classifier, "intents.tsv");
    println!("{report}");
    let (holdout, holdout_report) = accuracy(&classifier, "intents_holdout.tsv");
    println!("{holdout_report}");
    assert!(labelled >= 0.90, "{report}");
    assert!(holdout >= 0.80, "{holdout_report}");
    // No misclassification is destructive without a confirmation.
    for set in ["intents.tsv", "intents_holdout.tsv"] {
        for (label, message) in common::load(set) {
            let intent = classifier.classify(&message).expect("classify");
            if intent.kind == IntentKind::Regenerate && label != IntentKind::Regenerate {
                assert!(
                    intent.confidence < CONFIRM_BELOW,
                    "{message:?} ({label}) would be regenerated without asking ({:.2})",
                    intent.confidence
                );
            }
        }
    }
}
