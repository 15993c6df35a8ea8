//! Actions at the gates: 50 concurrent approvals of one gate, `Idempotency-Key` replays, and a
//! candidate picked over an item's route.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use showrunner::engine::{EventKind, Gate, NodeSpec, WorkflowDef};

use super::lifecycle::{REQUEST_TIMEOUT, ServeProcess};
use super::*;
use crate::support::{Runs, counted, open};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_approvals_of_one_gate_let_exactly_one_win() {
    let server = Server::start().await;
    let id = server.create("two rival bakers share one oven", 6.0).await;
    server.wait_gate(&id, "outline", 1).await;
    let url = server.url(&format!("episodes/{id}/nodes/outline/approve"));
    let approvals = (0..50).map(|_| {
        let request = server.client.post(&url).json(&json!({"version": 1}));
        async move {
            let answer = answer(request).await;
            (answer.status, answer.body)
        }
    });
    let answers = futures::future::join_all(approvals).await;
    let won: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    let lost: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).collect();
    assert_eq!((won.len(), lost.len()), (1, 49), "{answers:?}");
    for (_, body) in lost {
        let error = &body["error"];
        assert!(
            error["code"] == json!("illegal_action") || error["code"] == json!("version_conflict"),
            "{body}"
        );
        assert_eq!(error["details"]["state"], json!("approved"), "{body}");
        assert_eq!(error["details"]["current_version"], json!(1), "{body}");
    }
    let mut events = server
        .engine
        .subscribe(id.parse().expect("id"), 1)
        .await
        .expect("subscribe");
    let mut approved = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
        let event = event.expect("event");
        if let EventKind::Approved { key, .. } = &event.kind {
            approved += usize::from(key.node == "outline");
        }
    }
    assert_eq!(approved, 1, "one approval in the log");
    server.stop().await;
}

/// A POST with an `Idempotency-Key`.
fn keyed(client: &reqwest::Client, url: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("Idempotency-Key", key)
        .json(body)
        .timeout(REQUEST_TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_replays_the_first_answer_and_acts_once() {
    let server = Server::start().await;
    let id = server.create("a clockmaker forgets one hour a day", 6.0).await;
    server.wait_gate(&id, "outline", 1).await;
    let url = server.url(&format!("episodes/{id}/nodes/outline/approve"));
    let body = json!({"version": 1});

    // Two at once with one key: the second waits for the first and gets its answer.
    let (a, b) = tokio::join!(
        answer(keyed(&server.client, &url, "approve-outline-1", &body)),
        answer(keyed(&server.client, &url, "approve-outline-1", &body)),
    );
    let c = answer(keyed(&server.client, &url, "approve-outline-1", &body)).await;
    let a = a.expect(StatusCode::OK, "first approval");
    for other in [&b, &c] {
        assert_eq!((other.status, &other.body), (a.status, &a.body), "a replay");
    }
    let replayed = [&a, &b, &c]
        .iter()
        .filter(|x| x.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 2, "two of three are replays");
    // Without a key the approval is refused: the gate has moved on.
    server
        .post(&format!("episodes/{id}/nodes/outline/approve"), body.clone())
        .await
        .expect(StatusCode::CONFLICT, "unkeyed approval");

    let mut events = server
        .engine
        .subscribe(id.parse().expect("id"), 1)
        .await
        .expect("subscribe");
    let mut approved = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
        if let EventKind::Approved { key, .. } = &event.expect("event").kind {
            approved += usize::from(key.node == "outline");
        }
    }
    assert_eq!(approved, 1, "one approval in the log");

    // The key on another path, or with another body: 422.
    let cancel = server.url(&format!("episodes/{id}/cancel"));
    answer(keyed(&server.client, &cancel, "approve-outline-1", &json!({})))
        .await
        .expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "another path",
        );
    answer(keyed(&server.client, &url, "approve-outline-1", &json!({"version": 2})))
        .await
        .expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "another body",
        );
    // Malformed keys: 400, and nothing is done.
    for bad in ["has space", "k".repeat(256).as_str(), "caf\u{e9}"] {
        let request = server
            .client
            .post(&cancel)
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).expect("a header"),
            )
            .json(&json!({}));
        answer(request)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request", bad);
    }
    let shown = server
        .get(&format!("episodes/{id}"))
        .await
        .expect(StatusCode::OK, "show");
    assert_eq!(shown.data()["status"], json!("active"), "not cancelled");

    // The metrics count those requests by route template, and the episodes by status.
    let origin = server.base.trim_end_matches("/api/v1");
    let (status, headers, text) = fetch(server.client.get(format!("{origin}/metrics"))).await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers[header::CONTENT_TYPE].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = String::from_utf8(text).expect("text");
    let approve = "/api/v1/episodes/{id}/nodes/{key}/approve";
    for line in [
        format!(r#"showrunner_http_requests_total{{method="POST",route="{approve}",status="200"}} 3"#),
        format!(r#"showrunner_http_requests_total{{method="POST",route="{approve}",status="409"}} 1"#),
        format!(r#"showrunner_http_requests_total{{method="POST",route="{approve}",status="422"}} 1"#),
        r#"showrunner_http_requests_total{method="POST",route="/api/v1/episodes/{id}/cancel",status="400"} 3"#
            .to_owned(),
        r#"showrunner_http_requests_total{method="POST",route="/api/v1/episodes/{id}/cancel",status="422"} 1"#
            .to_owned(),
        format!(r#"showrunner_http_request_duration_seconds_count{{method="POST",route="{approve}"}} 5"#),
        r#"showrunner_episodes{status="active"} 1"#.to_owned(),
        r#"showrunner_episodes{status="cancelled"} 0"#.to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    assert!(!text.contains(&id), "no raw paths in the labels:\n{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_create_is_replayed_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = episode_body("a ferry that only runs backwards", 6.0);
    let mut first = ServeProcess::start(dir.path()).await;
    let created = answer(keyed(&first.client, &first.url("episodes"), "create-ferry", &body))
        .await
        .expect(StatusCode::CREATED, "create");
    assert!(first.signal("-TERM").await.success(), "a clean exit");
    // The key was committed with the episode, in the store: no answer file is written.
    assert!(
        !dir.path().join("api").join("idempotency").exists(),
        "no stored answer file"
    );

    let second = ServeProcess::start(dir.path()).await;
    let again = answer(keyed(&second.client, &second.url("episodes"), "create-ferry", &body)).await;
    assert_eq!(
        (again.status, &again.body),
        (created.status, &created.body),
        "the first answer"
    );
    assert!(again.headers.contains_key("idempotent-replayed"), "a replay");
    assert_eq!(
        again.headers.get(header::LOCATION),
        created.headers.get(header::LOCATION),
        "its Location"
    );
    let listed = second.get("episodes").await.expect(StatusCode::OK, "list");
    assert_eq!(listed.data().as_array().map(Vec::len), Some(1), "{:#}", listed.body);
}

/// A cast (list) whose looks (one per member) each offer two candidates to pick from.
fn casting_workflow() -> WorkflowDef {
    let runs = Runs::default();
    WorkflowDef::builder("casting")
        .node(NodeSpec::list(
            "cast",
            counted(&runs, |_, _| json!([{"id": "ada"}, {"id": "ben"}])),
        ))
        .node(
            NodeSpec::map(
                "looks",
                "cast",
                counted(
                    &runs,
                    |input, ctx| json!({"who": input["item"]["id"], "seed": ctx.seed()}),
                ),
            )
            .gate(Gate::Candidates { n: 2 }),
        )
        .build()
        .expect("a valid workflow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_of_a_map_item_is_selected_over_the_item_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), vec![casting_workflow()]).await;
    let id = engine
        .create_episode("casting", json!({}), 5)
        .await
        .expect("create")
        .to_string();
    let server = Server::over(engine, dir).await;
    let episode = server
        .wait(&id, "both looks at their gate", |e| gates(e).count() == 2)
        .await;
    for look in gates(&episode) {
        assert_eq!(look["candidates"], json!([1, 2]), "{look}");
    }
    let ada = format!("episodes/{id}/nodes/looks/items/ada");
    let shown = server.get(&ada).await.expect(StatusCode::OK, "ada's look");
    assert_eq!(shown.data()["item"], json!("ada"));
    assert_eq!(shown.data()["versions"].as_array().map(Vec::len), Some(2));
    let picked = server
        .post(&format!("{ada}/select"), json!({"version": 2}))
        .await
        .expect(StatusCode::OK, "select");
    assert_eq!(
        (&picked.data()["state"], &picked.data()["current_version"]),
        (&json!("approved"), &json!(2))
    );
    let again = server.post(&format!("{ada}/select"), json!({"version": 1})).await;
    let again = again.expect_error(StatusCode::CONFLICT, "illegal_action", "select twice");
    assert_eq!(again.body["error"]["details"]["item"], json!("ada"));
    server
        .post(
            &format!("episodes/{id}/nodes/looks/items/ben/select"),
            json!({"version": 1}),
        )
        .await
        .expect(StatusCode::OK, "select ben's first");
    let done = server.wait(&id, "the end", |e| e["status"] == json!("completed")).await;
    assert_eq!(gates(&done).count(), 0);
    server.stop().await;
}
