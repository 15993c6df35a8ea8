//! The review settings in the terminal: `run --candidates N` asks which candidate to keep at
//! each portrait and keyframe, `--review-items` puts a gate on every item, and
//! `--auto-approve` keeps the first candidate.

use std::io::Write;
use std::process::{Command, Stdio};

use showrunner::engine::{EpisodeId, EpisodeStatus};

use crate::stock::engine;

fn showrunner() -> Command {
    Command::new(env!("CARGO_BIN_EXE_showrunner"))
}

/// Runs idea2video with `flags`, answering every prompt from `answers`; gives its stdout and the
/// episode's id.
fn run(data: &std::path::Path, flags: &[&str], answers: &str) -> (String, EpisodeId) {
    let mut child = showrunner()
        .arg("--data")
        .arg(data)
        .args([
            "run",
            "--workflow",
            "idea2video",
            "--idea",
            "an owl and a fox open a bakery",
        ])
        .args(["--duration", "3", "--size", "128x72", "--fps", "6"])
        .args(flags)
        .arg("--out")
        .arg(data.with_extension(flags.join("")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the CLI");
    let mut stdin = child.stdin.take().expect("stdin");
    // Written whole up front (the CLI reads a line per prompt); a broken pipe means it is done.
    let _ = stdin.write_all(answers.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("episode ").and_then(|l| l.split(':').next()))
        .expect("the episode id")
        .parse()
        .expect("an episode id");
    (stdout, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_are_picked_at_the_terminal_and_auto_approve_keeps_the_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // "2" picks version 2 at a pick and is refused at an approve prompt, which then takes "a";
    // an "a" at a pick prompt is refused and the "2" after it picks.
    let (stdout, id) = run(&data, &["--candidates", "2", "--review-items"], &"2\na\n".repeat(300));
    assert!(stdout.contains("(candidate: version 2)"), "{stdout}");
    assert!(stdout.contains("[p]ick a version (1, 2)"), "{stdout}");
    assert!(stdout.contains("episode") && stdout.contains("completed"), "{stdout}");

    let (stdout, auto) = run(&data, &["--candidates", "3", "--auto-approve"], "");
    assert!(stdout.contains("completed"), "{stdout}");

    let engine = engine(&data).await;
    let picked = engine.snapshot(id).await.expect("the episode");
    assert_eq!(picked.header.status, EpisodeStatus::Completed);
    for node in ["portraits", "keyframes"] {
        let items: Vec<_> = picked.instances.iter().filter(|r| r.key.node == node).collect();
        assert!(!items.is_empty(), "{node}");
        for r in items {
            assert_eq!(r.approved.map(|(v, _)| v), Some(2), "{} kept the one picked", r.key);
        }
    }
    let first = engine.snapshot(auto).await.expect("the episode");
    assert_eq!(first.header.status, EpisodeStatus::Completed);
    for r in first.instances.iter().filter(|r| r.key.node == "portraits") {
        assert_eq!(r.approved.map(|(v, _)| v), Some(1), "{} kept the first", r.key);
        assert_eq!(r.versions.len(), 3, "{} made three", r.key);
    }
    engine.shutdown().await;

    // Out of range: refused by name, nothing created.
    let refused = showrunner()
        .arg("--data")
        .arg(&data)
        .args(["run", "--workflow", "idea2video", "--idea", "x", "--candidates", "5"])
        .output()
        .expect("run");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--candidates") && stderr.contains("1..=4"), "{stderr}");
}
