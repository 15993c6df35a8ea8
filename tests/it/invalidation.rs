//! Fingerprint invalidation: editing one character re-runs exactly its portrait and the shots
//! that show it (and the join), proven by run counters.

use serde_json::json;
use showrunner::engine::{EpisodeStatus, InstanceKey, NodeState};

use crate::support::{Runs, cast_input, cast_workflow, open, record, wait_status};

#[tokio::test]
async fn editing_one_character_reruns_only_what_reads_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let engine = open(dir.path(), vec![cast_workflow(&runs)]).await;
    let id = engine.create_episode("cast", cast_input(), 7).await.expect("create");
    let done = wait_status(&engine, id, EpisodeStatus::Completed).await;
    let before = runs.all();
    for key in [
        "cast",
        "storyboard",
        "final",
        "characters[ada]",
        "portraits[cy]",
        "shots[s4]",
    ] {
        assert_eq!(before.get(key), Some(&1), "{key} ran once: {before:?}");
    }

    let ada = InstanceKey::item("characters", "ada");
    let current = record(&done, &ada).current;
    engine
        .edit(
            id,
            ada.clone(),
            json!({"id": "ada", "name": "Ada", "clothing": "a yellow raincoat"}),
            current,
        )
        .await
        .expect("edit");
    let after_edit = wait_status(&engine, id, EpisodeStatus::Completed).await;

    let after = runs.all();
    let delta = |key: &str| after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0);
    for key in ["portraits[ada]", "shots[s1]", "shots[s3]", "final"] {
        assert_eq!(delta(key), 1, "{key} re-ran once");
    }
    for key in [
        "cast",
        "storyboard",
        "characters[ada]",
        "characters[ben]",
        "characters[cy]",
        "portraits[ben]",
        "portraits[cy]",
        "shots[s2]",
        "shots[s4]",
    ] {
        assert_eq!(delta(key), 0, "{key} kept its output");
    }
    let s1 = record(&after_edit, &InstanceKey::item("shots", "s1"));
    assert_eq!(s1.state, NodeState::Approved {});
    let value = engine
        .version_value(id, &s1.key, s1.current.expect("current"))
        .expect("value");
    assert_eq!(
        value["portraits"]["ada"]["front"],
        json!("Ada wearing a yellow raincoat")
    );
    let s2 = record(&after_edit, &InstanceKey::item("shots", "s2"));
    assert_eq!(s2.versions.len(), 1, "s2 kept its one version");
}
