//! Read-only commands beside a process that holds the store: beside `showrunner serve`,
//! `episodes list|show` and `export` read through its API; beside `showrunner run`, they say so
//! in one sentence (no raw lock error).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::served::{Served, send};

fn showrunner(data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_showrunner"));
    command.arg("--data").arg(data);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_and_export_read_through_a_running_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut server = Served::start(&data, None).await;
    let created = send(server.client.post(server.url("episodes")).json(&json!({
        "workflow": "idea2video",
        "idea": "a whale in a storm",
        "settings": {"width": 64, "height": 36, "fps": 4, "target_duration_s": 4.0},
    })))
    .await
    .expect("an answer");
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    // Wait for the outline's gate.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let episode = send(server.client.get(server.url(&format!("episodes/{id}"))))
            .await
            .expect("an answer");
        if episode.data()["nodes"][0]["state"] == json!("awaiting_approval") {
            break;
        }
        assert!(Instant::now() < deadline, "the outline reaches its gate");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The list says what each episode is about.
    let listed = send(server.client.get(server.url("episodes")))
        .await
        .expect("an answer");
    assert_eq!(
        listed.data()[0]["title"],
        json!("a whale in a storm"),
        "{:#}",
        listed.body
    );
    assert_eq!(listed.data()[0]["workflow"], json!("idea2video"));
    let data_path = data.clone();
    let run = move |args: &[&str]| {
        let out = showrunner(&data_path).args(args).output().expect("run the CLI");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["episodes", "list"])
    })
    .await
    .expect("list");
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&id) && stdout.contains("a whale in a storm"),
        "{stdout}"
    );
    assert!(stderr.contains("reading through"), "{stderr}");
    // A unique prefix of the id works through the server too.
    let show_id = id[..14].to_lowercase();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["episodes", "show", &show_id])
    })
    .await
    .expect("show");
    assert!(
        ok && stdout.contains("outline") && stdout.contains("awaiting approval"),
        "{stdout}\n{stderr}"
    );
    let out = dir.path().join("out");
    let (export_id, out_dir) = (id.clone(), out.to_string_lossy().into_owned());
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["export", &export_id, &out_dir])
    })
    .await
    .expect("export");
    assert!(ok, "{stdout}\n{stderr}");
    let outline: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("outline.json")).expect("outline.json")).expect("json");
    assert!(outline["logline"].is_string(), "{outline}");
    let episode: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("episode.json")).expect("episode.json")).expect("json");
    assert_eq!(episode["id"], json!(id));
    server.kill();
}

#[test]
fn beside_a_run_the_read_only_commands_say_why_in_a_sentence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // A run waiting at its first gate holds the store.
    let mut run = showrunner(&data)
        .args(["run", "--workflow", "idea2video", "--idea", "a kite", "--duration", "2"])
        .args(["--size", "64x36", "--fps", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    let stdout = run.stdout.take().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    use std::io::BufRead;
    while reader.read_line(&mut line).expect("a line") > 0 && !line.contains("outline") {}
    for args in [
        vec!["episodes", "list"],
        vec!["export", "01J0000000000000000000000Z", "out"],
    ] {
        let out = showrunner(&data).args(&args).output().expect("the CLI");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(&format!("in use by process {}", run.id())) && stderr.contains("showrunner run"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("WouldBlock") && !stderr.contains("acquire lock"),
            "{stderr}"
        );
        assert_eq!(stderr.matches("in use").count(), 1, "said once: {stderr}");
    }
    // ctrl-c at the gate leaves the episode as `q` does, with the same hint.
    let interrupted = Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("the rest of the output");
    let status = run.wait().expect("the run ends");
    assert!(status.success(), "{status:?}: {rest}");
    assert!(rest.contains("interrupted; continue with: showrunner resume"), "{rest}");
}
