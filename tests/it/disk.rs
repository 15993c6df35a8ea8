//! Issue 11, item 2 and the "Also" line, with the real `showrunner` binary: a full file system
//! (a 20 MB tmpfs filled by another writer) fails the actions that cannot be made durable with
//! `507 insufficient_storage` and keeps the server up, reads answering, everything acknowledged
//! kept, and work resuming by itself once space is freed; the store opens again with little
//! free space; a damaged blob answers `corrupt_artifact`; and a second process on one data
//! directory is told, in one sentence, which process holds the store.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::http::{Answer, answer, episode_body, find};

#[path = "../../storage/tests/support/tmpfs.rs"]
mod tmpfs;

use tmpfs::{Tmpfs, fill};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A `showrunner serve` child over a data directory; killed and reaped when dropped.
struct Serve {
    child: Child,
    base: String,
    client: reqwest::Client,
    _stdout: std::process::ChildStdout,
}

impl Serve {
    async fn start(data: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_showrunner"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let read = tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut stdout = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            (line, stdout.into_inner())
        });
        let (line, stdout) = match tokio::time::timeout(Duration::from_secs(30), read).await {
            Ok(read) => read.expect("read the address"),
            Err(_) => {
                let _ = child.kill();
                panic!("`showrunner serve` did not say where it listens");
            }
        };
        let Some(origin) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let status = child.wait().expect("wait");
            panic!("`showrunner serve` did not start ({status}): {line:?}");
        };
        Self {
            base: format!("{origin}/api/v1"),
            child,
            client: reqwest::Client::new(),
            _stdout: stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    async fn get(&self, path: &str) -> Answer {
        answer(self.client.get(self.url(path)).timeout(REQUEST_TIMEOUT)).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        answer(self.client.post(self.url(path)).json(&body).timeout(REQUEST_TIMEOUT)).await
    }

    async fn upload(&self, bytes: Vec<u8>) -> Answer {
        answer(
            self.client
                .post(self.url("uploads"))
                .header(header::CONTENT_TYPE, "image/png")
                .body(bytes)
                .timeout(REQUEST_TIMEOUT),
        )
        .await
    }

    fn assert_running(&mut self, when: &str) {
        let status = self.child.try_wait().expect("poll the server");
        assert!(status.is_none(), "the server exited {when}: {status:?}");
    }

    /// Waits until `node` of the episode is at its gate; returns its current version.
    async fn wait_gate(&self, id: &str, node: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let episode = self
                .get(&format!("episodes/{id}"))
                .await
                .expect(StatusCode::OK, "episode");
            if let Some(instance) = find(episode.data(), node)
                && instance["state"] == json!("awaiting_approval")
            {
                return instance["current_version"].as_u64().expect("a version");
            }
            assert!(Instant::now() < deadline, "{node} of {id} never reached its gate");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn terminate(mut self) {
        assert!(
            Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success())
        );
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "a clean stop: {status}");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn noise_png(seed: u32, side: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| {
        let v = (x * 7919 + y * 104_729 + seed).wrapping_mul(2_654_435_761);
        image::Rgb([(v >> 8) as u8, (v >> 16) as u8, (v >> 24) as u8])
    });
    showrunner::media::png::encode_png(&image).expect("a PNG")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_a_full_disk_answers_507_keeps_serving_and_resumes_once_space_is_freed() {
    let Some(fs) = Tmpfs::mount(20) else { return };
    let data: PathBuf = fs.path().join("data");
    let filler = fs.path().join("filler");
    let mut server = Serve::start(&data).await;

    // Acknowledged work: two episodes, both waiting at their first gate.
    let mut ids = Vec::new();
    for n in 0..2 {
        let created = server
            .post("episodes", episode_body(&format!("a tide clock, take {n}"), 6.0))
            .await;
        ids.push(
            created.expect(StatusCode::CREATED, "create").data()["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let outline = server.wait_gate(&ids[0], "outline").await;
    server.wait_gate(&ids[1], "outline").await;
    let uploaded = server
        .upload(noise_png(1, 64))
        .await
        .expect(StatusCode::CREATED, "an upload");
    let reference = uploaded.data()["reference"].clone();

    // Another writer fills the disk.
    fill(&filler, 0);
    let refused = server.post("episodes", episode_body("a full disk", 6.0)).await;
    refused.expect_error(
        StatusCode::INSUFFICIENT_STORAGE,
        "insufficient_storage",
        "create on a full disk",
    );
    server
        .post(
            &format!("episodes/{}/nodes/outline/approve", ids[0]),
            json!({"version": outline}),
        )
        .await
        .expect_error(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            "approve on a full disk",
        );
    server.upload(noise_png(2, 64)).await.expect_error(
        StatusCode::INSUFFICIENT_STORAGE,
        "insufficient_storage",
        "upload on a full disk",
    );
    server.assert_running("on a full disk");

    // Reads keep working, and nothing acknowledged is lost.
    server.get("health").await.expect(StatusCode::OK, "health");
    for id in &ids {
        server
            .get(&format!("episodes/{id}"))
            .await
            .expect(StatusCode::OK, "read");
    }
    let hash = crate::http::blob_hash(&reference);
    server
        .get(&format!("artifacts/{hash}"))
        .await
        .expect(StatusCode::OK, "an artifact");

    // Space freed: the same actions go through, and the episode runs on by itself.
    std::fs::remove_file(&filler).expect("free the space");
    server
        .post(
            &format!("episodes/{}/nodes/outline/approve", ids[0]),
            json!({"version": outline}),
        )
        .await
        .expect(StatusCode::OK, "approve once space is freed");
    server.wait_gate(&ids[0], "characters").await;
    server
        .post("episodes", episode_body("space again", 6.0))
        .await
        .expect(StatusCode::CREATED, "create once space is freed");
    server.assert_running("after the disk was full");
    server.terminate();

    // The store opens with little free space, with everything acknowledged.
    fill(&filler, 3 << 20);
    let server = Serve::start(&data).await;
    for id in &ids {
        server
            .get(&format!("episodes/{id}"))
            .await
            .expect(StatusCode::OK, "after a restart");
    }
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_artifact_answers_corrupt_artifact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serve::start(dir.path()).await;
    let uploaded = server
        .upload(noise_png(3, 16))
        .await
        .expect(StatusCode::CREATED, "an upload");
    let hash = crate::http::blob_hash(&uploaded.data()["reference"]);
    std::fs::write(dir.path().join("blobs").join(&hash), b"not the image any more").expect("damage");
    server.get(&format!("artifacts/{hash}")).await.expect_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "corrupt_artifact",
        "a damaged blob",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_one_data_directory_is_told_which_process_holds_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Serve::start(dir.path()).await;
    // A command that would drive the store (reading ones go through the server: tests/it/beside.rs).
    let second = Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .arg("--data")
        .arg(dir.path())
        .args(["run", "--workflow", "idea2video", "--idea", "a kite"])
        .output()
        .expect("run a second command");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    let sentence = format!(
        "the store in {} is in use by process {}",
        dir.path().display(),
        server.child.id()
    );
    assert_eq!(stderr.matches(&sentence).count(), 1, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("Os {"), "{stderr}");
}
