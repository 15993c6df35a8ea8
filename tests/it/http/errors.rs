//! Every error status with its stable code.

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use showrunner::engine::EpisodeId;

use super::*;

const BROKEN_SCREENPLAY: &str = "INT. ROOM - DAY\n\nA chair.\n\n/* an unfinished note\n\nMARA\nHello.\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_has_its_status_and_stable_code() {
    let server = Server::start().await;
    let id = server.create("a ferry that never docks", 6.0).await;
    server.wait_gate(&id, "outline", 1).await;
    let outline = format!("episodes/{id}/nodes/outline");

    // 400: not JSON, not an id, not a hash, a bad query or header.
    let raw = server
        .send(
            server
                .client
                .post(server.url(&format!("{outline}/approve")))
                .header(header::CONTENT_TYPE, "application/json")
                .body("{\"version\": 1"),
        )
        .await;
    let raw = raw.expect_error(StatusCode::BAD_REQUEST, "bad_json", "truncated JSON");
    assert_eq!(raw.body["error"]["details"]["line"], json!(1));
    server
        .get("episodes/not-an-episode")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "bad id");
    server.post("episodes/12345/cancel", json!({})).await.expect_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "bad id",
    );
    for hash in [
        "..%2F..%2Fetc%2Fpasswd",
        "abc",
        &"g".repeat(64),
        &format!("{}%2F", "a".repeat(63)),
    ] {
        server
            .get(&format!("artifacts/{hash}"))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_hash", hash);
    }
    // A path parameter that is not UTF-8 once decoded: the API's format, not axum's plain text.
    for path in ["workflows/%FF", "artifacts/%FF%FE"] {
        server
            .get(path)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request", path);
    }
    server
        .get("episodes?limit=0")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "limit 0");
    server
        .get("episodes?limit=ten")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "limit ten");
    server
        .get("episodes?status=sleeping")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "status");
    server
        .get("episodes?cursor=nope")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "cursor");
    let bad_resume = server
        .send(
            server
                .client
                .get(server.url(&format!("episodes/{id}/events")))
                .header("Last-Event-ID", "yesterday"),
        )
        .await;
    bad_resume.expect_error(StatusCode::BAD_REQUEST, "bad_request", "Last-Event-ID");

    // 404: unknown episode, node, version, workflow, artifact, route.
    let nobody = EpisodeId::generate();
    server
        .get(&format!("episodes/{nobody}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "episode_not_found", "episode");
    server.delete(&format!("episodes/{nobody}")).await.expect_error(
        StatusCode::NOT_FOUND,
        "episode_not_found",
        "delete",
    );
    server
        .post(
            &format!("episodes/{nobody}/nodes/outline/approve"),
            json!({"version": 1}),
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, "episode_not_found", "approve on no episode");
    server
        .post(&format!("episodes/{id}/nodes/epilogue/approve"), json!({"version": 1}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "node_not_found", "node");
    server
        .post(
            &format!("episodes/{id}/nodes/keyframes/items/no-such-shot/approve"),
            json!({"version": 1}),
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, "node_not_found", "item");
    server.get(&format!("{outline}?version=9")).await.expect_error(
        StatusCode::NOT_FOUND,
        "version_not_found",
        "version",
    );
    server
        .get("workflows/idea3video")
        .await
        .expect_error(StatusCode::NOT_FOUND, "workflow_not_found", "workflow");
    let mut create = episode_body("x", 6.0);
    create["workflow"] = json!("idea3video");
    server
        .post("episodes", create)
        .await
        .expect_error(StatusCode::NOT_FOUND, "workflow_not_found", "create");
    server.get(&format!("artifacts/{}", "0".repeat(64))).await.expect_error(
        StatusCode::NOT_FOUND,
        "artifact_not_found",
        "artifact",
    );
    server
        .get("episodes/x/y/z")
        .await
        .expect_error(StatusCode::NOT_FOUND, "route_not_found", "route");
    server.get(&format!("{outline}/approve")).await.expect_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "GET approve",
    );

    // 409: a stale version, an action the state does not allow; details carry the state now.
    let stale = server.post(&format!("{outline}/approve"), json!({"version": 2})).await;
    let stale = stale.expect_error(StatusCode::CONFLICT, "version_conflict", "stale version");
    let details = &stale.body["error"]["details"];
    assert_eq!(
        (
            &details["state"],
            &details["current_version"],
            &details["given_version"]
        ),
        (&json!("awaiting_approval"), &json!(1), &json!(2)),
        "{details}"
    );
    let blocked = server
        .post(
            &format!("episodes/{id}/nodes/storyboard/approve"),
            json!({"version": 1}),
        )
        .await;
    let blocked = blocked.expect_error(StatusCode::CONFLICT, "illegal_action", "approve a blocked node");
    assert_eq!(blocked.body["error"]["details"]["state"], json!("blocked"));
    assert_eq!(blocked.body["error"]["details"]["current_version"], Value::Null);
    let stale_edit = server
        .post(&format!("{outline}/edit"), json!({"base_version": null, "value": {}}))
        .await;
    stale_edit.expect_error(
        StatusCode::CONFLICT,
        "version_conflict",
        "edit without the base version",
    );

    // 422: a value that does not fit, a body that does not fit, a broken screenplay, settings.
    let unfit = server
        .post(
            &format!("{outline}/edit"),
            json!({"base_version": 1, "value": {"logline": 42}}),
        )
        .await;
    let unfit = unfit.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "unfit value");
    assert_eq!(unfit.body["error"]["details"]["path"], json!("value.logline"));
    let missing = server.post(&format!("{outline}/approve"), json!({})).await;
    missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "no version");
    let typed = server
        .post(&format!("{outline}/regenerate"), json!({"version": "one"}))
        .await;
    let typed = typed.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "a string version");
    assert_eq!(typed.body["error"]["details"]["path"], json!("version"));
    let script =
        json!({"workflow": "script2video", "script": BROKEN_SCREENPLAY, "settings": {"width": 320, "height": 180}});
    let broken = server.post("episodes", script).await;
    let broken = broken.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_screenplay", "screenplay");
    assert_eq!(broken.body["error"]["details"]["line"], json!(5));
    assert!(
        broken.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 5"))
    );
    let mut odd = episode_body("x", 6.0);
    odd["settings"]["width"] = json!(321);
    let odd =
        server
            .post("episodes", odd)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "odd width");
    assert_eq!(odd.body["error"]["details"]["path"], json!("settings.width"));
    let mut typo = episode_body("x", 6.0);
    typo["settings"]["fps"] = json!("fast");
    let typo =
        server
            .post("episodes", typo)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "fps");
    assert_eq!(typo.body["error"]["details"]["path"], json!("settings.fps"));
    // A setting this server does not know is refused, not silently replaced by its default.
    let mut unknown = episode_body("x", 6.0);
    unknown["settings"]["duration"] = json!(10);
    let unknown = server.post("episodes", unknown).await.expect_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        "an unknown setting",
    );
    let path = unknown.body["error"]["details"]["path"].as_str().unwrap_or_default();
    assert!(path.starts_with("settings"), "{:#}", unknown.body);
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field `duration`")),
        "{:#}",
        unknown.body
    );
    let neither = json!({"workflow": "idea2video"});
    server
        .post("episodes", neither)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "no idea");

    // 416: a range past the end of an artifact.
    let blob = server.engine.blobs().put(b"0123456789".to_vec()).await.expect("put");
    let past = server
        .send(
            server
                .client
                .get(server.url(&format!("artifacts/{}", blob.0)))
                .header(header::RANGE, "bytes=10-"),
        )
        .await;
    let past = past.expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", "range");
    assert_eq!(past.headers[header::CONTENT_RANGE], "bytes */10");

    // Nothing of the above changed the episode.
    let outline_now = server.get(&outline).await.expect(StatusCode::OK, "outline");
    assert_eq!(
        (&outline_now.data()["state"], &outline_now.data()["current_version"]),
        (&json!("awaiting_approval"), &json!(1))
    );
    server.stop().await;
}
