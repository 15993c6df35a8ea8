//! The studio page in a real headless Chromium (no DOM emulation), against the real
//! `showrunner serve` on a free port with a temporary store: a person drives an episode through
//! every gate to a video that plays, regenerates with a note, makes an edit the server refuses,
//! reverts, chats, reloads, and loses the server to kill -9 while the page stays open.

mod browser;
mod failures;
mod forks;
mod review;
mod series;
mod served_page;
mod steps;

use std::time::Duration;

use fantoccini::Client;
use serde_json::{Value, json};

use crate::served::{Served, send};
use steps::{js, until};

/// A fresh server over a temporary store, and the directory that holds it.
async fn server() -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().expect("tempdir");
    let served = Served::start(&dir.path().join("data"), Some(&dir.path().join("server.log"))).await;
    (dir, served)
}

/// Creates an idea2video episode over the API with small settings (each stage runs in
/// moments); its id.
async fn create(server: &Served, idea: &str) -> String {
    create_with(server, idea, json!({})).await
}

/// [`create`] with `settings` besides the small ones (`review_items`, `candidates`).
async fn create_with(server: &Served, idea: &str, mut settings: Value) -> String {
    for (k, v) in [
        ("target_duration_s", json!(4)),
        ("width", json!(160)),
        ("height", json!(90)),
        ("fps", json!(6)),
    ] {
        settings[k] = v;
    }
    let reply = send(
        server
            .client
            .post(server.url("episodes"))
            .json(&json!({ "workflow": "idea2video", "idea": idea, "settings": settings })),
    )
    .await
    .expect("an answer");
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.data()["id"].as_str().expect("an id").to_owned()
}

/// The instance `node` of an episode, as the API shows it.
async fn instance(server: &Served, episode: &str, node: &str) -> Value {
    let reply = send(
        server
            .client
            .get(server.url(&format!("episodes/{episode}/nodes/{node}"))),
    )
    .await
    .expect("an answer");
    reply.data().clone()
}

/// Waits until the page's panel shows `node` in `state` (the badge's words).
async fn panel_shows(client: &Client, node: &str, state: &str) {
    let script = format!(
        "const h = document.querySelector('.node-head'); \
         return !!h && h.querySelector('h2').textContent.startsWith({node:?}) && \
         !!h.querySelector('.badge') && h.querySelector('.badge').textContent === {state:?};"
    );
    until(client, &format!("{node} shown as {state}"), &script).await;
}

/// The number of versions the page lists.
async fn versions_listed(client: &Client) -> u64 {
    js(
        client,
        "return document.querySelectorAll('table.versions tbody tr').length;",
        vec![],
    )
    .await
    .as_u64()
    .unwrap_or(0)
}

/// Waits a moment for the page to catch up with something that should not change it.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}
