//! The labelled chat messages of `tests/fixtures/intents*.tsv`, shared by the classifier's tests
//! on the built-in embedder and on MiniLM.

use std::collections::BTreeMap;
use std::path::Path;

use showrunner_chat::intent::{IntentClassifier, IntentKind};

/// The rows of a labelled set: the expected intent and the message.
pub fn load(name: &str) -> Vec<(IntentKind, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).expect("read fixture");
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (label, message) = line.split_once('\t').unwrap_or_else(|| panic!("no tab in {line:?}"));
            let kind: IntentKind = serde_json::from_value(serde_json::Value::String(label.into()))
                .unwrap_or_else(|e| panic!("label {label:?}: {e}"));
            (kind, message.to_string())
        })
        .collect()
}

/// Classifies every row of the set `name`; returns the accuracy and a report of the confusion
/// and the misses, headed by `label`.
pub fn evaluate(classifier: &IntentClassifier, name: &str, label: &str) -> (f64, String) {
    let rows = load(name);
    let mut confusion: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut misses = Vec::new();
    for (expected, message) in &rows {
        let intent = classifier.classify(message).expect("classify");
        *confusion.entry((expected.name(), intent.kind.name())).or_default() += 1;
        if intent.kind != *expected {
            misses.push(format!(
                "  {expected} → {} ({:.2}): {message}",
                intent.kind, intent.confidence
            ));
        }
    }
    let correct = rows.len() - misses.len();
    let accuracy = correct as f64 / rows.len() as f64;
    let mut report = format!(
        "{label}: {correct}/{} = {accuracy:.3}\nconfusion (expected → got):\n",
        rows.len()
    );
    for ((expected, got), n) in &confusion {
        report.push_str(&format!("  {expected:>10} → {got:<10} {n}\n"));
    }
    report.push_str("misses:\n");
    report.push_str(&misses.join("\n"));
    (accuracy, report)
}
