//! Episodes listed in pages, forked, cancelled and deleted; `showrunner serve` stopped by SIGTERM
//! and killed by SIGKILL mid-episode, restarted and driven to the end.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;

use super::episode::SseReader;
use super::*;
use crate::support::open;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_list_in_pages_and_fork_cancel_and_delete() {
    let server = Server::start().await;
    server.get("health").await.expect(StatusCode::OK, "health");
    let mut ids = Vec::new();
    for idea in [
        "a kite that will not land",
        "a library that lends time",
        "a snowman in July",
    ] {
        ids.push(server.create(idea, 6.0).await);
    }
    let first = server.get("episodes?limit=2").await.expect(StatusCode::OK, "page 1");
    let page: Vec<&str> = first
        .data()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = first.body["meta"]["next_cursor"].as_str().expect("a cursor");
    let second = server
        .get(&format!("episodes?limit=2&cursor={cursor}"))
        .await
        .expect(StatusCode::OK, "page 2");
    assert_eq!(second.data()[0]["id"], json!(ids[0]));
    assert_eq!(second.data().as_array().map(Vec::len), Some(1));
    assert_eq!(second.body["meta"]["next_cursor"], Value::Null);

    server.wait_gate(&ids[0], "outline", 1).await;
    let forked = server
        .post(&format!("episodes/{}/fork", ids[0]), json!({}))
        .await
        .expect(StatusCode::CREATED, "fork");
    let fork_id = forked.data()["id"].as_str().expect("an id").to_owned();
    assert_eq!(forked.data()["forked_from"], json!(ids[0]));
    let fork_outline = server.value(&fork_id, "outline").await;
    assert_eq!(fork_outline, server.value(&ids[0], "outline").await);

    let cancelled = server
        .post(&format!("episodes/{}/cancel", ids[1]), json!({}))
        .await
        .expect(StatusCode::OK, "cancel");
    assert_eq!(cancelled.data()["status"], json!("cancelled"));
    let again = server.post(&format!("episodes/{}/cancel", ids[1]), json!({})).await;
    again.expect_error(StatusCode::CONFLICT, "illegal_episode_action", "cancel twice");
    let listed = server
        .get("episodes?status=cancelled")
        .await
        .expect(StatusCode::OK, "cancelled");
    let cancelled_ids: BTreeSet<&str> = listed
        .data()
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(cancelled_ids, BTreeSet::from([ids[1].as_str()]));

    server
        .delete(&format!("episodes/{}", ids[2]))
        .await
        .expect(StatusCode::OK, "delete");
    server.get(&format!("episodes/{}", ids[2])).await.expect_error(
        StatusCode::NOT_FOUND,
        "episode_not_found",
        "deleted",
    );
    let all = server.get("episodes").await.expect(StatusCode::OK, "all");
    assert_eq!(all.data().as_array().map(Vec::len), Some(3), "two left and the fork");
    server.stop().await;
}

/// Reads the `listening on http://ADDR` line of `showrunner serve`.
fn listening_address(stdout: impl std::io::Read) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("a line");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showrunner_serve_drains_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data: &Path = dir.path();
    let mut server = ServeProcess::start(data).await;
    let health = server.get("health").await;
    assert_eq!(health.data()["status"], json!("ok"));
    let created = server.post("episodes", episode_body("a moth that reads", 6.0)).await;
    let created = created.expect(StatusCode::CREATED, "create");
    let id = created.data()["id"].as_str().expect("id").to_owned();
    // An open event stream must not hold the shutdown up.
    let mut events = stream(server.client.get(server.url(&format!("episodes/{id}/events"))))
        .await
        .bytes_stream();
    assert!(events.next().await.is_some());

    let status = server.signal("-TERM").await;
    assert!(status.success(), "{status:?}");
    // The stream ended with the server.
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream closed");

    // The data directory reopens with the episode in it.
    let engine = open(data, workflows::all(&Backends::procedural()).expect("stock workflows")).await;
    assert!(engine.snapshot(id.parse().expect("id")).await.is_ok());
    engine.shutdown().await;
}

/// Sends `signal` (`-TERM`, `-KILL`) to `pid` with the `kill` command (the workspace forbids
/// `unsafe`, so no libc).
fn kill(signal: &str, pid: u32) -> bool {
    std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends SIGTERM to `pid`.
pub(crate) fn sigterm(pid: u32) -> bool {
    kill("-TERM", pid)
}

/// How long the kill -9 test may take in all; past it the test fails and kills its servers.
const KILL_TEST_BUDGET: Duration = Duration::from_secs(60);

/// How long one plain request may take.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A `showrunner serve` process over a data directory, and a client for its API. Dropping it
/// kills the process (SIGKILL) and reaps it, so a test that fails leaves no server behind.
pub(super) struct ServeProcess {
    child: std::process::Child,
    base: String,
    pub(super) client: reqwest::Client,
    /// Kept open so that the server never writes into a closed pipe.
    _stdout: Option<std::process::ChildStdout>,
}

impl ServeProcess {
    /// Starts `showrunner --data DATA serve --addr 127.0.0.1:0` and reads the port it bound.
    pub(super) async fn start(data: &Path) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_showrunner"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        // The guard owns the process from here: should the line never come, dropping the guard
        // kills the server, which closes the pipe and ends the blocking read.
        let mut server = Self {
            child,
            base: String::new(),
            client: reqwest::Client::new(),
            _stdout: None,
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut stdout = stdout;
            (listening_address(&mut stdout), stdout)
        });
        let (origin, stdout) = tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("`showrunner serve` says where it listens in time")
            .expect("read the address");
        server.base = format!("{origin}/api/v1");
        server._stdout = Some(stdout);
        server
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub(super) async fn get(&self, path: &str) -> Answer {
        answer(self.client.get(self.url(path)).timeout(REQUEST_TIMEOUT)).await
    }

    pub(super) async fn post(&self, path: &str, body: Value) -> Answer {
        answer(self.client.post(self.url(path)).json(&body).timeout(REQUEST_TIMEOUT)).await
    }

    pub(super) async fn episode(&self, id: &str) -> Value {
        let episode = self
            .get(&format!("episodes/{id}"))
            .await
            .expect(StatusCode::OK, "episode");
        let data = episode.data().clone();
        let status = data["status"].as_str().unwrap_or("");
        assert!(status == "active" || status == "completed", "{data:#}");
        data
    }

    /// Sends a signal with the `kill` command and waits (bounded) for the process to exit.
    pub(super) async fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        assert!(kill(signal, self.child.id()), "kill {signal}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            assert!(Instant::now() < deadline, "`showrunner serve` did not exit on {signal}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // Both are harmless on a process already reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_episode_the_server_restarts_and_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    tokio::time::timeout(KILL_TEST_BUDGET, killed_mid_episode(dir.path()))
        .await
        .expect("the kill -9 test finishes within its budget");
}

async fn killed_mid_episode(data: &Path) {
    use std::os::unix::process::ExitStatusExt;

    let mut first = ServeProcess::start(data).await;
    let created = first
        .post("episodes", episode_body("a night train skips a station", 8.0))
        .await
        .expect(StatusCode::CREATED, "create");
    let id = created.data()["id"].as_str().expect("an id").to_owned();

    // Approve every gate as it opens (outline, characters, scenes, …); once the scenes are
    // approved, kill the server at the first sight of a running instance.
    let mut acknowledged: Vec<(Value, Value)> = Vec::new();
    let running = loop {
        let episode = first.episode(&id).await;
        assert_eq!(episode["status"], json!("active"), "the kill comes before the end");
        let scenes_approved = acknowledged.iter().any(|(gate, _)| gate["node"] == json!("scenes"));
        let running = episode["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["state"] == json!("running"));
        if let (true, Some(running)) = (scenes_approved, running) {
            break running.clone();
        }
        for gate in gates(&episode) {
            let version = gate["current_version"].clone();
            let answer = first
                .post(&action_path(&id, gate, "approve"), json!({ "version": version }))
                .await;
            if answer.status.is_success() {
                acknowledged.push((gate.clone(), version));
            } else {
                assert_eq!(answer.status, StatusCode::CONFLICT, "approve {gate}: {:#}", answer.body);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let status = first.signal("-KILL").await;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    drop(first);
    let approved_before: Vec<&str> = acknowledged
        .iter()
        .map(|(gate, _)| gate["node"].as_str().unwrap_or(""))
        .collect();
    for node in ["outline", "characters", "scenes"] {
        assert!(
            approved_before.contains(&node),
            "{node} approved before the kill: {approved_before:?}"
        );
    }

    // A new server on the same data directory: every acknowledged approval is still there.
    let mut second = ServeProcess::start(data).await;
    for (gate, version) in &acknowledged {
        let instance = second
            .get(&instance_path(&id, gate))
            .await
            .expect(StatusCode::OK, "an instance approved before the kill");
        let shown = instance.data();
        assert_eq!(
            (&shown["state"], &shown["current_version"], &shown["approved_version"]),
            (&json!("approved"), version, version),
            "{gate} after the restart: {shown:#}"
        );
    }

    // Drive the episode to its end: every gate approved as it opens, the final one included.
    let done = loop {
        let episode = second.episode(&id).await;
        if episode["status"] == json!("completed") {
            break episode;
        }
        for gate in gates(&episode) {
            let answer = second
                .post(
                    &action_path(&id, gate, "approve"),
                    json!({ "version": gate["current_version"] }),
                )
                .await;
            assert!(
                answer.status == StatusCode::OK || answer.status == StatusCode::CONFLICT,
                "approve {gate}: {:#}",
                answer.body
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        done["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["state"] == json!("approved")),
        "{done:#}"
    );

    // The whole event log, across the crash: 1..N with no gap and no duplicate.
    let response = stream(second.client.get(second.url(&format!("episodes/{id}/events?from=1")))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut reader = SseReader::from(response);
    let log = reader.events_until("EpisodeCompleted").await;
    drop(reader);
    let seqs: Vec<u64> = log.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
    for (seq, event) in &log {
        assert_eq!((&event["seq"], &event["episode"]), (&json!(seq), &json!(id)));
    }
    assert_eq!(
        second.episode(&id).await["next_seq"],
        json!(seqs.len() + 1),
        "EpisodeCompleted is the last event"
    );
    // Each approval acknowledged before the kill is in the log once.
    for (gate, version) in &acknowledged {
        let approvals = log
            .iter()
            .filter(|(_, e)| {
                e["type"] == json!("Approved")
                    && e["key"]["node"] == gate["node"]
                    && e["key"]["item"] == gate["item"]
                    && e["version"] == *version
            })
            .count();
        assert_eq!(approvals, 1, "{gate} v{version}");
    }
    let interrupted = log
        .iter()
        .filter(|(_, e)| e["type"] == json!("NodeInterrupted"))
        .count();
    eprintln!(
        "killed while {} was running, after {} approvals; {} events, {interrupted} runs interrupted",
        instance_path(&id, &running),
        acknowledged.len(),
        log.len()
    );

    // The final MP4 is served.
    let last = second
        .get(&format!("episodes/{id}/nodes/final"))
        .await
        .expect(StatusCode::OK, "final");
    let hash = blob_hash(&last.data()["value"]["video"]);
    let video = second
        .client
        .get(second.url(&format!("artifacts/{hash}")))
        .timeout(REQUEST_TIMEOUT);
    let (status, headers, mp4) = fetch(video).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "video/mp4");
    assert!(mp4.len() > 2000 && &mp4[4..8] == b"ftyp", "{} bytes", mp4.len());

    // And the restarted server still stops cleanly.
    let status = second.signal("-TERM").await;
    assert!(status.success(), "{status:?}");
}
