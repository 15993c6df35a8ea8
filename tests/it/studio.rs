//! The studio side of the HTTP facade on a real socket: series with a bible and shared
//! characters, reference-image uploads (type, size and count limits), garbage collection that
//! keeps what series reference, API keys with an admin role, and the conversational
//! `messages` route acting on gates.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use showrunner::media::png::encode_png;

use crate::http::{Answer, Server, answer, episode_body, fetch, find};

/// A small PNG of one colour.
fn png(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb(rgb));
    encode_png(&image).expect("a PNG")
}

/// A small JPEG of one colour.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 40, 40]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Jpeg).expect("a JPEG");
    bytes.into_inner()
}

impl Server {
    async fn upload(&self, path: &str, content_type: &str, bytes: Vec<u8>) -> Answer {
        self.send(
            self.client
                .post(self.url(path))
                .header(header::CONTENT_TYPE, content_type)
                .body(bytes),
        )
        .await
    }

    async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(self.client.put(self.url(path)).json(&body)).await
    }
}

fn series_body() -> Value {
    json!({
        "title": "Harbour Lights",
        "bible": {
            "visual_style": "ink and watercolour",
            "world": "a fishing town where the fog remembers",
            "rules": ["the lighthouse never goes dark"],
        },
        "characters": [{
            "name": "Inspector Vale",
            "role": "the detective",
            "static_features": {"face": "sharp, grey-eyed", "body": "tall"},
            "dynamic_features": {"clothing": "a green oilskin coat", "props": ["a brass lantern"]},
            "personality": "patient",
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_are_created_updated_with_revisions_and_refused_when_malformed() {
    let server = Server::start().await;
    let created = server
        .post("series", series_body())
        .await
        .expect(StatusCode::CREATED, "create");
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        created.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/series/{id}").as_str())
    );
    let series = created.data();
    assert_eq!(series["revision"], json!(1));
    assert_eq!(
        series["characters"][0]["id"],
        json!("inspector-vale"),
        "ids are slugs of names"
    );
    assert_eq!(
        series["bible"]["world"],
        json!("a fishing town where the fog remembers")
    );

    let listed = server.get("series").await.expect(StatusCode::OK, "list");
    assert_eq!(listed.data().as_array().map(Vec::len), Some(1));
    assert_eq!(listed.body["meta"]["count"], json!(1));

    let mut update = series_body();
    update["title"] = json!("Harbour Lights (revised)");
    update["revision"] = json!(1);
    let updated = server
        .put(&format!("series/{id}"), update.clone())
        .await
        .expect(StatusCode::OK, "update");
    assert_eq!(updated.data()["revision"], json!(2));
    assert_eq!(updated.data()["title"], json!("Harbour Lights (revised)"));
    // The same update again names a revision that is no longer current.
    let stale = server.put(&format!("series/{id}"), update).await;
    let stale = stale.expect_error(StatusCode::CONFLICT, "series_conflict", "a stale revision");
    assert_eq!(stale.body["error"]["details"]["current_revision"], json!(2));
    assert_eq!(
        server
            .get(&format!("series/{id}"))
            .await
            .expect(StatusCode::OK, "show")
            .data()["title"],
        json!("Harbour Lights (revised)"),
        "the refused update changed nothing"
    );

    let mut twins = series_body();
    twins["characters"] = json!([{"name": "Ada"}, {"name": "ada"}]);
    let refused = server.post("series", twins).await;
    let refused = refused.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "two ids alike");
    assert_eq!(refused.body["error"]["details"]["path"], json!("characters[1].id"));
    let mut untitled = series_body();
    untitled["title"] = json!("  ");
    server
        .post("series", untitled)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "no title");
    let mut four = series_body();
    let hash = "0".repeat(64);
    four["characters"][0]["reference_images"] = json!(vec![format!("blob:{hash}"); 4]);
    let four = server.post("series", four).await;
    let four = four.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "four references");
    assert_eq!(
        four.body["error"]["details"]["path"],
        json!("characters[0].reference_images")
    );
    let mut missing = series_body();
    missing["characters"][0]["reference_images"] = json!([format!("blob:{hash}")]);
    server.post("series", missing).await.expect_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        "a reference never uploaded",
    );
    server.get("series/01J0000000000000000000000Z").await.expect_error(
        StatusCode::NOT_FOUND,
        "series_not_found",
        "unknown series",
    );
    server
        .get("series/not-an-id")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "malformed id");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_limited_by_type_size_and_count_and_gc_keeps_what_series_reference() {
    let server = Server::start_with(|api| api.upload_limit(64 * 1024)).await;
    let uploaded = server
        .upload("uploads", "image/png", png(32, 24, [10, 200, 30]))
        .await
        .expect(StatusCode::CREATED, "a PNG");
    assert_eq!(
        (uploaded.data()["width"].clone(), uploaded.data()["height"].clone()),
        (json!(32), json!(24))
    );
    assert_eq!(uploaded.data()["content_type"], json!("image/png"));
    let jpeg_upload = server
        .upload("uploads", "image/jpeg", jpeg(16, 16))
        .await
        .expect(StatusCode::CREATED, "a JPEG");
    assert_eq!(jpeg_upload.data()["content_type"], json!("image/jpeg"));

    server
        .upload("uploads", "image/gif", b"GIF89a\x01\x00\x01\x00".to_vec())
        .await
        .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "a GIF");
    server.upload("uploads", "image/png", jpeg(8, 8)).await.expect_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "JPEG bytes called PNG",
    );
    let mut broken = png(8, 8, [1, 2, 3]);
    broken.truncate(20);
    server.upload("uploads", "image/png", broken).await.expect_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_image",
        "a truncated PNG",
    );
    let mut noise = vec![0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    noise.extend((0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    server.upload("uploads", "image/png", noise).await.expect_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "over the 64 KB limit",
    );

    // Three references per character, through the series route; a fourth is refused.
    let series = server
        .post("series", series_body())
        .await
        .expect(StatusCode::CREATED, "series");
    let id = series.data()["id"].as_str().expect("an id").to_owned();
    let route = format!("series/{id}/characters/inspector-vale/references");
    let mut references = Vec::new();
    for shade in [50u8, 100, 150] {
        let added = server
            .upload(&route, "image/png", png(20, 20, [shade, 0, 0]))
            .await
            .expect(StatusCode::CREATED, "a reference");
        references.push(added.data()["upload"]["reference"].clone());
    }
    let after = server
        .get(&format!("series/{id}"))
        .await
        .expect(StatusCode::OK, "series");
    assert_eq!(after.data()["characters"][0]["reference_images"], json!(references));
    assert_eq!(after.data()["revision"], json!(4), "each reference is an update");
    server
        .upload(&route, "image/png", png(20, 20, [200, 0, 0]))
        .await
        .expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_references",
            "a fourth reference",
        );
    server
        .upload(
            &format!("series/{id}/characters/nobody/references"),
            "image/png",
            png(4, 4, [0, 0, 0]),
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, "character_not_found", "an unknown character");

    // Collect with no grace: the references stay, and so do the loose uploads, for a day
    // (`UPLOAD_RETENTION`: a client told that its image is stored may still attach it).
    server
        .post("admin/gc?grace_s=0", json!({}))
        .await
        .expect(StatusCode::OK, "gc");
    for reference in &references {
        let hash = crate::http::blob_hash(reference);
        server
            .get(&format!("artifacts/{hash}"))
            .await
            .expect(StatusCode::OK, "a series reference survives collection");
    }
    let loose = crate::http::blob_hash(&uploaded.data()["reference"]);
    server
        .get(&format!("artifacts/{loose}"))
        .await
        .expect(StatusCode::OK, "an unreferenced upload is kept for its retention");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_in_a_series_casts_its_regulars_and_keeps_its_copy() {
    let server = Server::start().await;
    let series = server
        .post("series", series_body())
        .await
        .expect(StatusCode::CREATED, "series");
    let series_id = series.data()["id"].as_str().expect("an id").to_owned();
    let regular = series.data()["characters"][0].clone();
    let mut body = episode_body("a ferry arrives with no one aboard", 8.0);
    body["series_id"] = json!(series_id);
    let created = server
        .post("episodes", body)
        .await
        .expect(StatusCode::CREATED, "create");
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    assert_eq!(created.data()["series_id"], json!(series_id));
    assert_eq!(created.data()["input"]["series"]["title"], json!("Harbour Lights"));

    server.wait_gate(&id, "outline", 1).await;
    let outline = server.value(&id, "outline").await;
    assert!(
        outline["synopsis"]
            .as_str()
            .unwrap_or("")
            .contains("a fishing town where the fog remembers"),
        "the bible's world reaches the outline: {outline:#}"
    );
    assert!(
        outline["logline"].as_str().unwrap_or("").contains("Inspector Vale"),
        "{outline:#}"
    );
    server
        .post(&format!("episodes/{id}/nodes/outline/approve"), json!({"version": 1}))
        .await
        .expect(StatusCode::OK, "approve the outline");
    server.wait_gate(&id, "characters", 1).await;
    let cast = server.value(&id, "characters").await;
    assert_eq!(cast[0], regular, "the regular is cast exactly as the series has them");
    assert!(cast.as_array().map_or(0, Vec::len) >= 2, "{cast:#}");

    // Changing the series later leaves the episode's copy alone.
    let mut update = series_body();
    update["revision"] = json!(1);
    update["bible"]["world"] = json!("a desert");
    server
        .put(&format!("series/{series_id}"), update)
        .await
        .expect(StatusCode::OK, "update");
    let episode = server
        .get(&format!("episodes/{id}"))
        .await
        .expect(StatusCode::OK, "episode");
    assert_eq!(
        episode.data()["input"]["series"]["bible"]["world"],
        json!("a fishing town where the fog remembers")
    );
    let mut orphan = episode_body("x", 8.0);
    orphan["series_id"] = json!("01J0000000000000000000000Z");
    server
        .post("episodes", orphan)
        .await
        .expect_error(StatusCode::NOT_FOUND, "series_not_found", "an unknown series");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_guard_every_route_but_health_and_admin_routes_need_the_admin_role() {
    let keys = showrunner_api::ApiKeys::none()
        .with("user-secret-1", showrunner_api::Role::User)
        .with("admin-secret-1", showrunner_api::Role::Admin);
    let server = Server::start_with(|api| api.keys(keys)).await;
    let as_key = |request: reqwest::RequestBuilder, key: &str| request.bearer_auth(key);

    server.get("health").await.expect(StatusCode::OK, "health needs no key");
    let missing = server.get("episodes").await;
    let missing = missing.expect_error(StatusCode::UNAUTHORIZED, "unauthorized", "no key");
    assert_eq!(
        missing
            .headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    answer(as_key(server.client.get(server.url("episodes")), "wrong"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized", "an unknown key");
    answer(as_key(server.client.get(server.url("episodes")), "user-secret-1"))
        .await
        .expect(StatusCode::OK, "a user key");
    answer(
        server
            .client
            .get(server.url("episodes"))
            .header("x-api-key", "user-secret-1"),
    )
    .await
    .expect(StatusCode::OK, "a user key in X-Api-Key");
    let created = answer(
        as_key(server.client.post(server.url("episodes")), "user-secret-1").json(&episode_body("a key test", 8.0)),
    )
    .await
    .expect(StatusCode::CREATED, "a user may create");
    let id = created.data()["id"].as_str().expect("an id").to_owned();

    answer(as_key(
        server.client.delete(server.url(&format!("episodes/{id}"))),
        "user-secret-1",
    ))
    .await
    .expect_error(StatusCode::FORBIDDEN, "forbidden", "a user may not delete");
    let metrics_url = server.url("/").replace("/api/v1/", "/metrics");
    answer(as_key(server.client.get(&metrics_url), "user-secret-1"))
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden", "a user may not read metrics");
    answer(as_key(server.client.post(server.url("admin/gc")), "user-secret-1"))
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden", "a user may not collect garbage");
    let (status, _, _) = fetch(as_key(server.client.get(&metrics_url), "admin-secret-1")).await;
    assert_eq!(status, StatusCode::OK);
    answer(as_key(
        server.client.delete(server.url(&format!("episodes/{id}"))),
        "admin-secret-1",
    ))
    .await
    .expect(StatusCode::OK, "an admin may delete");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_server_never_logs_a_key() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};

    let data = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args([
            "--data",
            &data.path().to_string_lossy(),
            "serve",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("SHOWRUNNER_API_KEYS", "user-key-do-not-log")
        .env("SHOWRUNNER_ADMIN_KEYS", "admin-key-do-not-log")
        .env("SHOWRUNNER_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("showrunner serve starts");
    // Trace logging fills a pipe quickly: drain stderr while the server runs.
    let mut stderr = child.stderr.take().expect("stderr");
    let drained = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        err
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the address line");
    let base = line.trim().trim_start_matches("listening on ").to_owned();
    let client = reqwest::Client::new();
    for key in ["user-key-do-not-log", "admin-key-do-not-log", "a-wrong-key-do-not-log"] {
        for path in ["/api/v1/episodes", "/metrics"] {
            fetch(client.get(format!("{base}{path}")).bearer_auth(key)).await;
        }
        let create = client
            .post(format!("{base}/api/v1/episodes"))
            .header("x-api-key", key)
            .json(&episode_body("logging", 8.0));
        answer(create).await;
    }
    let unauthorized = answer(client.get(format!("{base}/api/v1/episodes"))).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);
    crate::http::sigterm(child.id());
    let status = child.wait().expect("the server exits");
    assert!(status.success(), "{status:?}");
    let mut out = line;
    stdout.read_to_string(&mut out).expect("stdout");
    let err = drained.join().expect("the stderr reader");
    assert!(err.lines().count() > 5, "trace logging wrote to stderr:\n{err}");
    for text in [&out, &err] {
        assert!(!text.contains("do-not-log"), "a key reached the logs:\n{text}");
    }
}

/// Posts a chat message and returns the reply.
pub(crate) async fn say(server: &Server, id: &str, text: &str) -> Value {
    let answer = server
        .post(&format!("episodes/{id}/messages"), json!({"text": text}))
        .await
        .expect(StatusCode::OK, text);
    answer.data()["reply"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_messages_are_classified_acted_on_and_stored_with_the_episode() {
    let server = Server::start().await;
    let id = server
        .create("a clockmaker hears the town's clocks stop one by one", 8.0)
        .await;
    server.wait_gate(&id, "outline", 1).await;

    let status = say(&server, &id, "what's left?").await;
    assert_eq!(status["intent"], json!("question"));
    assert_eq!(status["actions"], json!([]));
    assert!(status["text"].as_str().unwrap_or("").contains("outline"), "{status:#}");

    let redo = say(&server, &id, "make it darker and more mysterious, and try again").await;
    assert_eq!(redo["intent"], json!("regenerate"), "{redo:#}");
    assert_eq!(redo["actions"][0]["action"], json!("regenerate"));
    server.wait_gate(&id, "outline", 2).await;
    let outline = server.value(&id, "outline").await;
    assert!(
        outline["synopsis"].as_str().unwrap_or("").contains("grim"),
        "the feedback reached the node: {outline:#}"
    );

    let approve = say(&server, &id, "looks good, go ahead").await;
    assert_eq!(approve["intent"], json!("approve"), "{approve:#}");
    assert_eq!(approve["actions"][0]["version"], json!(2));
    let episode = server.wait_gate(&id, "characters", 1).await;
    assert_eq!(
        find(&episode, "outline").map(|n| n["state"].clone()),
        Some(json!("approved"))
    );

    let cast = server.value(&id, "characters").await;
    let name = cast[0]["name"].as_str().expect("a name").to_owned();
    let edit = say(&server, &id, &format!("set {name}'s clothing to a red raincoat")).await;
    assert_eq!(edit["intent"], json!("edit"), "{edit:#}");
    assert_eq!(edit["actions"][0]["action"], json!("edit"), "{edit:#}");
    let edited = server.value(&id, "characters").await;
    assert_eq!(edited[0]["dynamic_features"]["clothing"], json!("a red raincoat"));
    assert_eq!(edited[1], cast[1], "only the named character changed");

    let nothing = say(&server, &id, "set the weather to sunny").await;
    assert_eq!(
        nothing["actions"],
        json!([]),
        "no such field: nothing done, the reply says so"
    );

    let conversation = server
        .get(&format!("episodes/{id}/messages"))
        .await
        .expect(StatusCode::OK, "the conversation");
    let lines = conversation.data().as_array().expect("lines").clone();
    assert_eq!(lines.len(), 10, "five messages, five replies: {lines:#?}");
    let authors: Vec<&str> = lines.iter().filter_map(|l| l["author"].as_str()).collect();
    assert_eq!(authors, ["user", "assistant"].repeat(5));
    assert_eq!(lines[0]["text"], json!("what's left?"));
    assert_eq!(lines[3]["data"]["intent"], json!("regenerate"));

    server
        .post(&format!("episodes/{id}/messages"), json!({"text": "   "}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "an empty message");
    server
        .post("episodes/01J0000000000000000000000Z/messages", json!({"text": "hi"}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "episode_not_found", "an unknown episode");
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.stop().await;
}
