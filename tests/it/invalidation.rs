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

#[tokio::test]
async fn a_rerun_identical_to_what_a_person_approved_needs_no_new_approval() {
    use showrunner::engine::{Gate, NodeSpec, WorkflowDef};
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let def = WorkflowDef::builder("len")
        .node(NodeSpec::single("title", crate::support::counted(&runs, |_, _| json!("abc"))).gate(Gate::Human))
        .node(
            NodeSpec::single(
                "length",
                crate::support::counted(&runs, |i, _| json!(i["title"].as_str().map_or(0, str::len))),
            )
            .reads("title")
            .gate(Gate::Human),
        )
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine.create_episode("len", json!({}), 1).await.expect("create");
    let (title, length) = (InstanceKey::single("title"), InstanceKey::single("length"));
    crate::support::wait_state(&engine, id, &title, NodeState::AwaitingApproval {}).await;
    engine.approve(id, title.clone(), 1).await.expect("approve title");
    crate::support::wait_state(&engine, id, &length, NodeState::AwaitingApproval {}).await;
    engine.approve(id, length.clone(), 1).await.expect("approve length");
    wait_status(&engine, id, EpisodeStatus::Completed).await;

    // Same length: the re-run gives back what was approved, and is approved again by itself.
    engine
        .edit(id, title.clone(), json!("xyz"), Some(1))
        .await
        .expect("edit");
    let done = wait_status(&engine, id, EpisodeStatus::Completed).await;
    assert_eq!(runs.get("length"), 2);
    assert_eq!(record(&done, &length).current, Some(2));

    // A different length: a person is asked.
    engine.edit(id, title, json!("wxyz"), Some(2)).await.expect("edit");
    let asked = crate::support::wait_state(&engine, id, &length, NodeState::AwaitingApproval {}).await;
    assert_eq!(asked.header.status, EpisodeStatus::Active);
    // And a regenerate always asks, even when the output comes back the same.
    engine.approve(id, length.clone(), 3).await.expect("approve");
    engine
        .regenerate(id, length.clone(), None, Some(3))
        .await
        .expect("regenerate");
    crate::support::wait_state(&engine, id, &length, NodeState::AwaitingApproval {}).await;
}
