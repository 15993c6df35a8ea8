//! What a person does on the page, each test a browser session against its own server.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::json;

use super::browser::Browser;
use super::steps::{click, find, js, snap, type_into, until};
use super::{create, instance, panel_shows, server, settle, versions_listed};
use crate::served::{Served, eventually, send};

/// The episode id in the page's last visited episode link (the inbox's first row, or the URL).
async fn episode_of(client: &Client) -> String {
    let id = js(
        client,
        "const a = document.querySelector('table.episodes tbody a'); return a ? a.getAttribute('href').split('/')[2] : location.pathname.split('/')[2];",
        vec![],
    )
    .await;
    id.as_str().unwrap_or_default().to_owned()
}

/// Clicks the button whose text is `text`.
async fn press(client: &Client, text: &str) {
    client
        .wait()
        .at_most(super::steps::WAIT)
        .for_element(Locator::XPath(&format!("//button[normalize-space()='{text}']")))
        .await
        .unwrap_or_else(|e| panic!("no `{text}` button: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot press `{text}`: {e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_episode_is_driven_through_every_gate_to_a_video_that_plays() {
    let (_dir, server) = server().await;
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("every_gate", |c| async move {
            c.goto(&format!("{origin}/")).await.expect("the inbox");
            until(
                &c,
                "the empty inbox",
                "return document.querySelector('.empty')?.textContent.includes('No episodes yet');",
            )
            .await;
            click(&c, "nav a[href='/new']").await;
            type_into(&c, "#f-idea", "a lighthouse keeper befriends a whale").await;
            snap(&c, "new-episode").await;
            for (field, value) in [
                ("target_duration_s", "4"),
                ("width", "160"),
                ("height", "90"),
                ("fps", "6"),
            ] {
                type_into(&c, &format!("[id='f-settings.{field}']"), value).await;
            }
            click(&c, "form.create button[type=submit]").await;
            let mut gates = Vec::new();
            loop {
                let shown = until(
                    &c,
                    "an open gate or the finished episode",
                    "const status = document.querySelector('.episode-head .badge');
                     if (status && status.textContent === 'completed') return 'completed';
                     const head = document.querySelector('.node-head');
                     const button = document.querySelector('.actions button.primary');
                     if (head && head.querySelector('.badge')?.textContent === 'awaiting approval'
                         && button && !button.disabled) return head.querySelector('h2').textContent;
                     return null;",
                )
                .await;
                let shown = shown.as_str().unwrap_or_default().to_owned();
                if shown == "completed" {
                    break;
                }
                if shown == "characters" || shown == "storyboard" {
                    snap(&c, &format!("gate-{shown}")).await;
                }
                press(&c, "Approve").await;
                gates.push(shown.clone());
                assert!(gates.len() < 40, "gates without end: {gates:?}");
                let left = format!(
                    "const head = document.querySelector('.node-head');
                     return !head || head.querySelector('h2').textContent !== {shown:?}
                       || head.querySelector('.badge')?.textContent !== 'awaiting approval';"
                );
                until(&c, &format!("{shown} to move on"), &left).await;
            }
            for stage in ["outline", "characters", "scenes", "storyboard", "final"] {
                assert!(gates.iter().any(|g| g == stage), "{stage} was never a gate: {gates:?}");
            }
            // The page goes to the final video once the episode completes; it plays.
            find(&c, "video#player").await;
            js(
                &c,
                "const v = document.querySelector('#player'); v.muted = true; v.play(); return true;",
                vec![],
            )
            .await;
            until(
                &c,
                "the video to play",
                "return document.querySelector('#player').currentTime > 0.3;",
            )
            .await;
            // The shot list is the video's own: its shots where the video placed them.
            let episode = episode_of(&c).await;
            let cut = instance(server, &episode, "final").await["value"]["shots"].clone();
            let cut: Vec<(String, f64)> = cut
                .as_array()
                .expect("the video's shots")
                .iter()
                .map(|s| (s["id"].as_str().unwrap_or("").to_owned(), s["start_s"].as_f64().unwrap_or(-1.0)))
                .collect();
            assert!(!cut.is_empty(), "the video keeps its shots");
            let listed = js(
                &c,
                "return [...document.querySelectorAll('ol.shots li button:first-child')].map(b => b.textContent);",
                vec![],
            )
            .await;
            // "1.5 s · scene-1-shot-2": the start to a tenth (JS rounds its own way), and the id.
            let listed: Vec<(String, f64)> = listed
                .as_array()
                .expect("the shot list beside the player")
                .iter()
                .filter_map(|t| {
                    let (start, id) = t.as_str()?.split_once(" s · ")?;
                    Some((id.to_owned(), start.parse().ok()?))
                })
                .collect();
            assert_eq!(listed.len(), cut.len(), "{listed:?} against {cut:?}");
            for ((id, start), (cut_id, cut_start)) in listed.iter().zip(&cut) {
                assert!(id == cut_id && (start - cut_start).abs() <= 0.051, "{listed:?} against {cut:?}");
            }
            snap(&c, "final-video").await;
            c.goto(&format!("{origin}/")).await.expect("the inbox");
            until(
                &c,
                "the inbox's episodes",
                "return document.querySelectorAll('table.episodes tbody tr').length === 1
                    && document.querySelector('.empty')?.textContent === 'Nothing waits for you.';",
            )
            .await;
            c.goto(&format!("{origin}/episodes/{episode}/nodes/keyframes"))
                .await
                .expect("the keyframes");
            until(
                &c,
                "the keyframes sheet, with their quality scores",
                "return document.querySelectorAll('ul.sheet .thumb img').length > 0
                    && [...document.querySelectorAll('ul.sheet li.card .score')].some(s => /^[01]\\.\\d\\d$/.test(s.textContent));",
            )
            .await;
            snap(&c, "keyframes-sheet").await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_note_regenerates_a_bad_edit_changes_nothing_and_a_revert_goes_back() {
    let (_dir, server) = server().await;
    let episode = create(&server, "a grumpy baker wins a cake contest").await;
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("note_edit_revert", |c| async move {
            c.goto(&format!("{origin}/episodes/{episode}/nodes/outline"))
                .await
                .expect("the outline");
            panel_shows(&c, "outline", "awaiting approval").await;
            type_into(&c, "#note", "make it hopeful").await;
            press(&c, "Regenerate").await;
            until(
                &c,
                "the second version listed",
                "return document.querySelectorAll('table.versions tbody tr').length === 2;",
            )
            .await;
            let outline = instance(server, &episode, "outline").await;
            assert_eq!(outline["version_count"], 2);
            assert_eq!(outline["versions"][1]["feedback"], "make it hopeful");
            panel_shows(&c, "outline", "awaiting approval").await;

            // An edit the server refuses: its error names the field, and nothing changes.
            press(&c, "Edit").await;
            find(&c, "#edit-json").await;
            js(
                &c,
                "const t = document.querySelector('#edit-json');
                 const v = JSON.parse(t.value); v.logline = 5; t.value = JSON.stringify(v, null, 2); return true;",
                vec![],
            )
            .await;
            press(&c, "Save as a new version").await;
            let error = until(
                &c,
                "the field's error",
                "const e = document.querySelector('#edit-error'); return e && e.textContent;",
            )
            .await;
            let error = error.as_str().unwrap_or_default();
            assert!(error.starts_with("logline:"), "{error}");
            let path = js(&c, "return document.querySelector('#edit-error').dataset.path;", vec![]).await;
            assert_eq!(path, "value.logline");
            assert_eq!(
                instance(server, &episode, "outline").await["version_count"],
                2,
                "nothing stored"
            );
            press(&c, "Cancel").await;
            settle().await;
            assert_eq!(versions_listed(&c).await, 2);

            // Back to the first version: it is current and approved.
            c.find(Locator::XPath(
                "//tr[@data-n='1']//button[normalize-space()='revert to it']",
            ))
            .await
            .expect("the first version's revert")
            .click()
            .await
            .expect("revert");
            panel_shows(&c, "outline", "approved").await;
            let outline = instance(server, &episode, "outline").await;
            assert_eq!(
                (outline["current_version"].clone(), outline["approved_version"].clone()),
                (json!(1), json!(1))
            );
            until(
                &c,
                "v1 marked current",
                "return document.querySelector(\"tr[data-n='1']\")?.textContent.includes('(current)');",
            )
            .await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_a_dropped_stream_and_a_killed_server_lose_nothing_on_the_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    let mut server = Served::start(&data, Some(&log)).await;
    let origin = server.origin().to_owned();
    let addr = origin.trim_start_matches("http://").to_owned();
    let episode = create(&server, "two foxes steal the moon").await;
    Browser::open((1280, 800))
        .await
        .run("reload_and_kill", |c| async move {
            c.goto(&format!("{origin}/episodes/{episode}"))
                .await
                .expect("the episode");
            panel_shows(&c, "outline", "awaiting approval").await;

            // An approve from elsewhere reaches the open page.
            let approve = |server: &Served, node: &str, version: u64| {
                server
                    .client
                    .post(server.url(&format!("episodes/{episode}/nodes/{node}/approve")))
                    .json(&json!({ "version": version }))
            };
            assert_eq!(
                send(approve(&server, "outline", 1)).await.expect("approved").status,
                200
            );
            panel_shows(&c, "outline", "approved").await;

            // A reload shows the same state, from the server (the panel opens on what waits).
            c.refresh().await.expect("reload");
            until(&c, "outline approved on the rail", &stage_shows("outline", "approved")).await;
            panel_shows(&c, "characters", "awaiting approval").await;
            until(
                &c,
                "characters waiting on the rail",
                &stage_shows("characters", "awaiting approval"),
            )
            .await;

            // The stream drops (kill -9); the page says so, and once the server is back on the
            // same address it resumes after the last event it saw, nothing missed or repeated.
            server.kill();
            until(
                &c,
                "the page to see the stream drop",
                "return document.getElementById('conn').textContent.includes('reconnecting');",
            )
            .await;
            let server = Served::start_at(&data, Some(&log), &addr).await;
            until(
                &c,
                "the stream to come back",
                "return document.getElementById('conn').textContent.includes('live');",
            )
            .await;
            let characters = instance(&server, &episode, "characters").await;
            let version = characters["current_version"].as_u64().expect("characters made");
            assert_eq!(
                send(approve(&server, "characters", version))
                    .await
                    .expect("approved")
                    .status,
                200
            );
            until(
                &c,
                "characters approved on the rail",
                &stage_shows("characters", "approved"),
            )
            .await;
            let shown = send(server.client.get(server.url(&format!("episodes/{episode}"))))
                .await
                .expect("the episode");
            let next = shown.data()["next_seq"].as_u64().expect("next_seq");
            let script = format!(
                "const seqs = [...document.querySelectorAll('.log li')].map(li => Number(li.dataset.seq));
                 return seqs.length > 0 && seqs[0] >= {last} ? seqs : null;",
                last = next - 1
            );
            let seqs = until(&c, "the log to reach the last event", &script).await;
            let mut seqs: Vec<u64> = seqs
                .as_array()
                .expect("numbers")
                .iter()
                .filter_map(|v| v.as_u64())
                .collect();
            let listed = seqs.len();
            seqs.sort_unstable();
            seqs.dedup();
            assert_eq!(seqs.len(), listed, "an event shown twice");
            // Events may have come on since `next_seq` was read: the log runs without a gap
            // from its first line up to at least that event.
            let (first, last) = (seqs[0], seqs[seqs.len() - 1]);
            assert!(last >= next - 1, "the log stops at {last}, before {}", next - 1);
            assert_eq!(seqs, (first..=last).collect::<Vec<_>>(), "an event missed");
        })
        .await;
}

/// A script true when the rail's entry for `node` shows `words`.
fn stage_shows(node: &str, words: &str) -> String {
    format!(
        "return [...document.querySelectorAll('.stage')].some(s => s.querySelector('.stage-name')?.textContent === {node:?} \
         && s.textContent.includes({words:?}));"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chat_approves_a_gate_and_shows_its_reply() {
    let (_dir, server) = server().await;
    let episode = create(&server, "a shy robot paints the sea").await;
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("chat", |c| async move {
            c.goto(&format!("{origin}/episodes/{episode}"))
                .await
                .expect("the episode");
            panel_shows(&c, "outline", "awaiting approval").await;
            type_into(&c, "#chat-input", "looks good, approve it").await;
            press(&c, "Send").await;
            until(
                &c,
                "the reply",
                "return document.querySelectorAll('.chat-lines li.chat-assistant').length > 0;",
            )
            .await;
            panel_shows(&c, "outline", "approved").await;
            assert_eq!(instance(server, &episode, "outline").await["approved_version"], 1);
            let linked = js(
                &c,
                "return [...document.querySelectorAll('.chat-lines a')].some(a => a.textContent.includes('outline'));",
                vec![],
            )
            .await;
            assert_eq!(linked, true, "the reply links to the node it acted on");
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_keys_the_page_asks_for_one_and_keeps_it_out_of_the_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("the data directory");
    std::fs::write(data.join("showrunner.toml"), "[api]\nkeys = [\"open-sesame\"]\n").expect("the configuration");
    let server = Served::start(&data, Some(&dir.path().join("server.log"))).await;
    let origin = server.origin().to_owned();
    Browser::open((1280, 800))
        .await
        .run("keys", |c| async move {
            c.goto(&format!("{origin}/")).await.expect("the inbox");
            until(&c, "the key dialog", "return document.getElementById('key-dialog').open;").await;
            type_into(&c, "#key-input", "wrong-key").await;
            press(&c, "Use this key").await;
            until(
                &c,
                "the refusal",
                "return document.getElementById('key-error').textContent.includes('refused');",
            )
            .await;
            type_into(&c, "#key-input", "open-sesame").await;
            press(&c, "Use this key").await;
            until(
                &c,
                "the inbox",
                "return document.querySelector('main h1')?.textContent === 'Inbox' && !document.querySelector('.loading');",
            )
            .await;
            let kept = js(&c, "return sessionStorage.getItem('showrunner.key');", vec![]).await;
            assert_eq!(kept, "open-sesame");
            let url = c.current_url().await.expect("the URL");
            assert!(!url.as_str().contains("sesame"), "{url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_narrow_screen_the_page_fits_and_its_gate_is_usable() {
    let (_dir, server) = server().await;
    let episode = create(&server, "a sleepy owl guards a library").await;
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((390, 844))
        .await
        .run("narrow", |c| async move {
            c.goto(&format!("{origin}/episodes/{episode}"))
                .await
                .expect("the episode");
            panel_shows(&c, "outline", "awaiting approval").await;
            let overflow = js(
                &c,
                "return document.documentElement.scrollWidth - window.innerWidth;",
                vec![],
            )
            .await;
            assert!(overflow.as_i64().unwrap_or(1) <= 0, "the page is wider than the screen by {overflow} px");
            let rail = js(
                &c,
                "const r = document.querySelector('.rail').getBoundingClientRect(); return r.width <= window.innerWidth;",
                vec![],
            )
            .await;
            assert_eq!(rail, true, "the rail scrolls within the screen");
            snap(&c, "narrow").await;
            press(&c, "Approve").await;
            eventually(Duration::from_secs(30), "the approve", || async {
                (instance(server, &episode, "outline").await["state"] == "approved").then_some(())
            })
            .await;
        })
        .await;
}
