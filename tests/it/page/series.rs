//! A series on the page: its bible and regular cast, and reference images added by choosing a
//! file and by dropping one, with the server's refusals said in words.

use std::time::Duration;

use serde_json::json;

use super::browser::Browser;
use super::steps::{find, js, snap, until};
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
