//! A person's edits are checked against their episode, not only against their type: a shot
//! that names a character or a scene the episode does not have, or a line spoken by someone the
//! shot does not show, is refused with the path of the bad field and changes nothing; and a
//! keyframe that cannot show the characters its shot names cannot pass the quality gate.

use std::sync::Arc;

use serde_json::{Value, json};
use showrunner::engine::DynNode;
use showrunner::engine::{BlobStore, EngineError, EpisodeStatus, InstanceKey, NodeCtx, NodeError, NodeState};
use showrunner::nodes::model::{Keyframe, Shot};
use showrunner::nodes::stages::{Backends, KeyframeNode};
use showrunner::storage::FsBlobStore;
use showrunner::workflows;

use crate::stock::{brief_of, engine, value};
use crate::support::{record, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storyboard_edits_that_break_references_are_refused_with_their_path() {
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
    let storyboard = InstanceKey::single("storyboard");
    // Approve every gate up to the storyboard's.
    let before = loop {
        let s = wait_for(&engine, id, "a gate", |s| {
            s.header.status != EpisodeStatus::Active
                || s.instances.iter().any(|r| r.state == NodeState::AwaitingApproval {})
        })
        .await;
        let waiting: Vec<_> = s
            .instances
            .iter()
            .filter(|r| r.state == NodeState::AwaitingApproval {})
            .collect();
        if waiting.iter().any(|r| r.key == storyboard) {
            break s;
        }
        for r in waiting {
            engine
                .approve(id, r.key.clone(), r.current.expect("a version"))
                .await
                .expect("approve");
        }
    };
    let shots = value(&engine, id, &before, &storyboard);
    let refuse = |edited: Value, path: &str, words: &str| {
        let engine = engine.clone();
        let storyboard = storyboard.clone();
        let (path, words) = (path.to_owned(), words.to_owned());
        async move {
            let err = engine.edit(id, storyboard, edited, Some(1)).await.expect_err("refused");
            match &err {
                EngineError::InvalidValue { error, .. } => {
                    assert_eq!(error.path, path, "{err}");
                    assert!(error.reason.contains(&words), "{err}");
                }
                other => panic!("not an invalid value: {other}"),
            }
        }
    };
    let mut nobody = shots.clone();
    nobody[0]["character_ids"] = json!(["nobody"]);
    refuse(nobody, "[0].character_ids[0]", "no character `nobody`").await;
    let mut elsewhere = shots.clone();
    elsewhere[1]["scene_id"] = json!("scene-99");
    refuse(elsewhere, "[1].scene_id", "no scene `scene-99`").await;
    // A line given to someone the shot does not show.
    let cast = value(&engine, id, &before, &InstanceKey::single("characters"));
    let ids: Vec<&str> = cast
        .as_array()
        .expect("a cast")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    let (speaking, absent) = shots
        .as_array()
        .expect("a list")
        .iter()
        .enumerate()
        .filter(|(_, s)| !s["dialogue"].as_array().is_none_or(Vec::is_empty))
        .find_map(|(k, s)| {
            let shown = s["character_ids"].as_array()?;
            let absent = ids.iter().find(|id| !shown.iter().any(|s| s == *id))?;
            Some((k, (*absent).to_owned()))
        })
        .expect("a speaking shot that leaves someone out");
    let mut unseen = shots.clone();
    unseen[speaking]["dialogue"][0]["character_id"] = json!(absent);
    refuse(
        unseen,
        &format!("[{speaking}].dialogue[0].character_id"),
        "is not in it",
    )
    .await;
    // The storyboard did not change (other stages may still be running), and an edit that
    // agrees with the episode is taken.
    let after = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(record(&before, &storyboard), record(&after, &storyboard));
    let mut fine = shots.clone();
    fine[0]["visual_desc"] = json!("The keeper's empty chair, lamp still lit");
    engine.edit(id, storyboard, fine, Some(1)).await.expect("a good edit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyframe_that_cannot_show_its_characters_scores_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::open(dir.path()).expect("blobs"));
    let background = showrunner::media::png::encode_png(&showrunner::media::video::RgbImage::from_pixel(
        64,
        36,
        image::Rgb([90, 120, 160]),
    ))
    .expect("png");
    let image = blobs.put(background).await.expect("put");
    let scene_image = json!({
        "scene_id": "scene-1",
        "image": image,
        "generated_by": {"backend": "test", "model": "none", "seed": "0"},
    });
    let mut shot: Shot = showrunner::story::fixtures::shot("scene-1-shot-1");
    shot.scene_id = "scene-1".into();
    let episode = json!({"idea": "a room", "settings": {"width": 64, "height": 36}});
    let node = KeyframeNode::new(Backends::procedural());
    let score = |character_ids: Vec<&str>| {
        let mut shot = shot.clone();
        shot.character_ids = character_ids.into_iter().map(str::to_owned).collect();
        shot.dialogue.clear();
        let input = json!({
            "episode": episode, "item": shot, "portraits": {}, "scene_images": {"scene-1": scene_image},
        });
        let ctx = NodeCtx::detached(InstanceKey::single("keyframes"), 1, blobs.clone());
        let node = &node;
        async move {
            let output = node.run_json(&input, &ctx).await?;
            let keyframe: Keyframe = serde_json::from_value(output.clone()).expect("a keyframe");
            let score = node.score_json(&input, &output, &ctx).await?;
            Ok::<_, NodeError>((keyframe, score))
        }
    };
    // Nobody to show: nothing to be consistent with.
    let (_, empty_room) = score(Vec::new()).await.expect("keyframe");
    assert_eq!(empty_room, 1.0);
    // A shot of someone with no portrait draws an empty room: it cannot pass.
    let (keyframe, missing) = score(vec!["nobody"]).await.expect("keyframe");
    assert_eq!(missing, 0.0, "{keyframe:?}");
    let showrunner::engine::Gate::Quality { min_score, .. } = workflows::KEYFRAME_GATE else {
        panic!("the keyframes have a quality gate")
    };
    assert!(missing < min_score);
}
