//! API keys on a real socket and in the real binary (issue 11, item 7 and the ambiguous
//! credentials): two different keys in one request are refused, one key sent twice is fine, and
//! `showrunner serve` refuses to start on an empty key, naming where it came from; an
//! `Idempotency-Key` is scoped by the key's owner.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use showrunner_api::{ApiKeys, Role};

use crate::http::{Server, answer, episode_body};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_different_keys_in_one_request_are_refused_one_key_twice_is_fine() {
    let keys = ApiKeys::none()
        .with("right-key", Role::User)
        .with("other-key", Role::Admin);
    let server = Server::start_with(|api| api.keys(keys)).await;
    let url = server.url("episodes");
    let disagree = answer(
        server
            .client
            .get(&url)
            .bearer_auth("right-key")
            .header("x-api-key", "wrong-key"),
    )
    .await
    .expect_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a right Bearer key beside a wrong X-Api-Key",
    );
    let message = disagree.body["error"]["message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("disagree"), "{message}");
    // Two configured keys are no better: the request is still ambiguous.
    answer(
        server
            .client
            .get(&url)
            .bearer_auth("right-key")
            .header("x-api-key", "other-key"),
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "unauthorized", "two valid keys");
    answer(
        server
            .client
            .get(&url)
            .header("x-api-key", "right-key")
            .header("x-api-key", "wrong-key"),
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "unauthorized", "two X-Api-Keys");
    answer(
        server
            .client
            .get(&url)
            .bearer_auth("right-key")
            .header("x-api-key", "right-key"),
    )
    .await
    .expect(StatusCode::OK, "one key in both headers");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_idempotency_key_of_two_owners_makes_two_episodes_and_never_replays_the_others() {
    let mut keys = ApiKeys::none();
    keys.add("ana-key", Some("ana"), Role::User).expect("ana's key");
    keys.add("bob-key", Some("bob"), Role::User).expect("bob's key");
    let server = Server::start_with(|api| api.keys(keys)).await;
    let body = episode_body("a shared retry key", 8.0);
    let post = |key: &'static str| {
        server
            .client
            .post(server.url("episodes"))
            .bearer_auth(key)
            .header("idempotency-key", "retry-1")
            .json(&body)
    };
    let ana = answer(post("ana-key")).await.expect(StatusCode::CREATED, "ana creates");
    let bob = answer(post("bob-key")).await.expect(StatusCode::CREATED, "bob creates");
    assert!(
        bob.headers.get("idempotent-replayed").is_none(),
        "bob's request is his own"
    );
    assert_ne!(ana.data()["id"], bob.data()["id"], "two episodes");
    assert_eq!(ana.data()["owner"], json!("ana"));
    assert_eq!(bob.data()["owner"], json!("bob"));
    // Each one's retry is replayed to them, with their own episode.
    for (key, first) in [("ana-key", &ana), ("bob-key", &bob)] {
        let again = answer(post(key)).await.expect(StatusCode::CREATED, "a retry");
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(again.data()["id"], first.data()["id"]);
    }
    server.stop().await;
}

/// Runs `showrunner serve` and waits (up to 60 s) for it to exit; a server that starts instead
/// is killed and the test fails.
fn refused_start(data: &std::path::Path, env: &[(&str, &str)]) -> String {
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_showrunner"));
    command
        .args(["--data", &data.to_string_lossy(), "serve", "--addr", "127.0.0.1:0"])
        .env_remove("SHOWRUNNER_API_KEYS")
        .env_remove("SHOWRUNNER_ADMIN_KEYS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("showrunner starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let output = child.wait_with_output().expect("the output");
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(!status.success(), "refused to start: {stderr}");
            assert!(
                !String::from_utf8_lossy(&output.stdout).contains("listening on"),
                "it must not listen"
            );
            return stderr;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("showrunner serve started with an empty key");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_real_server_refuses_to_start_on_an_empty_key() {
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("showrunner.toml");
    std::fs::write(&file, "[api]\nkeys = [\"file-key-do-not-log\"]\n").expect("the configuration");
    // The case: keys in the file, the variable set but empty.
    let stderr = refused_start(data.path(), &[("SHOWRUNNER_API_KEYS", "")]);
    assert!(stderr.contains("SHOWRUNNER_API_KEYS is set but empty"), "{stderr}");
    let stderr = refused_start(data.path(), &[("SHOWRUNNER_ADMIN_KEYS", "admin-key,")]);
    assert!(stderr.contains("SHOWRUNNER_ADMIN_KEYS holds an empty key"), "{stderr}");
    std::fs::write(&file, "[api]\nkeys = [\"\"]\n").expect("the configuration");
    let stderr = refused_start(data.path(), &[]);
    assert!(
        stderr.contains("api.keys[0] is empty") && stderr.contains(&file.display().to_string()),
        "{stderr}"
    );
    assert!(!stderr.contains("do-not-log"), "{stderr}");
}
