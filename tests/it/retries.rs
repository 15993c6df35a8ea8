//! Issue 11, item 6: a request retried with its `Idempotency-Key` after the server was killed
//! gets the first answer when its first try took effect, whatever the moment of the kill —
//! never a `409` for an approval that did land, never a second episode for a create that did.
//! The real `showrunner serve` binary, SIGKILLed from 0 to 5 ms after the request is sent, and
//! once after its answer came.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::served::{Reply, Served, eventually, send};

/// Delays between sending a request and killing the server, in microseconds; `None` kills it
/// after the answer came.
const DELAYS_US: [Option<u64>; 12] = [
    Some(0),
    Some(250),
    Some(500),
    Some(1000),
    Some(1500),
    Some(2000),
    Some(2500),
    Some(3000),
    Some(3500),
    Some(4000),
    Some(5000),
    None,
];

/// How long a request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// A small idea2video episode: its nodes run in a blink.
pub(crate) fn small_episode(idea: &str) -> Value {
    json!({
        "workflow": "idea2video",
        "idea": idea,
        "settings": {"width": 64, "height": 36, "fps": 4, "target_duration_s": 2.0, "seed": 5},
    })
}

/// A keyed POST.
fn keyed(server: &Served, path: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
    server
        .client
        .post(server.url(path))
        .header("Idempotency-Key", key)
        .json(body)
        .timeout(REQUEST_TIMEOUT)
}

/// Sends a keyed POST and SIGKILLs the server `delay_us` after (or after the answer when
/// `None`); returns the answer if one came before the kill.
async fn send_then_kill(
    server: &mut Served,
    path: &str,
    key: &str,
    body: &Value,
    delay_us: Option<u64>,
) -> Option<Reply> {
    let request = keyed(server, path, key, body);
    let sent = tokio::spawn(send(request));
    match delay_us {
        Some(us) => {
            // A thread sleep: tokio's timer counts whole milliseconds.
            let until = Instant::now() + Duration::from_micros(us);
            while Instant::now() < until {
                std::thread::yield_now();
            }
            server.kill();
            sent.await.expect("the request task")
        }
        None => {
            let answer = sent.await.expect("the request task");
            server.kill();
            answer
        }
    }
}

/// The retry after the restart, and a second one: both answer like `first` would have, the
/// retry is a replay whenever the first try took effect, and the second one always is.
fn check_retry(what: &str, expected: StatusCode, first: Option<&Reply>, retry: &Reply, again: &Reply) {
    assert_eq!(
        retry.status, expected,
        "{what}: the retry after the kill: {:#}",
        retry.body
    );
    if let Some(first) = first {
        assert_eq!(first.status, expected, "{what}: the first try: {:#}", first.body);
        assert!(retry.replayed(), "{what}: answered before the kill, so replayed");
        assert_eq!(retry.body, first.body, "{what}: the first answer");
    }
    assert!(again.replayed(), "{what}: the second retry is a replay");
    assert_eq!(
        (again.status, &again.body),
        (retry.status, &retry.body),
        "{what}: the same answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_retried_after_a_sigkill_is_replayed_never_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("serve.log");
    let mut server = Served::start(&data, Some(&log)).await;
    let mut landed_unanswered = 0;
    for (round, delay) in DELAYS_US.into_iter().enumerate() {
        let when = delay.map_or("after the answer".to_owned(), |us| format!("{us} µs after sending"));

        // Create, killed mid-request.
        let body = small_episode(&format!("a lighthouse keeper counts ships, take {round}"));
        let key = format!("create-{round}");
        let first = send_then_kill(&mut server, "episodes", &key, &body, delay).await;
        server = Served::start(&data, Some(&log)).await;
        let retry = send(keyed(&server, "episodes", &key, &body)).await.expect("an answer");
        let again = send(keyed(&server, "episodes", &key, &body)).await.expect("an answer");
        let what = format!("create killed {when}");
        check_retry(&what, StatusCode::CREATED, first.as_ref(), &retry, &again);
        landed_unanswered += usize::from(first.is_none() && retry.replayed());
        let id = retry.data()["id"].as_str().expect("an id").to_owned();
        let listed = send(server.client.get(server.url("episodes?limit=200")))
            .await
            .expect("the list");
        let count = listed.data().as_array().map_or(0, Vec::len);
        assert_eq!(count, round + 1, "{what}: one episode per create, never a second");

        // Approve the outline, killed mid-request.
        let path = format!("episodes/{id}/nodes/outline");
        eventually(Duration::from_secs(60), "the outline at its gate", || async {
            let shown = send(server.client.get(server.url(&path))).await?;
            (shown.data()["state"] == json!("awaiting_approval")).then_some(())
        })
        .await;
        let approve = format!("{path}/approve");
        let body = json!({"version": 1});
        let key = format!("approve-{round}");
        let first = send_then_kill(&mut server, &approve, &key, &body, delay).await;
        server = Served::start(&data, Some(&log)).await;
        let retry = send(keyed(&server, &approve, &key, &body)).await.expect("an answer");
        let again = send(keyed(&server, &approve, &key, &body)).await.expect("an answer");
        let what = format!("approve killed {when}");
        check_retry(&what, StatusCode::OK, first.as_ref(), &retry, &again);
        landed_unanswered += usize::from(first.is_none() && retry.replayed());
        let shown = retry.data();
        assert_eq!(
            (&shown["state"], &shown["approved_version"]),
            (&json!("approved"), &json!(1)),
            "{what}: {shown:#}"
        );
    }
    eprintln!(
        "{} kills; {landed_unanswered} requests took effect without an answer and were replayed",
        2 * DELAYS_US.len()
    );
}
