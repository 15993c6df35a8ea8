//! Reviewing fan-outs on the page: candidates side by side to pick from, and a gate on every
//! item approved from the contact sheet, a selection at once.

use serde_json::{Value, json};

use super::browser::Browser;
use super::steps::{click, find, js, snap, type_into, until};
use super::{create_with, instance, server};
use crate::served::{Served, eventually, send};

/// A server, and an idea2video episode with `settings` whose outline, characters and scenes are
/// approved over the API (so the fan-outs have started).
async fn past_the_story(settings: Value) -> (tempfile::TempDir, Served, String) {
    let (dir, server) = server().await;
    let episode = create_with(&server, "an owl and a fox open a bakery", settings).await;
    for node in ["outline", "characters", "scenes"] {
        let version = eventually(std::time::Duration::from_secs(60), node, || async {
            let shown = instance(&server, &episode, node).await;
            (shown["state"] == "awaiting_approval").then(|| shown["current_version"].clone())
        })
        .await;
        let url = server.url(&format!("episodes/{episode}/nodes/{node}/approve"));
        let approved = send(server.client.post(url).json(&json!({ "version": version })))
            .await
            .expect("approved");
        assert_eq!(approved.status, 200, "{:?}", approved.body);
    }
    (dir, server, episode)
}

/// The instances of `node` in the episode.
async fn items(server: &Served, episode: &str, node: &str) -> Vec<Value> {
    let shown = send(server.client.get(server.url(&format!("episodes/{episode}"))))
        .await
        .expect("the episode");
    shown.data()["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["node"] == node)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn candidates_are_shown_side_by_side_and_the_one_picked_goes_on() {
    let (_dir, server, episode) = past_the_story(json!({ "candidates": 2 })).await;
    let workflow = send(server.client.get(server.url("workflows/idea2video")))
        .await
        .expect("workflow");
    assert!(workflow.data()["variant"].is_null(), "the default stays the default");
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("candidates", |c| async move {
            let first = eventually(
                std::time::Duration::from_secs(60),
                "a portrait's candidates",
                || async {
                    let all = items(server, &episode, "portraits").await;
                    all.iter()
                        .find(|n| n["candidates"].as_array().is_some_and(|v| v.len() == 2))
                        .map(|n| n["item"].as_str().unwrap_or_default().to_owned())
                },
            )
            .await;
            // The inbox says the portrait waits for a pick, and leads to it.
            c.goto(&format!("{origin}/")).await.expect("the inbox");
            let link = format!("/episodes/{episode}/nodes/portraits/items/{first}");
            let reason = until(
                &c,
                "the portrait in the inbox",
                &format!(
                    "const a = document.querySelector('ul.inbox a[href=\"{link}\"]');
                     return a && a.parentElement.querySelector('.badge').textContent;"
                ),
            )
            .await;
            assert_eq!(reason, "pick a candidate");
            snap(&c, "inbox").await;
            click(&c, &format!("ul.inbox a[href=\"{link}\"]")).await;
            until(
                &c,
                "two candidates with their images",
                "return document.querySelectorAll('figure.candidate').length === 2
                    && document.querySelectorAll('figure.candidate img').length === 2;",
            )
            .await;
            let captions = js(
                &c,
                "return [...document.querySelectorAll('figure.candidate figcaption')].map(f => f.textContent);",
                vec![],
            )
            .await;
            assert!(captions.to_string().contains("Version 2"), "{captions}");
            snap(&c, "candidates").await;
            // A picture opens large with what made it.
            click(&c, ".media button.image").await;
            let shown = until(
                &c,
                "the lightbox",
                "const d = document.querySelector('dialog.lightbox[open]'); return d && d.textContent;",
            )
            .await;
            let shown = shown.as_str().unwrap_or_default();
            for word in ["Seed", "Model", "procedural-image-1", "Attempt", "Author", "When"] {
                assert!(shown.contains(word), "the lightbox lacks {word}: {shown}");
            }
            js(
                &c,
                "document.querySelector('dialog.lightbox').close(); return true;",
                vec![],
            )
            .await;
            click(&c, "figure.candidate:nth-of-type(2) button.primary").await;
            let picked = eventually(std::time::Duration::from_secs(30), "the pick", || async {
                let shown = instance(server, &episode, &format!("portraits/items/{first}")).await;
                (shown["state"] == "approved").then_some(shown)
            })
            .await;
            assert_eq!(
                picked["approved_version"], 2,
                "the second candidate was picked: {picked}"
            );
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_item_waits_for_a_person_and_a_selection_is_approved_at_once() {
    let (_dir, server, episode) = past_the_story(json!({ "review_items": true })).await;
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("review_items", |c| async move {
            let count = eventually(std::time::Duration::from_secs(60), "scene images to review", || async {
                let all = items(server, &episode, "scene_images").await;
                (!all.is_empty() && all.iter().all(|n| n["state"] == "awaiting_approval")).then_some(all.len())
            })
            .await;
            c.goto(&format!("{origin}/episodes/{episode}/nodes/scene_images"))
                .await
                .expect("the scene images");
            let rail = format!(
                "return [...document.querySelectorAll('.stage')].some(s => s.textContent.includes('0 of {count} approved · {count} to review'));"
            );
            until(&c, "the rail's per-item counts", &rail).await;
            until(
                &c,
                "a card per scene image",
                &format!("return document.querySelectorAll('ul.sheet li.card').length === {count};"),
            )
            .await;
            // Redraws caused by someone else's approvals leave the keyboard where it was: on a
            // rail link, and in the note being typed, caret and all.
            let approve = |n: usize| {
                let episode = episode.clone();
                async move {
                    let item = items(server, &episode, "scene_images").await[n].clone();
                    let name = item["item"].as_str().expect("an item").to_owned();
                    let url = server.url(&format!("episodes/{episode}/nodes/scene_images/items/{name}/approve"));
                    let approved = send(server.client.post(url).json(&json!({ "version": item["current_version"] })))
                        .await
                        .expect("approved");
                    assert_eq!(approved.status, 200, "{:?}", approved.body);
                }
            };
            let approved_on_rail =
                |n: usize| format!("return [...document.querySelectorAll('.stage')].some(s => s.textContent.includes('{n} of {count} approved'));");
            js(&c, "document.querySelector('.stage a[href$=\"/nodes/scene_images\"]').focus(); return true;", vec![]).await;
            approve(0).await;
            until(&c, "the rail redrawn", &approved_on_rail(1)).await;
            let focused = js(&c, "return document.activeElement.getAttribute('href');", vec![]).await;
            assert!(focused.as_str().is_some_and(|h| h.ends_with("/nodes/scene_images")), "{focused}");
            click(&c, ".bulk input[type=text]").await;
            type_into(&c, ".bulk input[type=text]", "warmer").await;
            approve(1).await;
            until(&c, "the sheet redrawn", &approved_on_rail(2)).await;
            until(
                &c,
                "the card approved",
                "return document.querySelectorAll('ul.sheet li.card.state-approved').length === 2;",
            )
            .await;
            let typing = js(
                &c,
                "const a = document.activeElement; return [a.getAttribute('aria-label'), a.value, a.selectionStart];",
                vec![],
            )
            .await;
            assert_eq!(typing, json!(["Note for the selected items", "warmer", 6]));
            c.active_element()
                .await
                .expect("the focused field")
                .send_keys(" light")
                .await
                .expect("typing on");
            assert_eq!(
                js(&c, "return document.querySelector('.bulk input[type=text]').value;", vec![]).await,
                "warmer light"
            );
            js(
                &c,
                "document.querySelectorAll('ul.sheet li.card.state-awaiting_approval .card-foot input[type=checkbox]').forEach(b => b.click()); return true;",
                vec![],
            )
            .await;
            find(&c, ".bulk").await;
            c.find(fantoccini::Locator::XPath("//button[normalize-space()='Approve selected']"))
                .await
                .expect("the bulk approve")
                .click()
                .await
                .expect("click");
            eventually(std::time::Duration::from_secs(30), "every scene image approved", || async {
                let all = items(server, &episode, "scene_images").await;
                all.iter().all(|n| n["state"] == "approved").then_some(())
            })
            .await;
            until(
                &c,
                "the rail to count them approved",
                &format!(
                    "return [...document.querySelectorAll('.stage')].some(s => s.textContent.includes('{count} of {count} approved'));"
                ),
            )
            .await;
        })
        .await;
}
