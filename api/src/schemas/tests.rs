use showrunner_engine::EventKind as Engine;

use super::*;

/// The `type` of an engine event. The match has no wildcard: a kind the engine gains does not
/// compile here until it is named, and the test below then wants its schema.
fn kind_name(kind: &Engine) -> &'static str {
    match kind {
        Engine::EpisodeCreated { .. } => "EpisodeCreated",
        Engine::ItemsChanged { .. } => "ItemsChanged",
        Engine::NodeReady { .. } => "NodeReady",
        Engine::NodeBlocked { .. } => "NodeBlocked",
        Engine::NodeStarted { .. } => "NodeStarted",
        Engine::NodeProgress { .. } => "NodeProgress",
        Engine::NodeProduced { .. } => "NodeProduced",
        Engine::NodeFailed { .. } => "NodeFailed",
        Engine::NodeInterrupted { .. } => "NodeInterrupted",
        Engine::GateOpened { .. } => "GateOpened",
        Engine::Approved { .. } => "Approved",
        Engine::Selected { .. } => "Selected",
        Engine::RegenerateRequested { .. } => "RegenerateRequested",
        Engine::Edited { .. } => "Edited",
        Engine::Reverted { .. } => "Reverted",
        Engine::MarkedStale { .. } => "MarkedStale",
        Engine::EpisodePaused => "EpisodePaused",
        Engine::EpisodeResumed => "EpisodeResumed",
        Engine::EpisodeCompleted => "EpisodeCompleted",
        Engine::EpisodeFailed { .. } => "EpisodeFailed",
        Engine::EpisodeReopened => "EpisodeReopened",
        Engine::EpisodeCancelled => "EpisodeCancelled",
        Engine::Message { .. } => "Message",
    }
}

#[test]
fn each_engine_event_kind_has_its_schema_and_no_other() {
    let kinds: Vec<String> = Event::kinds().into_iter().map(|(name, _)| name).collect();
    let unit = [
        Engine::EpisodePaused,
        Engine::EpisodeResumed,
        Engine::EpisodeCompleted,
        Engine::EpisodeReopened,
        Engine::EpisodeCancelled,
    ];
    for kind in &unit {
        // The engine writes the kind's name as `type`, as the schema's discriminator reads it.
        let written = serde_json::to_value(kind).expect("an event kind serialises");
        assert_eq!(written["type"], serde_json::json!(kind_name(kind)));
    }
    let named = [
        "EpisodeCreated",
        "ItemsChanged",
        "NodeReady",
        "NodeBlocked",
        "NodeStarted",
        "NodeProgress",
        "NodeProduced",
        "NodeFailed",
        "NodeInterrupted",
        "GateOpened",
        "Approved",
        "Selected",
        "RegenerateRequested",
        "Edited",
        "Reverted",
        "MarkedStale",
        "EpisodePaused",
        "EpisodeResumed",
        "EpisodeCompleted",
        "EpisodeFailed",
        "EpisodeReopened",
        "EpisodeCancelled",
        "Message",
    ];
    assert_eq!(kinds, named, "one schema per engine event kind, in order");
}
