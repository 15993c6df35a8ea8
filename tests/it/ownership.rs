//! Users and ownership over a real socket (issue 11, item 9): with two user keys of two
//! owners and an admin key, every operation of the API on one owner's episode, series or
//! artifact answers the other `404` (`403` on the admin routes) exactly as for one that does not
//! exist, lists show each owner only their own, and the admin sees and acts on all.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::header;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use showrunner::media::png::encode_png;
use showrunner_api::{ApiKeys, Role};

use crate::http::{Answer, ROUTES, Server, answer, episode_body, fetch, stream};

const ANA: &str = "ana-secret-key";
const BOB: &str = "bob-secret-key";
const ADMIN: &str = "admin-secret-key";

/// A small PNG of one colour.
fn png(rgb: [u8; 3]) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(16, 16, image::Rgb(rgb));
    encode_png(&image).expect("a PNG")
}

/// One request: method, path under `/api/v1` (or `/metrics`), and its body.
enum Body {
    None,
    Json(Value),
    Png(Vec<u8>),
}

struct Keyed<'a> {
    server: &'a Server,
}

impl Keyed<'_> {
    fn request(&self, key: &str, method: &Method, path: &str, body: &Body) -> reqwest::RequestBuilder {
        let url = if path == "/metrics" {
            self.server.url("/").replace("/api/v1/", "/metrics")
        } else {
            self.server.url(path)
        };
        let request = self.server.client.request(method.clone(), url).bearer_auth(key);
        match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Png(bytes) => request.header(header::CONTENT_TYPE, "image/png").body(bytes.clone()),
        }
    }

    async fn send(&self, key: &str, method: Method, path: &str, body: Body) -> Answer {
        answer(self.request(key, &method, path, &body)).await
    }
}

/// What a key other than the owner's must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// `404` with this code, the same answer as for a resource that does not exist.
    Hidden(&'static str),
    /// `403 forbidden`: an admin route.
    Forbidden,
    /// A success: the route names nothing of another owner.
    Fine,
}

fn series_body(reference: &str) -> Value {
    json!({
        "title": "Ana's harbour",
        "bible": {"visual_style": "ink", "world": "a port", "rules": ["fog remembers"]},
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_owners_work_is_404_on_every_operation_lists_show_ones_own_and_admins_see_all() {
    let mut keys = ApiKeys::none().with(ADMIN, Role::Admin);
    keys.add(ANA, Some("ana"), Role::User).expect("ana's key");
    keys.add(BOB, Some("bob"), Role::User).expect("bob's key");
    let server = Server::start_with(|api| api.keys(keys)).await;
    let keyed = Keyed { server: &server };

    // Ana's work: an upload, a series referencing it, an episode in that series at its gate.
    let uploaded = keyed
        .send(ANA, Method::POST, "uploads", Body::Png(png([200, 10, 10])))
        .await
        .expect(StatusCode::CREATED, "ana uploads");
    let reference = uploaded.data()["reference"].as_str().expect("a reference").to_owned();
    let hash = reference.trim_start_matches("blob:").to_owned();
    let series = keyed
        .send(ANA, Method::POST, "series", Body::Json(series_body(&reference)))
        .await
        .expect(StatusCode::CREATED, "ana's series");
    let sid = series.data()["id"].as_str().expect("an id").to_owned();
    let character = series.data()["characters"][0]["id"].as_str().expect("an id").to_owned();
    assert_eq!(series.data()["owner"], json!("ana"));
    let mut body = episode_body("ana's heist", 8.0);
    body["series_id"] = json!(sid);
    let created = keyed
        .send(ANA, Method::POST, "episodes", Body::Json(body.clone()))
        .await
        .expect(StatusCode::CREATED, "ana's episode");
    let eid = created.data()["id"].as_str().expect("an id").to_owned();
    assert_eq!(created.data()["owner"], json!("ana"));
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let episode = keyed
            .send(ANA, Method::GET, &format!("episodes/{eid}"), Body::None)
            .await
            .expect(StatusCode::OK, "ana reads her episode");
        let outline = crate::http::find(episode.data(), "outline")
            .cloned()
            .unwrap_or_default();
        if outline["state"] == json!("awaiting_approval") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outline reaches its gate: {:#}",
            episode.body
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // Ana reaches her artifacts through her episode and her series.
    assert_eq!(uploaded.data()["url"], json!(format!("/api/v1/uploads/{hash}")));
    for path in [
        format!("uploads/{hash}"),
        format!("episodes/{eid}/artifacts/{hash}"),
        format!("series/{sid}/artifacts/{hash}"),
    ] {
        let (status, headers, _) = fetch(keyed.request(ANA, &Method::GET, &path, &Body::None)).await;
        assert_eq!(status, StatusCode::OK, "ana reads {path}");
        assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    }

    // Bob's upload is stored, but neither ana's episode nor her series references it.
    let bobs = keyed
        .send(BOB, Method::POST, "uploads", Body::Png(png([10, 10, 200])))
        .await
        .expect(StatusCode::CREATED, "bob uploads");
    let bobs_hash = bobs.data()["reference"]
        .as_str()
        .expect("a reference")
        .trim_start_matches("blob:")
        .to_owned();
    for path in [
        format!("uploads/{bobs_hash}"),
        format!("episodes/{eid}/artifacts/{bobs_hash}"),
        format!("series/{sid}/artifacts/{bobs_hash}"),
    ] {
        keyed.send(ANA, Method::GET, &path, Body::None).await.expect_error(
            StatusCode::NOT_FOUND,
            "artifact_not_found",
            "a blob the episode or series does not reference",
        );
    }

    // Every operation, as bob, on ana's work.
    let version = json!({"version": 1});
    let episode_404 = Want::Hidden("episode_not_found");
    let series_404 = Want::Hidden("series_not_found");
    let e = |rest: &str| format!("episodes/{eid}{rest}");
    let bobs_reference = format!("blob:{bobs_hash}");
    let mut table: Vec<(&str, String, String, Body, Want)> = vec![
        ("GET", "/api/v1/health".into(), "health".into(), Body::None, Want::Fine),
        (
            "GET",
            "/api/v1/openapi.json".into(),
            "openapi.json".into(),
            Body::None,
            Want::Fine,
        ),
        (
            "GET",
            "/api/v1/workflows".into(),
            "workflows".into(),
            Body::None,
            Want::Fine,
        ),
        (
            "GET",
            "/api/v1/workflows/{name}".into(),
            "workflows/idea2video".into(),
            Body::None,
            Want::Fine,
        ),
        (
            "GET",
            "/api/v1/episodes".into(),
            "episodes".into(),
            Body::None,
            Want::Fine,
        ),
        (
            "POST",
            "/api/v1/episodes".into(),
            "episodes".into(),
            Body::Json(body.clone()),
            series_404,
        ),
        ("GET", "/api/v1/inbox".into(), "inbox".into(), Body::None, Want::Fine),
        ("GET", "/api/v1/episodes/{id}".into(), e(""), Body::None, episode_404),
        (
            "DELETE",
            "/api/v1/episodes/{id}".into(),
            e(""),
            Body::None,
            Want::Forbidden,
        ),
        (
            "POST",
            "/api/v1/episodes/{id}/cancel".into(),
            e("/cancel"),
            Body::None,
            episode_404,
        ),
        (
            "POST",
            "/api/v1/episodes/{id}/fork".into(),
            e("/fork"),
            Body::None,
            episode_404,
        ),
        (
            "GET",
            "/api/v1/episodes/{id}/events".into(),
            e("/events"),
            Body::None,
            episode_404,
        ),
        (
            "GET",
            "/api/v1/episodes/{id}/messages".into(),
            e("/messages"),
            Body::None,
            episode_404,
        ),
        (
            "POST",
            "/api/v1/episodes/{id}/messages".into(),
            e("/messages"),
            Body::Json(json!({"text": "approve"})),
            episode_404,
        ),
        (
            "GET",
            "/api/v1/episodes/{id}/artifacts/{hash}".into(),
            e(&format!("/artifacts/{hash}")),
            Body::None,
            episode_404,
        ),
        (
            "GET",
            "/api/v1/episodes/{id}/nodes/{key}".into(),
            e("/nodes/outline"),
            Body::None,
            episode_404,
        ),
        (
            "GET",
            "/api/v1/episodes/{id}/nodes/{key}/items/{item}".into(),
            e("/nodes/portraits/items/vale"),
            Body::None,
            episode_404,
        ),
        (
            "GET",
            "/api/v1/artifacts/{hash}".into(),
            format!("artifacts/{hash}"),
            Body::None,
            Want::Forbidden,
        ),
        ("GET", "/api/v1/series".into(), "series".into(), Body::None, Want::Fine),
        (
            "POST",
            "/api/v1/series".into(),
            "series".into(),
            Body::Json(series_body(&bobs_reference)),
            Want::Fine,
        ),
        (
            "GET",
            "/api/v1/series/{id}".into(),
            format!("series/{sid}"),
            Body::None,
            series_404,
        ),
        (
            "PUT",
            "/api/v1/series/{id}".into(),
            format!("series/{sid}"),
            Body::Json({
                let mut update = series_body(&reference);
                update["revision"] = json!(1);
                update
            }),
            series_404,
        ),
        (
            "DELETE",
            "/api/v1/series/{id}".into(),
            format!("series/{sid}"),
            Body::None,
            Want::Forbidden,
        ),
        (
            "GET",
            "/api/v1/series/{id}/artifacts/{hash}".into(),
            format!("series/{sid}/artifacts/{hash}"),
            Body::None,
            series_404,
        ),
        (
            "POST",
            "/api/v1/series/{id}/characters/{character}/references".into(),
            format!("series/{sid}/characters/{character}/references"),
            Body::Png(png([1, 2, 3])),
            series_404,
        ),
        (
            "POST",
            "/api/v1/uploads".into(),
            "uploads".into(),
            Body::Png(png([4, 5, 6])),
            Want::Fine,
        ),
        (
            "GET",
            "/api/v1/uploads/{hash}".into(),
            format!("uploads/{hash}"),
            Body::None,
            Want::Hidden("artifact_not_found"),
        ),
        (
            "POST",
            "/api/v1/admin/gc".into(),
            "admin/gc".into(),
            Body::None,
            Want::Forbidden,
        ),
        ("GET", "/metrics".into(), "/metrics".into(), Body::None, Want::Forbidden),
    ];
    for action in ["approve", "regenerate", "edit", "select", "revert"] {
        let body = match action {
            "edit" => json!({"value": {}, "base_version": 1}),
            _ => version.clone(),
        };
        for (template, path) in [
            (
                format!("/api/v1/episodes/{{id}}/nodes/{{key}}/{action}"),
                e(&format!("/nodes/outline/{action}")),
            ),
            (
                format!("/api/v1/episodes/{{id}}/nodes/{{key}}/items/{{item}}/{action}"),
                e(&format!("/nodes/portraits/items/vale/{action}")),
            ),
        ] {
            table.push(("POST", template, path, Body::Json(body.clone()), episode_404));
        }
    }
    let covered: BTreeSet<(String, String)> = table.iter().map(|(m, t, ..)| ((*m).to_owned(), t.clone())).collect();
    let routes: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, t)| ((*m).to_owned(), (*t).to_owned())).collect();
    assert_eq!(covered, routes, "the table covers every operation of the API");

    let unknown_episode = showrunner::engine::EpisodeId::generate().to_string();
    let unknown_series = showrunner::engine::SeriesId::generate().to_string();
    for (method, template, path, body, want) in table {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        if template.ends_with("/events") {
            // A stream: its status and content type are checked against the document.
            let response = stream(keyed.request(BOB, &method, &path, &body)).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "bob streams ana's events");
            continue;
        }
        let got = answer(keyed.request(BOB, &method, &path, &body)).await;
        match want {
            Want::Fine => assert!(got.status.is_success(), "bob: {method} {template}: {:#}", got.body),
            Want::Forbidden => {
                got.expect_error(StatusCode::FORBIDDEN, "forbidden", &format!("bob: {method} {template}"));
            }
            Want::Hidden(code) => {
                let got = got.expect_error(StatusCode::NOT_FOUND, code, &format!("bob: {method} {template}"));
                // Word for word what a resource that does not exist gets.
                let absent_path = path.replace(&eid, &unknown_episode).replace(&sid, &unknown_series);
                let absent_body = match &body {
                    Body::Json(value) => Body::Json(
                        serde_json::from_str(&value.to_string().replace(&sid, &unknown_series)).expect("JSON"),
                    ),
                    Body::Png(bytes) => Body::Png(bytes.clone()),
                    Body::None => Body::None,
                };
                let absent = answer(keyed.request(BOB, &method, &absent_path, &absent_body)).await;
                let strip = |v: &Value| {
                    v.to_string()
                        .replace(&eid, "ID")
                        .replace(&sid, "ID")
                        .replace(&unknown_episode, "ID")
                        .replace(&unknown_series, "ID")
                };
                assert_eq!(strip(&got.body), strip(&absent.body), "bob: {method} {template}");
            }
        }
    }

    // Nothing bob did reached ana's episode: it still waits at its first gate, unforked.
    let episode = keyed
        .send(ANA, Method::GET, &format!("episodes/{eid}"), Body::None)
        .await
        .expect(StatusCode::OK, "ana's episode");
    assert_eq!(episode.data()["status"], json!("active"));
    let series_now = keyed
        .send(ANA, Method::GET, &format!("series/{sid}"), Body::None)
        .await
        .expect(StatusCode::OK, "ana's series");
    assert_eq!(
        series_now.data()["revision"],
        json!(1),
        "bob's update and reference did not land"
    );

    // Bob's own episode; each lists only their own, the admin all of them with their owners.
    let bobs_episode = keyed
        .send(
            BOB,
            Method::POST,
            "episodes",
            Body::Json(episode_body("bob's caper", 8.0)),
        )
        .await
        .expect(StatusCode::CREATED, "bob's episode");
    let bid = bobs_episode.data()["id"].as_str().expect("an id").to_owned();
    let listed = |answer: &Answer| -> Vec<(String, Value)> {
        answer
            .data()
            .as_array()
            .expect("a list")
            .iter()
            .map(|item| (item["id"].as_str().unwrap_or("").to_owned(), item["owner"].clone()))
            .collect()
    };
    let ana_list = keyed
        .send(ANA, Method::GET, "episodes", Body::None)
        .await
        .expect(StatusCode::OK, "ana's list");
    assert_eq!(listed(&ana_list), [(eid.clone(), json!("ana"))]);
    let bob_list = keyed
        .send(BOB, Method::GET, "episodes", Body::None)
        .await
        .expect(StatusCode::OK, "bob's list");
    assert_eq!(listed(&bob_list), [(bid.clone(), json!("bob"))]);
    let all = keyed
        .send(ADMIN, Method::GET, "episodes", Body::None)
        .await
        .expect(StatusCode::OK, "the admin's list");
    assert_eq!(listed(&all), [(bid.clone(), json!("bob")), (eid.clone(), json!("ana"))]);
    let page = keyed
        .send(ANA, Method::GET, "episodes?limit=1", Body::None)
        .await
        .expect(StatusCode::OK, "a page");
    assert_eq!(
        page.body["meta"]["next_cursor"],
        Value::Null,
        "bob's episode makes no second page for ana"
    );
    // The inbox: ana's waiting outline is hers alone; the admin's inbox has it too.
    let inboxed = |answer: &Answer| -> Vec<String> {
        answer
            .data()
            .as_array()
            .expect("a list")
            .iter()
            .map(|entry| entry["episode"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let ana_inbox = keyed
        .send(ANA, Method::GET, "inbox", Body::None)
        .await
        .expect(StatusCode::OK, "ana's inbox");
    assert_eq!(inboxed(&ana_inbox), std::slice::from_ref(&eid));
    let bob_inbox = keyed
        .send(BOB, Method::GET, "inbox", Body::None)
        .await
        .expect(StatusCode::OK, "bob's inbox");
    assert!(!inboxed(&bob_inbox).contains(&eid), "bob's inbox shows ana's episode");
    let admin_inbox = keyed
        .send(ADMIN, Method::GET, "inbox", Body::None)
        .await
        .expect(StatusCode::OK, "the admin's inbox");
    assert!(inboxed(&admin_inbox).contains(&eid));
    let series_owners = |answer: &Answer| -> Vec<Value> {
        answer
            .data()
            .as_array()
            .expect("a list")
            .iter()
            .map(|s| s["owner"].clone())
            .collect()
    };
    let ana_series = keyed
        .send(ANA, Method::GET, "series", Body::None)
        .await
        .expect(StatusCode::OK, "ana's series");
    assert_eq!(series_owners(&ana_series), [json!("ana")]);
    assert_eq!(ana_series.body["meta"]["count"], json!(1));
    let bob_series = keyed
        .send(BOB, Method::GET, "series", Body::None)
        .await
        .expect(StatusCode::OK, "bob's series");
    assert_eq!(
        series_owners(&bob_series),
        [json!("bob")],
        "the one bob created in the table"
    );
    let all_series = keyed
        .send(ADMIN, Method::GET, "series", Body::None)
        .await
        .expect(StatusCode::OK, "all series");
    assert_eq!(all_series.data().as_array().map(Vec::len), Some(2));
    keyed
        .send(ANA, Method::GET, &format!("episodes/{bid}"), Body::None)
        .await
        .expect_error(StatusCode::NOT_FOUND, "episode_not_found", "ana reads bob's episode");

    // The admin sees and acts on everyone's: reads, the bare artifact route, a fork (its own).
    keyed
        .send(ADMIN, Method::GET, &format!("episodes/{eid}"), Body::None)
        .await
        .expect(StatusCode::OK, "admin reads");
    keyed
        .send(ADMIN, Method::GET, &format!("series/{sid}"), Body::None)
        .await
        .expect(StatusCode::OK, "admin reads");
    let (status, _, _) = fetch(keyed.request(ADMIN, &Method::GET, &format!("artifacts/{hash}"), &Body::None)).await;
    assert_eq!(status, StatusCode::OK, "the admin reads a blob by hash");
    let (status, _, _) = fetch(keyed.request(
        ADMIN,
        &Method::GET,
        &format!("episodes/{eid}/artifacts/{hash}"),
        &Body::None,
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "the admin reads it through ana's episode");
    let admins_fork = keyed
        .send(ADMIN, Method::POST, &format!("episodes/{eid}/fork"), Body::None)
        .await
        .expect(StatusCode::CREATED, "the admin forks ana's episode");
    assert_eq!(
        admins_fork.data()["owner"],
        json!(ApiKeys::key_owner(ADMIN)),
        "a fork is the forker's"
    );
    let fork_id = admins_fork.data()["id"].as_str().expect("an id").to_owned();
    keyed
        .send(ANA, Method::GET, &format!("episodes/{fork_id}"), Body::None)
        .await
        .expect_error(
            StatusCode::NOT_FOUND,
            "episode_not_found",
            "the admin's fork is not ana's",
        );
    let anas_fork = keyed
        .send(ANA, Method::POST, &format!("episodes/{eid}/fork"), Body::None)
        .await
        .expect(StatusCode::CREATED, "ana forks her own");
    assert_eq!(anas_fork.data()["owner"], json!("ana"));
    keyed
        .send(ANA, Method::POST, &format!("episodes/{eid}/cancel"), Body::None)
        .await
        .expect(StatusCode::OK, "ana cancels her own");
    keyed
        .send(ADMIN, Method::DELETE, &format!("episodes/{bid}"), Body::None)
        .await
        .expect(StatusCode::OK, "the admin deletes bob's");
    server.stop().await;
}
