//! The classifier's unit tests (the labelled sets are in `workflows/chat/tests/intent.rs`).

use std::sync::Arc;

use showrunner_backend::{BackendError, BackendResult, Embedder};
use showrunner_procedural::embed::HashedEmbedder;

use super::edits::split_field;
use super::lexicon::word_matches;
use super::message::Message;
use super::*;
use showrunner_story::stock::NODES;

fn classifier() -> IntentClassifier {
    IntentClassifier::new(Arc::new(HashedEmbedder), NODES).expect("classifier")
}

#[test]
fn tokens_keep_possessives_numbers_and_emoji() {
    let message = Message::parse("set Jones' age = 9:16, 'Night' 👍🏽");
    let words: Vec<&str> = message.tokens.iter().map(|t| t.lower.as_str()).collect();
    assert_eq!(words, ["set", "jones'", "age", "=", "9", "16", "night", "👍"]);
    assert_eq!(message.tokens[4].clause, message.tokens[5].clause);
    assert_ne!(message.tokens[5].clause, message.tokens[6].clause);
}

#[test]
fn one_typo_matches_only_long_words() {
    assert!(word_matches("regenrate", "regenerate", true));
    assert!(word_matches("chnage", "change", true));
    assert!(!word_matches("redu", "redo", true));
    assert!(!word_matches("except", "accept", true));
}

#[test]
fn fields_split_from_their_subjects() {
    let split = |text: &str| split_field(&Message::parse(text).tokens);
    assert_eq!(split("the time of day"), Some((None, "time_of_day".into())));
    assert_eq!(split("the voice of Mara"), Some((Some("mara".into()), "voice".into())));
    assert_eq!(
        split("scene 3's location"),
        Some((Some("scene 3".into()), "location".into()))
    );
    assert_eq!(split("Ava props"), Some((Some("ava".into()), "props".into())));
}

#[test]
fn a_wordless_message_is_refused() {
    let classifier = classifier();
    for text in ["", "   ", "?!", "…"] {
        assert!(
            matches!(classifier.classify(text), Err(BackendError::Invalid(_))),
            "{text:?}"
        );
    }
}

#[test]
fn an_embedder_returning_nothing_fails_the_build() {
    struct Mute;
    impl Embedder for Mute {
        fn generator(&self) -> showrunner_story::model::Generator {
            HashedEmbedder.generator()
        }
        fn embed(&self, _: &[&str]) -> BackendResult<Vec<Vec<f32>>> {
            Ok(Vec::new())
        }
    }
    assert!(matches!(
        IntentClassifier::new(Arc::new(Mute), NODES),
        Err(BackendError::Failed(_))
    ));
    assert!(matches!(
        IntentClassifier::new(Arc::new(HashedEmbedder), &[("", &[])]),
        Err(BackendError::Invalid(_))
    ));
}
