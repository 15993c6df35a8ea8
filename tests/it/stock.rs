//! The stock workflows on the embedded procedural backends: regenerate with feedback, an edit of
//! one character that re-renders only what shows that character, screenplays in and out, and
//! the demo through the real CLI.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use showrunner::engine::{
    BlobRef, Engine, EngineError, EpisodeId, EpisodeSnapshot, EpisodeStatus, InstanceKey, NodeState,
};
use showrunner::media::video::{decode_stream, mp4_annex_b, mp4_info};
use showrunner::nodes::model::{Brief, Settings};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;

use crate::support::{open, record, wait_for};

fn brief(idea: Option<&str>, script: Option<&str>) -> Value {
    brief_of(idea, script, 8.0)
}

pub(crate) fn brief_of(idea: Option<&str>, script: Option<&str>, seconds: f64) -> Value {
    json!(Brief {
        series: None,
        idea: idea.map(str::to_owned),
        script: script.map(str::to_owned),
        settings: Settings {
            width: 320,
            height: 180,
            fps: 12,
            target_duration_s: seconds,
            ..Settings::default()
        },
    })
}

pub(crate) async fn engine(dir: &Path) -> Engine {
    open(dir, workflows::all(&Backends::procedural()).expect("stock workflows")).await
}

/// Approves every gate until the episode completes.
pub(crate) async fn settle(engine: &Engine, id: EpisodeId) -> EpisodeSnapshot {
    loop {
        let s = wait_for(engine, id, "a gate or the end", |s| {
            s.header.status != EpisodeStatus::Active
                || s.instances.iter().any(|r| r.state == NodeState::AwaitingApproval {})
        })
        .await;
        match s.header.status {
            EpisodeStatus::Completed => return s,
            EpisodeStatus::Active => {}
            other => panic!(
                "episode ended {other:?}: {:#?}",
                s.instances
                    .iter()
                    .filter(|r| r.last_error.is_some())
                    .collect::<Vec<_>>()
            ),
        }
        for r in s.instances.iter().filter(|r| r.state == NodeState::AwaitingApproval {}) {
            let version = r.current.expect("a gate has a version");
            match engine.approve(id, r.key.clone(), version).await {
                Ok(()) => {}
                Err(e) if e.is_conflict() => {}
                Err(e) => panic!("approve {}: {e}", r.key),
            }
        }
    }
}

pub(crate) fn value(engine: &Engine, id: EpisodeId, s: &EpisodeSnapshot, key: &InstanceKey) -> Value {
    engine
        .version_value(id, key, record(s, key).current.expect("current"))
        .expect("value")
}

/// Every blob each instance of `node` references now.
fn blobs(engine: &Engine, id: EpisodeId, s: &EpisodeSnapshot, node: &str) -> BTreeMap<String, Vec<BlobRef>> {
    s.instances
        .iter()
        .filter(|r| r.key.node == node)
        .map(|r| {
            let v = value(engine, id, s, &r.key);
            let refs = BlobRef::find_all(&v).into_iter().map(BlobRef).collect();
            (r.key.item.clone().expect("a map item"), refs)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_changes_the_outline_and_a_clothing_edit_rerenders_only_that_character() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let id = engine
        .create_episode(
            workflows::IDEA2VIDEO,
            brief_of(Some("a lighthouse keeper vanishes"), None, 20.0),
            11,
        )
        .await
        .expect("create");
    let outline = InstanceKey::single("outline");
    let first = crate::support::wait_state(&engine, id, &outline, NodeState::AwaitingApproval {}).await;
    let before = value(&engine, id, &first, &outline);
    assert_eq!(before["generated_by"]["backend"], json!("procedural"));
    engine
        .regenerate(id, outline.clone(), Some("make it darker".into()), Some(1))
        .await
        .expect("regenerate");
    let second = crate::support::wait_for(&engine, id, "outline v2", |s| {
        s.instances
            .iter()
            .any(|r| r.key == outline && r.state == NodeState::AwaitingApproval {} && r.current == Some(2))
    })
    .await;
    let after = value(&engine, id, &second, &outline);
    assert_ne!(before["synopsis"], after["synopsis"]);
    assert!(
        after["synopsis"]
            .as_str()
            .is_some_and(|s| s.starts_with("A grim tale.") && !s.contains("make it darker")),
        "{after}"
    );

    let done = settle(&engine, id).await;
    let (portraits, keyframes, clips) = (
        blobs(&engine, id, &done, "portraits"),
        blobs(&engine, id, &done, "keyframes"),
        blobs(&engine, id, &done, "clips"),
    );
    let characters_key = InstanceKey::single("characters");
    let mut cast = value(&engine, id, &done, &characters_key);
    // The last of the cast: not the hero, who is in every scene.
    let last = cast.as_array().map_or(0, |c| c.len() - 1);
    let changed = cast[last]["id"].as_str().expect("an id").to_owned();
    // A colour and a garment the character did not wear before.
    let was = cast[last]["dynamic_features"]["clothing"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let now = if was.contains("purple") {
        "a green dress"
    } else {
        "a purple dress"
    };
    let now = if was.contains("dress") {
        now.replace("dress", "overalls")
    } else {
        now.to_owned()
    };
    cast[last]["dynamic_features"]["clothing"] = json!(now);
    let storyboard = value(&engine, id, &done, &InstanceKey::single("storyboard"));
    let shows = |shot: &str| {
        storyboard
            .as_array()
            .and_then(|shots| shots.iter().find(|s| s["id"] == json!(shot)))
            .is_some_and(|s| {
                s["character_ids"]
                    .as_array()
                    .is_some_and(|ids| ids.contains(&json!(changed)))
            })
    };
    engine
        .edit(id, characters_key.clone(), cast, record(&done, &characters_key).current)
        .await
        .expect("edit");
    let redone = settle(&engine, id).await;

    let (portraits2, keyframes2, clips2) = (
        blobs(&engine, id, &redone, "portraits"),
        blobs(&engine, id, &redone, "keyframes"),
        blobs(&engine, id, &redone, "clips"),
    );
    assert_eq!(
        portraits.keys().collect::<Vec<_>>(),
        portraits2.keys().collect::<Vec<_>>()
    );
    for (character, refs) in &portraits {
        assert_eq!(
            refs != &portraits2[character],
            *character == changed,
            "portraits of {character}"
        );
    }
    let mut rerendered = 0;
    for (shot, refs) in &keyframes {
        assert_eq!(refs != &keyframes2[shot], shows(shot), "keyframe of {shot}");
        assert_eq!(clips[shot] != clips2[shot], shows(shot), "clip of {shot}");
        rerendered += usize::from(shows(shot));
    }
    assert!(
        rerendered > 0 && rerendered < keyframes.len(),
        "{rerendered} of {} shots show {changed}",
        keyframes.len()
    );
    let final_key = InstanceKey::single("final");
    assert_ne!(
        value(&engine, id, &done, &final_key)["video"],
        value(&engine, id, &redone, &final_key)["video"]
    );
}

#[tokio::test]
async fn an_edit_that_does_not_fit_the_schema_names_the_field_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let id = engine
        .create_episode(workflows::IDEA2VIDEO, brief(Some("a heist at the aquarium"), None), 3)
        .await
        .expect("create");
    let outline = InstanceKey::single("outline");
    crate::support::wait_state(&engine, id, &outline, NodeState::AwaitingApproval {}).await;
    engine.approve(id, outline, 1).await.expect("approve");
    let characters = InstanceKey::single("characters");
    let before = crate::support::wait_state(&engine, id, &characters, NodeState::AwaitingApproval {}).await;
    let mut cast = value(&engine, id, &before, &characters);
    cast[1]["dynamic_features"]["clothing"] = json!(42);
    let err = engine
        .edit(id, characters.clone(), cast, Some(1))
        .await
        .expect_err("refused");
    assert!(matches!(err, EngineError::InvalidValue { .. }), "{err}");
    assert!(err.to_string().contains("[1].dynamic_features.clothing"), "{err}");
    let after = engine.snapshot(id).await.expect("snapshot");
    assert_eq!(before.instances, after.instances);
}

const THREE_SCENES: &str = "Title: The Keeper

INT. LIGHTHOUSE - NIGHT

The lamp turns. MARA climbs the stairs.

MARA
Someone has been up here.

OSSIE
(whispering)
Nobody comes up here. Not since the storm.

EXT. HARBOUR - DAWN

Boats knock together.

OSSIE
The ferry didn't come.

INT. KITCHEN - DAY

MARA
Then we wait.

MRS. DALE
Tea first. Then the truth.
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_scene_screenplay_becomes_those_scenes_with_their_characters_and_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let id = engine
        .create_episode(workflows::SCRIPT2VIDEO, brief(None, Some(THREE_SCENES)), 5)
        .await
        .expect("create");
    let done = settle(&engine, id).await;
    let scenes = value(&engine, id, &done, &InstanceKey::single("scenes"));
    let scenes = scenes.as_array().expect("a list");
    assert_eq!(scenes.len(), 3);
    assert_eq!(scenes[0]["slugline"], json!("INT. LIGHTHOUSE - NIGHT"));
    assert_eq!(scenes[1]["location"], json!("HARBOUR"));
    assert_eq!(scenes[2]["character_ids"], json!(["mara", "mrs-dale"]));
    let lines: Vec<(String, String)> = scenes
        .iter()
        .flat_map(|s| s["script"].as_array().cloned().unwrap_or_default())
        .map(|l| {
            (
                l["character_id"].as_str().unwrap_or("").to_owned(),
                l["line"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(
        lines[1],
        ("ossie".into(), "Nobody comes up here. Not since the storm.".into())
    );
    let cast = value(&engine, id, &done, &InstanceKey::single("characters"));
    let ids: Vec<&str> = cast
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["mara", "ossie", "mrs-dale"]);
    // The dialogue reaches the subtitles.
    let video = value(&engine, id, &done, &InstanceKey::single("final"));
    let vtt = BlobRef::parse(video["subtitles_vtt"].as_str().expect("vtt")).expect("blob");
    let vtt = String::from_utf8(engine.blobs().get(vtt).await.expect("blob")).expect("utf-8");
    assert!(
        vtt.starts_with("WEBVTT") && vtt.contains("Tea first. Then the truth."),
        "{vtt}"
    );
}

#[tokio::test]
async fn a_malformed_screenplay_fails_with_its_line_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    let broken = "INT. ROOM - DAY\n\nA chair.\n\n/* an unfinished note\n\nMARA\nHello.\n";
    let id = engine
        .create_episode(workflows::SCRIPT2VIDEO, brief(None, Some(broken)), 5)
        .await
        .expect("create");
    let failed = wait_for(&engine, id, "failure", |s| s.header.status == EpisodeStatus::Failed).await;
    let screenplay = record(&failed, &InstanceKey::single("screenplay"));
    assert!(
        screenplay.last_error.as_deref().is_some_and(|e| e.contains("line 5")),
        "{screenplay:?}"
    );
}

fn showrunner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
}

#[test]
fn the_cli_refuses_a_malformed_screenplay_with_its_line_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("bad.fountain");
    std::fs::write(&script, "INT. ROOM - DAY\n\nA chair.\n\n/* an unfinished note\n").expect("write");
    let out = showrunner()
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["run", "--workflow", "script2video", "--auto-approve", "--script"])
        .arg(&script)
        .output()
        .expect("run the CLI");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 5"), "{stderr}");
}

#[test]
fn the_demo_writes_a_playable_episode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("out");
    let out = showrunner()
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["demo", "--duration", "6", "--size", "320x180", "--fps", "12", "--out"])
        .arg(&out_dir)
        .output()
        .expect("run the demo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in [
        "episode.json",
        "outline.json",
        "characters.json",
        "scenes.json",
        "storyboard.json",
        "subtitles.vtt",
        "subtitles.srt",
    ] {
        assert!(out_dir.join(file).is_file(), "{file}");
    }
    let storyboard: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("storyboard.json")).expect("storyboard")).expect("json");
    let shots = storyboard.as_array().expect("shots");
    let seconds: f64 = shots.iter().filter_map(|s| s["duration_s"].as_f64()).sum();
    for shot in shots {
        let shot = shot["id"].as_str().expect("id");
        assert!(out_dir.join(format!("shots/{shot}/keyframe.png")).is_file());
        assert!(out_dir.join(format!("shots/{shot}/clip.mp4")).is_file());
    }
    let characters: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("characters.json")).expect("cast")).expect("json");
    for c in characters.as_array().expect("list") {
        for view in ["front", "side", "back"] {
            assert!(
                out_dir
                    .join(format!("portraits/{}/{view}.png", c["id"].as_str().expect("id")))
                    .is_file()
            );
        }
    }
    let mp4 = std::fs::read(out_dir.join("final.mp4")).expect("final.mp4");
    let info = mp4_info(&mp4).expect("the MP4 parses");
    assert!(
        (info.duration_s - seconds).abs() <= 1.0 / 12.0 + 1e-9,
        "{} vs {seconds}",
        info.duration_s
    );
    assert_eq!(info.frames, (seconds * 12.0).round() as u32);
    assert_eq!((info.width, info.height, info.codec.as_str()), (320, 180, "avc1"));
    let frames = decode_stream(&mp4_annex_b(&mp4).expect("H.264 samples")).expect("frames decode");
    assert_eq!(frames.len() as u32, info.frames);
    assert!(frames.iter().all(|f| f.dimensions() == (320, 180)));
}

#[test]
fn a_run_quit_at_a_gate_resumes_later_and_lists_shows_and_exports() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut child = showrunner()
        .arg("--data")
        .arg(&data)
        .args([
            "run",
            "--workflow",
            "idea2video",
            "--idea",
            "a robot learns to paint",
            "--duration",
            "4",
        ])
        .args(["--size", "160x96", "--fps", "8"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the CLI");
    // At the first gate (the outline): quit.
    child.stdin.take().expect("stdin").write_all(b"q\n").expect("answer");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("── outline (version 1) ──") && stdout.contains("logline"),
        "{stdout}"
    );
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("episode ").and_then(|l| l.split(':').next()))
        .expect("the episode id")
        .to_owned();
    assert!(stdout.contains(&format!("showrunner resume {id}")), "{stdout}");

    let cli = |args: &[&str]| {
        let out = showrunner()
            .arg("--data")
            .arg(&data)
            .args(args)
            .output()
            .expect("run the CLI");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let listed = cli(&["episodes", "list"]);
    assert!(listed.contains(&id) && listed.contains("active"), "{listed}");
    assert!(
        listed.contains("a robot learns to paint"),
        "the idea is listed: {listed}"
    );
    // A unique prefix of the id names the episode.
    let shown = cli(&["episodes", "show", &id[..12].to_lowercase()]);
    assert!(
        shown.contains("outline") && shown.contains("awaiting approval"),
        "{shown}"
    );
    let resumed = cli(&["resume", &id, "--auto-approve"]);
    assert!(resumed.contains("completed"), "{resumed}");
    let export = dir.path().join("export");
    let exported = cli(&["export", &id, export.to_str().expect("utf-8 path")]);
    assert!(export.join("final.mp4").is_file() && export.join("episode.json").is_file());
    assert!(
        exported.contains(&format!("watch it: {}", export.join("final.mp4").display())),
        "{exported}"
    );
    // A folder that holds another episode's export is refused, unless forced.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("episode.json"), r#"{"id": "01J0000000000000000000000Z"}"#).expect("write");
    let refused = showrunner()
        .arg("--data")
        .arg(&data)
        .args(["export", &id])
        .arg(&other)
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    cli(&["export", &id, other.to_str().expect("utf-8 path"), "--force"]);
    assert!(other.join("final.mp4").is_file());
    let bad = showrunner()
        .arg("--data")
        .arg(&data)
        .args(["episodes", "show", "not-an-id"])
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an episode id"));
}
