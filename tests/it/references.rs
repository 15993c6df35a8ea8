//! Blob references sent by user keys (issue 11, item 9): a value may name a blob
//! (`blob:<hash>`) only if the key's owner uploaded it or the episode it changes references it
//! already (a chat message too). Another owner's blob and one that is not stored are refused alike (no reading
//! another's artifact through one's own episode or series, no learning that it exists), and
//! blob answers of a keyed server are `private` to caches.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use showrunner::media::png::encode_png;
use showrunner_api::{ApiKeys, Role};

use crate::http::{Answer, Server, answer, episode_body, fetch, find};

const ANA: &str = "ana-reference-key";
const BOB: &str = "bob-reference-key";

fn png(rgb: [u8; 3]) -> Vec<u8> {
    encode_png(&image::RgbImage::from_pixel(16, 16, image::Rgb(rgb))).expect("a PNG")
}

fn series_body(reference: &str) -> Value {
    json!({
        "title": "A harbour",
        "bible": {"visual_style": "ink", "world": "a port", "rules": []},
        "characters": [{
            "name": "Inspector Vale",
            "role": "the detective",
            "static_features": {"face": "sharp", "body": "tall"},
            "dynamic_features": {"clothing": "a coat", "props": []},
            "personality": "patient",
            "reference_images": [reference],
        }],
    })
}

/// The error's message with every 64-digit hash replaced, to compare two refusals.
fn without_hashes(answer: &Answer) -> String {
    let message = answer.body["error"]["message"].as_str().unwrap_or_default();
    message
        .split("blob:")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                format!("blob:HASH{}", &part[64..])
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_key_names_only_blobs_its_owner_uploaded() {
    let mut keys = ApiKeys::none();
    keys.add(ANA, Some("ana"), Role::User).expect("ana's key");
    keys.add(BOB, Some("bob"), Role::User).expect("bob's key");
    let server = Server::start_with(|api| api.keys(keys)).await;
    let post = |key: &str, path: &str, body: Value| server.client.post(server.url(path)).bearer_auth(key).json(&body);
    let upload = |key: &str, rgb: [u8; 3]| {
        server
            .client
            .post(server.url("uploads"))
            .bearer_auth(key)
            .header(header::CONTENT_TYPE, "image/png")
            .body(png(rgb))
    };
    let bobs = answer(upload(BOB, [9, 9, 200]))
        .await
        .expect(StatusCode::CREATED, "bob uploads");
    let bobs = bobs.data()["reference"].as_str().expect("a reference").to_owned();
    let anas = answer(upload(ANA, [200, 9, 9]))
        .await
        .expect(StatusCode::CREATED, "ana uploads");
    let anas = anas.data()["reference"].as_str().expect("a reference").to_owned();
    let absent = format!("blob:{}", "ab".repeat(32));

    // An episode's brief and a series may not name bob's blob: refused as a blob never stored.
    let mut refusals = Vec::new();
    for reference in [&bobs, &absent] {
        let mut body = episode_body("a heist", 8.0);
        body["idea"] = json!(reference);
        let got = answer(post(ANA, "episodes", body)).await;
        let got = got.expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_value",
            "an idea naming a blob",
        );
        assert_eq!(got.body["error"]["details"]["path"], json!("idea"));
        refusals.push(without_hashes(&got));
        let got = answer(post(ANA, "series", series_body(reference))).await;
        let got = got.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "a reference image");
        assert_eq!(
            got.body["error"]["details"]["path"],
            json!("characters[0].reference_images[0]")
        );
        refusals.push(without_hashes(&got));
    }
    assert_eq!(refusals[0], refusals[2], "bob's blob and an absent one answer alike");
    assert_eq!(refusals[1], refusals[3], "bob's blob and an absent one answer alike");

    // Her own upload is fine, and its answers are for her browser only.
    let series = answer(post(ANA, "series", series_body(&anas))).await;
    let series = series.expect(StatusCode::CREATED, "ana's series with her image");
    let sid = series.data()["id"].as_str().expect("an id").to_owned();
    let hash = anas.trim_start_matches("blob:");
    let path = server.url(&format!("series/{sid}/artifacts/{hash}"));
    let (status, headers, _) = fetch(server.client.get(path).bearer_auth(ANA)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "private, max-age=31536000, immutable");

    // An edit may keep what the episode has and name her uploads, not bob's.
    let created = answer(post(ANA, "episodes", episode_body("a lighthouse keeper", 8.0))).await;
    let eid = created.expect(StatusCode::CREATED, "ana's episode").data()["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    let outline = loop {
        let episode = answer(
            server
                .client
                .get(server.url(&format!("episodes/{eid}")))
                .bearer_auth(ANA),
        )
        .await;
        let outline = find(episode.data(), "outline").cloned().unwrap_or_default();
        if outline["state"] == json!("awaiting_approval") {
            break outline;
        }
        assert!(Instant::now() < deadline, "the outline reaches its gate");
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    let version = outline["current_version"].clone();
    let value = answer(
        server
            .client
            .get(server.url(&format!("episodes/{eid}/nodes/outline")))
            .bearer_auth(ANA),
    )
    .await
    .expect(StatusCode::OK, "the outline")
    .data()["value"]
        .clone();
    let edit = |logline: &str| {
        let mut changed = value.clone();
        changed["logline"] = json!(logline);
        post(
            ANA,
            &format!("episodes/{eid}/nodes/outline/edit"),
            json!({"value": changed, "base_version": version}),
        )
    };
    let got = answer(edit(&bobs)).await;
    let got = got.expect_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        "an edit naming bob's blob",
    );
    assert_eq!(got.body["error"]["details"]["path"], json!("value.logline"));
    answer(edit(&anas))
        .await
        .expect(StatusCode::OK, "an edit naming her own upload");
    // Nor through the conversation, which may turn a message into an edit.
    let message = json!({"text": format!("change the logline to {bobs}")});
    let got = answer(post(ANA, &format!("episodes/{eid}/messages"), message)).await;
    let got = got.expect_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_value",
        "a message naming bob's blob",
    );
    assert_eq!(got.body["error"]["details"]["path"], json!("text"));
    server.stop().await;
}
