//! A regenerate with a note changes what the note asks and keeps the rest: the engine hands the
//! version being regenerated to the node (as `previous`, only while its inputs are unchanged),
//! and the stock text stages revise it: a character's age, clothing, a newly named character,
//! the time of day, the weather.

use serde_json::{Value, json};
use showrunner::engine::{Engine, EpisodeId, Gate, InstanceKey, NodeSpec, NodeState, PREVIOUS, WorkflowDef};
use showrunner::workflows;

use crate::stock::{brief_of, engine, value};
use crate::support::{Runs, counted, open, wait_state};

/// Waits for `key` at its gate with version `n` and returns its value.
async fn at_gate(engine: &Engine, id: EpisodeId, key: &InstanceKey, n: u32) -> Value {
    let s = crate::support::wait_for(engine, id, &format!("{key} v{n} at its gate"), |s| {
        s.instances
            .iter()
            .any(|r| &r.key == key && r.state == NodeState::AwaitingApproval {} && r.current == Some(n))
    })
    .await;
    value(engine, id, &s, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noted_regenerate_reads_the_version_it_regenerates_until_its_inputs_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = Runs::default();
    let def = WorkflowDef::builder("noted")
        .node(NodeSpec::single("draft", counted(&runs, |input, _| input["episode"].clone())).gate(Gate::Human))
        .node(
            NodeSpec::single(
                "scene",
                counted(
                    &runs,
                    |input, ctx| json!({"from": input["draft"], "previous": input[PREVIOUS], "note": ctx.feedback()}),
                ),
            )
            .reads("draft")
            .gate(Gate::Human),
        )
        .build()
        .expect("valid");
    let engine = open(dir.path(), vec![def]).await;
    let id = engine
        .create_episode("noted", json!({"idea": 1}), 5)
        .await
        .expect("create");
    let (draft, scene) = (InstanceKey::single("draft"), InstanceKey::single("scene"));
    wait_state(&engine, id, &draft, NodeState::AwaitingApproval {}).await;
    engine.approve(id, draft.clone(), 1).await.expect("approve");
    let first = at_gate(&engine, id, &scene, 1).await;
    assert_eq!(first["previous"], Value::Null);
    engine
        .regenerate(id, scene.clone(), Some("at night".into()), Some(1))
        .await
        .expect("regenerate");
    let second = at_gate(&engine, id, &scene, 2).await;
    assert_eq!(
        second["previous"], first,
        "the note's run reads the version it regenerates"
    );
    // The draft changes: the scene is re-made from its new input, not from its previous self.
    engine
        .edit(id, draft.clone(), json!({"idea": 2}), Some(1))
        .await
        .expect("edit the draft");
    let third = at_gate(&engine, id, &scene, 3).await;
    assert_eq!(third["from"], json!({"idea": 2}));
    assert_eq!(third["previous"], Value::Null, "{third}");
}

/// Approves gates until `key` is at its gate; returns its value and version.
async fn reach(engine: &Engine, id: EpisodeId, key: &InstanceKey) -> (Value, u32) {
    loop {
        let s = crate::support::wait_for(engine, id, "a gate", |s| {
            s.instances.iter().any(|r| r.state == NodeState::AwaitingApproval {})
        })
        .await;
        if let Some(r) = s
            .instances
            .iter()
            .find(|r| &r.key == key && r.state == NodeState::AwaitingApproval {})
        {
            let n = r.current.expect("a version");
            return (value(engine, id, &s, key), n);
        }
        for r in s.instances.iter().filter(|r| r.state == NodeState::AwaitingApproval {}) {
            engine
                .approve(id, r.key.clone(), r.current.expect("a version"))
                .await
                .expect("approve");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_notes_change_only_what_they_ask() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let id = engine
        .create_episode(
            workflows::IDEA2VIDEO,
            brief_of(Some("a whale in a storm"), None, 20.0),
            3,
        )
        .await
        .expect("create");
    let characters = InstanceKey::single("characters");
    let (cast, n) = reach(&engine, id, &characters).await;
    // "make the hero older": the lead ages; nothing else of anyone changes.
    engine
        .regenerate(id, characters.clone(), Some("make the hero older".into()), Some(n))
        .await
        .expect("regenerate");
    let older = at_gate(&engine, id, &characters, n + 1).await;
    assert!(
        older[0]["static_features"]["face"]
            .as_str()
            .is_some_and(|f| f.starts_with("old")),
        "{older:#}"
    );
    assert_eq!(older[0]["dynamic_features"], cast[0]["dynamic_features"]);
    assert_eq!(older[0]["personality"], cast[0]["personality"]);
    assert_eq!(
        older.as_array().map(|c| &c[1..]),
        cast.as_array().map(|c| &c[1..]),
        "the others are untouched"
    );
    // A newly named character joins; the rest stays.
    let name = cast[1]["name"].as_str().expect("a name").to_owned();
    engine
        .regenerate(
            id,
            characters.clone(),
            Some(format!(
                "add a whale named Old Tom, and {name} should wear a blue scarf"
            )),
            Some(n + 1),
        )
        .await
        .expect("regenerate");
    let grown = at_gate(&engine, id, &characters, n + 2).await;
    let grown = grown.as_array().expect("a cast");
    assert_eq!(grown.len(), cast.as_array().map_or(0, Vec::len) + 1, "{grown:#?}");
    assert!(grown.iter().any(|c| c["name"] == json!("Old Tom")));
    assert_eq!(grown[1]["dynamic_features"]["clothing"], json!("a blue scarf"));
    assert_eq!(grown[0], older[0], "the lead keeps the last note's age");
    engine.approve(id, characters.clone(), n + 2).await.expect("approve");

    // "at night during the storm": every scene at night, in the storm; places kept.
    let scenes_key = InstanceKey::single("scenes");
    let (scenes, m) = reach(&engine, id, &scenes_key).await;
    engine
        .regenerate(
            id,
            scenes_key.clone(),
            Some("at night during the storm".into()),
            Some(m),
        )
        .await
        .expect("regenerate");
    let night = at_gate(&engine, id, &scenes_key, m + 1).await;
    for (before, after) in scenes
        .as_array()
        .into_iter()
        .flatten()
        .zip(night.as_array().into_iter().flatten())
    {
        assert_eq!(after["time_of_day"], json!("night"), "{after:#}");
        assert!(after["slugline"].as_str().is_some_and(|s| s.ends_with("- NIGHT")));
        assert_eq!(after["location"], before["location"], "the place is kept");
        assert_eq!(after["script"], before["script"], "the lines are kept");
        assert!(
            after["description"]
                .as_str()
                .is_some_and(|d| d.to_lowercase().contains("storm"))
        );
    }
}
