//! `showrunner demo --models local`: the real binary runs the demo episode on the installed real
//! models (SmolLM2 on candle, MiniLM, Piper with espeak-ng, terrain diffusion on ONNX Runtime),
//! and refuses to start, naming the model and its install command, when one is missing.

use std::path::Path;
use std::process::Command;

use showrunner::media::video::mp4_info;
use showrunner::nodes::model::{Scene, Shot};
use showrunner::setup::ModelSetup;

use super::installed;

fn showrunner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
}

fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> T {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_demo_runs_on_the_installed_real_models() {
    let mut names: Vec<String> = ModelSetup::local().models();
    names.extend(["onnxruntime".to_owned(), "espeak-ng".to_owned()]);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let registry = installed::registry(&names);
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("out");
    let out = showrunner()
        .env("SHOWRUNNER_MODELS", registry.root())
        .arg("--data")
        .arg(dir.path().join("data"))
        .args([
            "--device",
            "cpu",
            "demo",
            "--models",
            "local",
            "--duration",
            "6",
            "--size",
            "160x96",
        ])
        .args(["--fps", "12", "--out"])
        .arg(&out_dir)
        .output()
        .expect("run the demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("smollm2-135m") && stderr.contains("on cpu"), "{stderr}");

    let shots: Vec<Shot> = read(&out_dir, "storyboard.json");
    assert!(!shots.is_empty());
    assert!(
        shots
            .iter()
            .all(|s| s.generated_by.backend == "candle" && !s.visual_desc.is_empty())
    );
    let scenes: Vec<Scene> = read(&out_dir, "scenes.json");
    assert!(scenes.iter().all(|s| s.generated_by.model == "smollm2-135m"));
    let speaking = shots.iter().filter(|s| !s.dialogue.is_empty()).count();
    assert!(speaking > 0, "some shot has dialogue: {shots:?}");

    let video = std::fs::read(out_dir.join("final.mp4")).expect("final.mp4");
    let info = mp4_info(&video).expect("an MP4");
    let audio = info.audio.expect("the episode speaks: an audio track");
    assert_eq!(audio.codec, "Opus");
    assert!(
        (audio.duration_s - info.duration_s).abs() < 0.1,
        "{audio:?} vs {}",
        info.duration_s
    );
}

#[test]
fn a_missing_model_is_named_with_its_install_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = showrunner()
        .env("SHOWRUNNER_MODELS", dir.path().join("no-models"))
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(["demo", "--models", "local"])
        .output()
        .expect("run the demo");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("smollm2-135m") && stderr.contains("models install"),
        "{stderr}"
    );
}
