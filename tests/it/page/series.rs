//! A series on the page: its bible and regular cast, and reference images added by choosing a
//! file and by dropping one, with the server's refusals said in words.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::browser::Browser;

use super::steps::{click, click_at, find, js, retype, snap, until};
use crate::served::{eventually, send};

/// A small PNG, as the base64 the page turns into a dropped file.
fn png_base64() -> String {
    let image = image::RgbImage::from_pixel(24, 32, image::Rgb([200, 120, 40]));
    let bytes = showrunner::media::png::encode_png(&image).expect("a PNG");
    base64_encode(&bytes)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Drops a file named `name` of type `kind` with these base64 bytes on the first drop zone.
fn drop_script(name: &str, kind: &str, base64: &str) -> String {
    format!(
        "const bytes = Uint8Array.from(atob({base64:?}), c => c.charCodeAt(0));
         const data = new DataTransfer();
         data.items.add(new File([bytes], {name:?}, {{ type: {kind:?} }}));
         const zone = document.querySelector('.drop');
         zone.dispatchEvent(new DragEvent('dragover', {{ dataTransfer: data, bubbles: true, cancelable: true }}));
         zone.dispatchEvent(new DragEvent('drop', {{ dataTransfer: data, bubbles: true, cancelable: true }}));
         return true;"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_series_shows_its_bible_and_cast_and_takes_dropped_references() {
    let (_dir, server) = super::server().await;
    let made = send(server.client.post(server.url("series")).json(&json!({
        "title": "Harbour Tales",
        "bible": { "visual_style": "ink and watercolour", "world": "a harbour town", "rules": ["no one leaves the island"] },
        "characters": [{ "name": "Mara", "role": "the keeper" }],
    })))
    .await
    .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.data()["id"].as_str().expect("an id").to_owned();
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("series", |c| async move {
            c.goto(&format!("{origin}/series")).await.expect("the series list");
            until(&c, "the series listed", "return document.querySelector('ul.inbox a')?.textContent === 'Harbour Tales';").await;
            c.goto(&format!("{origin}/series/{id}")).await.expect("the series");
            until(
                &c,
                "the bible and the cast",
                "return document.body.textContent.includes('no one leaves the island') && document.querySelector('ul.cards h3')?.textContent.startsWith('Mara');",
            )
            .await;

            // A file that is not the image it says it is: refused, in words, and nothing added.
            js(&c, &drop_script("notes.png", "image/png", &base64_encode(b"not a png at all")), vec![]).await;
            let refusal = until(&c, "the refusal", "return document.querySelector('.field-error')?.textContent;").await;
            let refusal = refusal.as_str().unwrap_or_default();
            assert!(
                refusal.contains("PNG and JPEG") || refusal.contains("does not decode"),
                "{refusal}"
            );

            // A real PNG dropped: it appears with the character, and the series holds it.
            js(&c, &drop_script("mara.png", "image/png", &png_base64()), vec![]).await;
            until(&c, "the reference shown", "return document.querySelectorAll('ul.cards img').length === 1;").await;
            let references = eventually(Duration::from_secs(10), "the stored reference", || async {
                let shown = send(server.client.get(server.url(&format!("series/{id}")))).await?;
                let refs = shown.data()["characters"][0]["reference_images"].as_array()?.len();
                (refs == 1).then_some(refs)
            })
            .await;
            assert_eq!(references, 1);
            find(&c, ".drop").await;
            snap(&c, "series").await;
        })
        .await;
}

/// The series as the API shows it now.
async fn stored(server: &crate::served::Served, id: &str) -> serde_json::Value {
    let shown = send(server.client.get(server.url(&format!("series/{id}"))))
        .await
        .expect("the series");
    shown.data().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_series_bible_and_cast_are_edited_on_the_page() {
    let (_dir, server) = super::server().await;
    let made = send(server.client.post(server.url("series")).json(&json!({
        "title": "Harbour Tales",
        "bible": { "visual_style": "ink and watercolour", "world": "a harbour town", "rules": ["no one leaves the island"] },
        "characters": [{ "name": "Mara", "role": "the keeper", "dynamic_features": { "clothing": "oilskin coat", "props": ["a brass lamp"] } }],
    })))
    .await
    .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.data()["id"].as_str().expect("an id").to_owned();
    let character = made.data()["characters"][0]["id"]
        .as_str()
        .expect("a character id")
        .to_owned();
    let png = showrunner::media::png::encode_png(&image::RgbImage::from_pixel(8, 8, image::Rgb([9, 90, 200])))
        .expect("a PNG");
    let uploaded = send(
        server
            .client
            .post(server.url(&format!("series/{id}/characters/{character}/references?revision=1")))
            .header("content-type", "image/png")
            .body(png),
    )
    .await
    .expect("an answer");
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let before = stored(&server, &id).await;
    assert_eq!(before["revision"], 2);

    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("series-edit", |c| async move {
            c.goto(&format!("{origin}/series/{id}")).await.expect("the series");
            click_at(&c, Locator::XPath("//button[text()='Edit the bible and cast']"), "Edit").await;
            find(&c, "form.series-edit").await;

            // A blank name: the server's refusal shows at the name, and nothing is stored.
            retype(&c, "#e-world", "a harbour town under a long winter").await;
            js(&c, "document.querySelector('#e-c0-name').value = ''; return true;", vec![]).await;
            click(&c, "form.series-edit button[type=submit]").await;
            let refusal = until(
                &c,
                "the name's error at the name",
                "const f = document.querySelector('#e-c0-name'); return f.getAttribute('aria-invalid') === 'true' && f.nextElementSibling?.classList.contains('field-error') && f.nextElementSibling.textContent;",
            )
            .await;
            assert!(refusal.as_str().unwrap_or_default().contains("blank"), "{refusal}");
            snap(&c, "series-edit").await;
            assert_eq!(stored(server, &id).await, before, "a refused edit changed the series");

            // Fixed, with a new rule and a second regular: saved, and the page shows it.
            retype(&c, "#e-c0-name", "Mara Quill").await;
            retype(&c, "#e-c0-clothing", "a red oilskin coat").await;
            js(&c, "const r = document.querySelector('#e-rules'); r.value += '\\nthe lamp never goes out'; return true;", vec![]).await;
            click_at(&c, Locator::XPath("//button[text()='Add a character']"), "Add a character").await;
            retype(&c, "#e-c1-name", "Tobias").await;
            retype(&c, "#e-c1-role", "the ferryman").await;
            click(&c, "form.series-edit button[type=submit]").await;
            until(
                &c,
                "the saved series shown",
                "return !document.querySelector('form.series-edit') && document.body.textContent.includes('under a long winter') && document.querySelectorAll('ul.cards > li').length === 2;",
            )
            .await;
            let after = stored(server, &id).await;
            assert_eq!(after["revision"], 3);
            assert_eq!(after["bible"]["world"], "a harbour town under a long winter");
            assert_eq!(after["bible"]["rules"], json!(["no one leaves the island", "the lamp never goes out"]));
            let mara = &after["characters"][0];
            assert_eq!(mara["name"], "Mara Quill");
            assert_eq!(mara["id"], before["characters"][0]["id"], "the character kept its id");
            assert_eq!(mara["dynamic_features"]["clothing"], "a red oilskin coat");
            assert_eq!(mara["dynamic_features"]["props"], json!(["a brass lamp"]), "fields the form does not show are kept");
            assert_eq!(mara["reference_images"], before["characters"][0]["reference_images"], "the references are kept");
            assert_eq!(after["characters"][1]["role"], "the ferryman");

            // Someone else saves while the form is open: the page says so, keeps what was
            // typed, and a second save replaces theirs.
            click_at(&c, Locator::XPath("//button[text()='Edit the bible and cast']"), "Edit").await;
            retype(&c, "#e-style", "woodcut, two colours").await;
            let body = json!({
                "revision": 3,
                "title": "Harbour Tales, retold",
                "bible": after["bible"],
                "characters": [{ "name": "Wren", "role": "the lamp's cat" }],
            });
            let put = send(server.client.put(server.url(&format!("series/{id}"))).json(&body)).await.expect("an answer");
            assert_eq!(put.status, 200, "{:?}", put.body);
            click(&c, "form.series-edit button[type=submit]").await;
            let said = until(
                &c,
                "the conflict said",
                "const t = document.querySelector('form.series-edit .error')?.textContent; return t && t.includes('Someone else saved') && t;",
            )
            .await;
            assert!(said.as_str().is_some_and(|t| t.contains("Wren")), "their new regular is named: {said}");
            assert_eq!(js(&c, "return document.querySelector('#e-style').value;", vec![]).await, "woodcut, two colours");
            click(&c, "form.series-edit button[type=submit]").await;
            until(&c, "the second save", "return !document.querySelector('form.series-edit') && document.body.textContent.includes('woodcut, two colours');").await;
            let last = stored(server, &id).await;
            assert_eq!(last["revision"], 5);
            assert_eq!(last["title"], "Harbour Tales");
            let names: Vec<&str> = last["characters"].as_array().expect("cast").iter().filter_map(|c| c["name"].as_str()).collect();
            assert_eq!(names, ["Mara Quill", "Tobias", "Wren"], "ours, and theirs kept");
        })
        .await;
}
