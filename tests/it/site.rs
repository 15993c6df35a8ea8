//! Requests a malicious page in the user's browser can send to a keyless server on 127.0.0.1
//! (issue 11, item 8): a cross-origin state change is refused and changes nothing, a JSON body
//! without a JSON type is refused, a rebinding `Host` is refused on reads too; the server's own
//! origin, a configured origin (with its CORS preflight) and clients without `Origin` (curl)
//! work.

use reqwest::StatusCode;
use reqwest::header::{self, HeaderValue};
use serde_json::{Value, json};
use showrunner_api::{ApiKeys, Role, Site};

use crate::http::{Server, episode_body};

const EVIL: &str = "https://evil.example";
const UI: &str = "http://ui.example:5173";

/// `http://127.0.0.1:PORT`, the origin of the server's own pages.
fn own_origin(server: &Server) -> String {
    let url = server.url("");
    let rest = url.strip_prefix("http://").expect("an http URL");
    let authority = rest.split('/').next().expect("an authority");
    format!("http://{authority}")
}

/// How many episodes the server lists.
async fn episodes(server: &Server) -> usize {
    let list = server.get("episodes").await.expect(StatusCode::OK, "list");
    list.data().as_array().map_or(0, Vec::len)
}

/// A `POST` of `body` as `text/plain` (a "simple" request a page sends without asking first).
fn text_post(server: &Server, path: &str, body: &Value) -> reqwest::RequestBuilder {
    server
        .client
        .post(server.url(path))
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(body.to_string())
}

#[tokio::test]
async fn a_cross_origin_state_change_is_refused_and_changes_nothing() {
    let server = Server::start().await;
    let id = server.create("a lighthouse with stage fright", 6.0).await;
    let before = episodes(&server).await;
    let body = episode_body("an evil idea", 6.0);

    let forged = text_post(&server, "episodes", &body).header(header::ORIGIN, EVIL);
    server
        .send(forged)
        .await
        .expect_error(StatusCode::FORBIDDEN, "cross_origin_refused", "text/plain from evil");
    let as_json = server
        .client
        .post(server.url("episodes"))
        .json(&body)
        .header(header::ORIGIN, EVIL);
    server
        .send(as_json)
        .await
        .expect_error(StatusCode::FORBIDDEN, "cross_origin_refused", "JSON from evil");
    // Without `Origin`, what a browser's fetch metadata says is enough.
    let fetch = text_post(&server, "episodes", &body).header("sec-fetch-site", "cross-site");
    server
        .send(fetch)
        .await
        .expect_error(StatusCode::FORBIDDEN, "cross_origin_refused", "cross-site fetch");
    // Another local port is another origin.
    let other_port = server
        .client
        .post(server.url(&format!("episodes/{id}/cancel")))
        .header(header::ORIGIN, "http://127.0.0.1:1");
    server.send(other_port).await.expect_error(
        StatusCode::FORBIDDEN,
        "cross_origin_refused",
        "cancel from another port",
    );
    let gc = server
        .client
        .post(server.url("admin/gc"))
        .header(header::ORIGIN, "null");
    server.send(gc).await.expect_error(
        StatusCode::FORBIDDEN,
        "cross_origin_refused",
        "gc from an opaque origin",
    );
    let message = text_post(&server, &format!("episodes/{id}/messages"), &json!({"text": "approve"}))
        .header(header::ORIGIN, EVIL);
    server
        .send(message)
        .await
        .expect_error(StatusCode::FORBIDDEN, "cross_origin_refused", "a message from evil");
    // A JSON body must say so, even without `Origin`.
    server.send(text_post(&server, "episodes", &body)).await.expect_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "text/plain",
    );
    assert_eq!(episodes(&server).await, before, "nothing was created");
    let episode = server
        .get(&format!("episodes/{id}"))
        .await
        .expect(StatusCode::OK, "show");
    assert_eq!(episode.data()["status"], json!("active"), "nor cancelled");

    // The server's own pages, and clients that send no `Origin`, change state.
    let own = server
        .client
        .post(server.url("episodes"))
        .json(&body)
        .header(header::ORIGIN, own_origin(&server))
        .header("sec-fetch-site", "same-origin");
    server.send(own).await.expect(StatusCode::CREATED, "same origin");
    let port = own_origin(&server).rsplit(':').next().expect("a port").to_owned();
    let localhost = server
        .client
        .post(server.url("episodes"))
        .json(&body)
        .header(header::HOST, format!("localhost:{port}"))
        .header(header::ORIGIN, format!("http://localhost:{port}"));
    server
        .send(localhost)
        .await
        .expect(StatusCode::CREATED, "same origin by name");
    server
        .post("episodes", body)
        .await
        .expect(StatusCode::CREATED, "curl-style");
    assert_eq!(episodes(&server).await, before + 3);
    server.stop().await;
}

#[tokio::test]
async fn a_rebinding_host_is_refused_on_reads_too() {
    let server = Server::start_with(|api| api.site(Site::new().hosts(["studio.lan"]))).await;
    for host in ["evil.example", "evil.example:8080", "localhost.evil.example"] {
        let read = server.client.get(server.url("episodes")).header(header::HOST, host);
        let refused = server
            .send(read)
            .await
            .expect_error(StatusCode::MISDIRECTED_REQUEST, "host_not_allowed", host);
        assert_eq!(refused.body["error"]["details"]["host"], json!(host));
    }
    let health = server
        .client
        .get(server.url("health"))
        .header(header::HOST, "evil.example");
    server
        .send(health)
        .await
        .expect_error(StatusCode::MISDIRECTED_REQUEST, "host_not_allowed", "health");
    for host in ["localhost:8080", "127.0.0.1", "[::1]:9", "studio.lan", "STUDIO.LAN:80"] {
        let read = server.client.get(server.url("episodes")).header(header::HOST, host);
        server.send(read).await.expect(StatusCode::OK, host);
    }
    server.stop().await;

    // With keys, a rebinding page has none to present: any name is answered, and keys checked.
    let keyed = Server::start_with(|api| api.keys(ApiKeys::none().with("k", Role::User))).await;
    let read = keyed
        .client
        .get(keyed.url("episodes"))
        .header(header::HOST, "evil.example");
    keyed
        .send(read)
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "unauthorized", "no key");
    let read = keyed
        .client
        .get(keyed.url("episodes"))
        .header(header::HOST, "showrunner.example.com")
        .bearer_auth("k");
    keyed.send(read).await.expect(StatusCode::OK, "a key, any name");
    keyed.stop().await;
}

#[tokio::test]
async fn a_configured_origin_changes_state_and_is_answered_cors() {
    let site = Site::new().origins([UI]).expect("an origin");
    let server = Server::start_with(|api| api.site(site)).await;
    let preflight = server
        .client
        .request(reqwest::Method::OPTIONS, server.url("episodes"))
        .header(header::ORIGIN, UI)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "content-type,idempotency-key")
        .send()
        .await
        .expect("a preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(text(header::ACCESS_CONTROL_ALLOW_ORIGIN), UI);
    assert!(text(header::ACCESS_CONTROL_ALLOW_METHODS).contains("POST"));
    let allowed_headers = text(header::ACCESS_CONTROL_ALLOW_HEADERS).to_ascii_lowercase();
    assert!(allowed_headers.contains("content-type") && allowed_headers.contains("idempotency-key"));

    let create = server
        .client
        .post(server.url("episodes"))
        .json(&episode_body("a UI elsewhere", 6.0))
        .header(header::ORIGIN, UI)
        .header("sec-fetch-site", "cross-site");
    let created = server.send(create).await.expect(StatusCode::CREATED, "from the UI");
    assert_eq!(
        created.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(&HeaderValue::from_static(UI))
    );
    // Other origins get neither CORS nor state changes.
    let preflight = server
        .client
        .request(reqwest::Method::OPTIONS, server.url("episodes"))
        .header(header::ORIGIN, EVIL)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .send()
        .await
        .expect("a preflight");
    assert!(preflight.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let forged = text_post(&server, "episodes", &episode_body("evil", 6.0)).header(header::ORIGIN, EVIL);
    server
        .send(forged)
        .await
        .expect_error(StatusCode::FORBIDDEN, "cross_origin_refused", "evil");
    assert_eq!(episodes(&server).await, 1);
    server.stop().await;
}
