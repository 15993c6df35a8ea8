//! A regenerate with a note changes what the note asks and keeps the rest: the engine hands the
//! version being regenerated to the node (as `previous`, only while its inputs are unchanged),
//! and the stock text stages revise it: a character's age, clothing, a newly named character,
//! the time of day, the weather. The procedural backend follows an outline's tone and newly
//! named characters and a storyboard's pace and shot type, and says, with the version, which
//! part of a note it did not act on.

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

/// The remarks of `key`'s version `n`: what its run said it did not act on.
async fn remarks(engine: &Engine, id: EpisodeId, key: &InstanceKey, n: u32) -> Vec<String> {
    let s = engine.snapshot(id).await.expect("snapshot");
    let record = s.instances.iter().find(|r| &r.key == key).expect("the instance");
    record.version(n).expect("the version").remarks.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outline_and_storyboard_notes_act_and_a_note_not_acted_on_is_said() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let id = engine
        .create_episode(
            workflows::IDEA2VIDEO,
            brief_of(Some("a lighthouse keeper vanishes"), None, 20.0),
            3,
        )
        .await
        .expect("create");
    // The outline: the tone changes and Old Tom joins the story, not pasted as "Revised: …".
    let outline = InstanceKey::single("outline");
    let (_, n) = reach(&engine, id, &outline).await;
    engine
        .regenerate(
            id,
            outline.clone(),
            Some("make it hopeful, and add a whale named Old Tom".into()),
            Some(n),
        )
        .await
        .expect("regenerate");
    let hopeful = at_gate(&engine, id, &outline, n + 1).await;
    let synopsis = hopeful["synopsis"].as_str().expect("a synopsis");
    assert!(synopsis.contains("hopeful"), "{synopsis}");
    assert!(!synopsis.contains("Revised"), "{synopsis}");
    assert!(
        hopeful["beats"].to_string().contains("a whale named Old Tom"),
        "{hopeful:#}"
    );
    assert_eq!(remarks(&engine, id, &outline, n + 1).await, Vec::<String>::new());
    engine.approve(id, outline, n + 1).await.expect("approve");

    // The cast has Old Tom, a whale.
    let characters = InstanceKey::single("characters");
    let (cast, n) = reach(&engine, id, &characters).await;
    let tom = cast
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == json!("Old Tom"))
        .unwrap_or_else(|| panic!("Old Tom is cast: {cast:#}"));
    assert!(tom["static_features"]["body"].to_string().contains("whale"), "{tom:#}");

    // Part of a note the procedural backend cannot act on is said so, with the version.
    engine
        .regenerate(
            id,
            characters.clone(),
            Some("make the hero older and grumpier".into()),
            Some(n),
        )
        .await
        .expect("regenerate");
    let older = at_gate(&engine, id, &characters, n + 1).await;
    assert!(
        older[0]["static_features"]["face"].to_string().contains("old"),
        "{older:#}"
    );
    let said = remarks(&engine, id, &characters, n + 1).await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("\u{201c}grumpier\u{201d}"), "{said:?}");
    assert!(!said[0].contains("older"), "{said:?}");
    engine.approve(id, characters, n + 1).await.expect("approve");

    // The storyboard: more shots, close-ups after each scene's opening shot.
    let storyboard = InstanceKey::single("storyboard");
    let (board, n) = reach(&engine, id, &storyboard).await;
    let count = |v: &Value, kind: &str| {
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["camera"]["shot_type"] == json!(kind))
            .count()
    };
    engine
        .regenerate(
            id,
            storyboard.clone(),
            Some("more shots, and use close-ups. Also make it rain".into()),
            Some(n),
        )
        .await
        .expect("regenerate");
    let closer = at_gate(&engine, id, &storyboard, n + 1).await;
    let shots = |v: &Value| v.as_array().map_or(0, Vec::len);
    assert!(shots(&closer) > shots(&board), "{} → {}", shots(&board), shots(&closer));
    assert!(count(&closer, "close_up") > count(&board, "close_up"), "{closer:#}");
    // After each scene's opening shot, a close-up; a medium shot only where two speak.
    for shot in closer.as_array().into_iter().flatten() {
        if shot["id"].as_str().is_some_and(|id| id.ends_with("-shot-1")) {
            continue;
        }
        let mut speakers: Vec<&str> = shot["dialogue"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["character_id"].as_str())
            .collect();
        speakers.sort_unstable();
        speakers.dedup();
        let framing = &shot["camera"]["shot_type"];
        assert!(
            *framing == json!("close_up") || (*framing == json!("medium") && speakers.len() > 1),
            "{shot:#}"
        );
    }
    let said = remarks(&engine, id, &storyboard, n + 1).await;
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].contains("\u{201c}make it rain\u{201d}"), "{said:?}");
    assert!(said[0].contains("storyboard stage"), "{said:?}");
    assert!(said[0].contains("is for the scenes stage"), "{said:?}");
}
