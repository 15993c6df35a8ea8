//! Issue 11, item 4: every text and list of a request body has a bound, enforced by the server
//! (`422 invalid_value` with the field's path, `413` over the body limit) and declared in the
//! OpenAPI document; a value at its bound is accepted, and an idea at its bound makes an outline
//! of proportionate size.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::http::{Server, contract, episode_body, find};

/// `n` characters (some of them two bytes long, so that characters, not bytes, are counted).
fn text(n: usize) -> String {
    "é".repeat(n / 2) + &"x".repeat(n - n / 2)
}

/// Asserts a `422 invalid_value` at `path`.
async fn refused(server: &Server, method: reqwest::Method, path: &str, body: &Value, field: &str) {
    let request = server.client.request(method, server.url(path)).json(body);
    let answer = server.send(request).await;
    answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", field);
}

/// A series with every text and list at its bound.
fn full_series(title: &str) -> Value {
    let character = |i: usize| {
        json!({
            "id": format!("c{i}-{}", "x".repeat(60)),
            "name": format!("{i} {}", text(96)),
            "role": text(1000),
            "static_features": {"face": text(1000), "body": text(1000)},
            "dynamic_features": {"clothing": text(1000), "props": vec![text(200); 20]},
            "personality": text(1000),
            "voice": text(1000),
        })
    };
    json!({
        "title": title,
        "bible": {"visual_style": text(4000), "world": text(4000), "rules": vec![text(500); 100]},
        "characters": (0..50).map(character).collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_text_and_list_of_a_body_is_bounded_with_its_path() {
    let server = Server::start().await;
    let post = reqwest::Method::POST;

    // Episodes: the idea, the workflow and the settings' texts.
    let mut body = episode_body(&text(4001), 2.0);
    refused(&server, post.clone(), "episodes", &body, "idea").await;
    body["idea"] = json!("a kite");
    body["settings"]["style"] = json!(text(201));
    refused(&server, post.clone(), "episodes", &body, "settings.style").await;
    body["settings"]["style"] = json!(text(200));
    body["settings"]["aspect_ratio"] = json!(text(17));
    refused(&server, post.clone(), "episodes", &body, "settings.aspect_ratio").await;
    body["settings"]["aspect_ratio"] = json!("16:9");
    body["workflow"] = json!(text(65));
    refused(&server, post.clone(), "episodes", &body, "workflow").await;
    let scene = "INT. LAB - NIGHT\n\nMARA\nIt works.\n\n";
    let script = |n: usize| format!("{scene}{}", "x".repeat(n - scene.chars().count()));
    let over = json!({"workflow": "script2video", "script": script(200_001)});
    refused(&server, post.clone(), "episodes", &over, "script").await;
    let at = json!({"workflow": "script2video", "script": script(200_000), "settings": {"target_duration_s": 2.0}});
    server
        .post("episodes", at)
        .await
        .expect(StatusCode::CREATED, "a screenplay at its bound");
    // 413 over the byte limit of a body, before it is parsed.
    let huge = episode_body(&"x".repeat(9 * 1024 * 1024), 2.0);
    server
        .post("episodes", huge)
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "a 9 MB idea");

    // An idea at its bound is accepted and makes an outline of proportionate size.
    let mut at = episode_body(&text(4000), 2.0);
    at["settings"]["style"] = json!(text(200));
    let created = server
        .post("episodes", at)
        .await
        .expect(StatusCode::CREATED, "an idea at its bound");
    let id = created.data()["id"].as_str().expect("an id").to_owned();
    server.wait_gate(&id, "outline", 1).await;
    let outline = server.value(&id, "outline").await;
    let (size, idea) = (outline.to_string().len(), text(4000).len());
    assert!(size < 5 * idea + 4096, "a {size}-byte outline from a {idea}-byte idea");

    // Series: the title, the bible, the characters and each of their fields.
    let full = full_series("at every bound");
    let created = server
        .post("series", full.clone())
        .await
        .expect(StatusCode::CREATED, "a series at every bound");
    let series = created.data()["id"].as_str().expect("an id").to_owned();
    let mut update = full.clone();
    update["revision"] = json!(1);
    let put = server.client.put(server.url(&format!("series/{series}"))).json(&update);
    server
        .send(put)
        .await
        .expect(StatusCode::OK, "an update at every bound");
    let mut characters = full["characters"].as_array().expect("characters").clone();
    characters.push(characters[0].clone());
    let c2 = "/characters/2";
    // (the path in the answer, where in the body, the value over its bound)
    let cases = [
        ("title", "/title".to_owned(), json!(text(201))),
        ("title", "/title".to_owned(), json!(" \u{3000}\t")),
        (
            "bible.visual_style",
            "/bible/visual_style".to_owned(),
            json!(text(4001)),
        ),
        ("bible.world", "/bible/world".to_owned(), json!(text(4001))),
        ("bible.rules", "/bible/rules".to_owned(), json!(vec!["a rule"; 101])),
        ("bible.rules[3]", "/bible/rules/3".to_owned(), json!(text(501))),
        ("characters", "/characters".to_owned(), json!(characters)),
        ("characters[2].id", format!("{c2}/id"), json!("x".repeat(65))),
        ("characters[2].name", format!("{c2}/name"), json!(text(101))),
        ("characters[2].role", format!("{c2}/role"), json!(text(1001))),
        (
            "characters[2].static_features.face",
            format!("{c2}/static_features/face"),
            json!(text(1001)),
        ),
        (
            "characters[2].static_features.body",
            format!("{c2}/static_features/body"),
            json!(text(1001)),
        ),
        (
            "characters[2].dynamic_features.clothing",
            format!("{c2}/dynamic_features/clothing"),
            json!(text(1001)),
        ),
        (
            "characters[2].dynamic_features.props",
            format!("{c2}/dynamic_features/props"),
            json!(vec!["a hat"; 21]),
        ),
        (
            "characters[2].dynamic_features.props[0]",
            format!("{c2}/dynamic_features/props/0"),
            json!(text(201)),
        ),
        (
            "characters[2].personality",
            format!("{c2}/personality"),
            json!(text(1001)),
        ),
        ("characters[2].voice", format!("{c2}/voice"), json!(text(1001))),
    ];
    for (path, at, value) in &cases {
        let mut body = full.clone();
        *body.pointer_mut(at).expect("a field of the series") = value.clone();
        let answer = server.post("series", body.clone()).await;
        let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", path);
        assert_eq!(
            answer.body["error"]["details"]["path"],
            json!(path),
            "{:#}",
            answer.body
        );
        body["revision"] = json!(2);
        let put = server.client.put(server.url(&format!("series/{series}"))).json(&body);
        let answer = server.send(put).await;
        let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", path);
        assert_eq!(
            answer.body["error"]["details"]["path"],
            json!(path),
            "{:#}",
            answer.body
        );
    }

    // A regenerate's feedback, the texts and lists of an edited value, and a chat message.
    let node = format!("episodes/{id}/nodes/outline");
    let answer = server
        .post(
            &format!("{node}/regenerate"),
            json!({"version": 1, "feedback": text(2001)}),
        )
        .await;
    let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "long feedback");
    assert_eq!(answer.body["error"]["details"]["path"], json!("feedback"));
    let mut long = outline.clone();
    long["synopsis"] = json!(text(20_001));
    let answer = server
        .post(&format!("{node}/edit"), json!({"base_version": 1, "value": long}))
        .await;
    let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "a long synopsis");
    assert_eq!(answer.body["error"]["details"]["path"], json!("value.synopsis"));
    let mut many = outline.clone();
    many["beats"] = json!(vec![outline["beats"][0].clone(); 1001]);
    let answer = server
        .post(&format!("{node}/edit"), json!({"base_version": 1, "value": many}))
        .await;
    let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "1001 beats");
    assert_eq!(answer.body["error"]["details"]["path"], json!("value.beats"));
    let mut at = outline.clone();
    at["synopsis"] = json!(text(20_000));
    server
        .post(&format!("{node}/edit"), json!({"base_version": 1, "value": at}))
        .await
        .expect(StatusCode::OK, "a synopsis at its bound");
    server
        .post(
            &format!("{node}/regenerate"),
            json!({"version": 2, "feedback": text(2000)}),
        )
        .await
        .expect(StatusCode::OK, "feedback at its bound");
    let messages = format!("episodes/{id}/messages");
    let answer = server.post(&messages, json!({"text": text(4001)})).await;
    let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "a long message");
    assert_eq!(answer.body["error"]["details"]["path"], json!("text"));
    server
        .post(&messages, json!({"text": format!("what is this? {}", text(3986))}))
        .await
        .expect(StatusCode::OK, "a message at its bound");
    let episode = server
        .get(&format!("episodes/{id}"))
        .await
        .expect(StatusCode::OK, "the episode");
    assert!(find(episode.data(), "outline").is_some());
    server.stop().await;
}

#[test]
fn the_document_declares_each_bound() {
    let doc = serde_json::to_value(showrunner_api::openapi()).expect("the document");
    let schemas = &doc["components"]["schemas"];
    let property = |schema: &str, name: &str| {
        let members = schemas[schema]["allOf"].as_array().cloned().unwrap_or_default();
        members
            .iter()
            .chain(std::iter::once(&schemas[schema]))
            .find_map(|s| s["properties"].get(name).cloned())
            .unwrap_or_else(|| panic!("{schema}.{name}"))
    };
    assert_eq!(property("CreateEpisode", "idea")["maxLength"], json!(4000));
    assert_eq!(property("CreateEpisode", "idea")["minLength"], json!(1));
    assert_eq!(property("CreateEpisode", "script")["maxLength"], json!(200_000));
    assert_eq!(property("Settings", "style")["maxLength"], json!(200));
    assert_eq!(property("CreateSeries", "title")["maxLength"], json!(200));
    assert_eq!(property("CreateSeries", "characters")["maxItems"], json!(50));
    assert_eq!(property("Bible", "rules")["maxItems"], json!(100));
    assert_eq!(property("Bible", "rules")["items"]["maxLength"], json!(500));
    assert_eq!(property("DynamicFeatures", "props")["items"]["maxLength"], json!(200));
    assert_eq!(property("MessageBody", "text")["maxLength"], json!(4000));
    assert_eq!(property("RegenerateBody", "feedback")["maxLength"], json!(2000));
    // The request schemas accept a body at every bound, and refuse one over.
    let full = full_series("at every bound");
    assert_eq!(contract().validate_as("CreateSeries", &full), Ok(()));
    let mut over = full.clone();
    over["bible"]["rules"][0] = json!(text(501));
    contract().validate_as("CreateSeries", &over).expect_err("a long rule");
}
