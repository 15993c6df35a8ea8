//! Issue 11, item 5: an upload is decoded in full, within a pixel budget (8192 pixels a side,
//! 64 MiB decoded), before it is stored: a header that declares a huge image, a broken checksum
//! or a truncated file is `422 invalid_image` with the reason. The bad files are made here by
//! hand from good ones.

use reqwest::StatusCode;
use serde_json::json;

use crate::http::Server;

/// A `w`×`h` image encoded as `format`.
fn encoded(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encode");
    bytes.into_inner()
}

/// The CRC-32 of PNG chunks (ISO 3309, reflected, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The offset of the first PNG chunk of `kind` (its length field).
fn chunk(png: &[u8], kind: &[u8; 4]) -> usize {
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        if &png[at + 4..at + 8] == kind {
            return at;
        }
        at += 12 + len;
    }
    panic!("no {} chunk", String::from_utf8_lossy(kind));
}

/// A small real PNG whose IHDR is rewritten to declare `w`×`h`, with a correct CRC: a few
/// hundred bytes that claim a huge image.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut png = encoded(4, 4, image::ImageFormat::Png);
    let at = chunk(&png, b"IHDR");
    png[at + 8..at + 12].copy_from_slice(&w.to_be_bytes());
    png[at + 12..at + 16].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&png[at + 4..at + 8 + 13]);
    png[at + 8 + 13..at + 8 + 17].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A small real JPEG whose frame header (SOF0) is rewritten to declare `w`×`h`.
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut jpeg = encoded(16, 16, image::ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|m| m == [0xFF, 0xC0]).expect("a SOF0 marker");
    // FFC0, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_decoded_within_the_pixel_budget_before_it_is_stored() {
    let server = Server::start().await;
    let upload = |bytes: Vec<u8>, content_type: &'static str| {
        server
            .client
            .post(server.url("uploads"))
            .header("content-type", content_type)
            .body(bytes)
    };
    let refused = |answer: crate::http::Answer, what: &str, why: &str| {
        let answer = answer.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_image", what);
        let message = answer.body["error"]["message"].as_str().unwrap_or("").to_owned();
        assert!(message.contains(why), "{what}: {message}");
    };

    let huge = png_declaring(30_000, 30_000);
    assert!(huge.len() < 200, "{} bytes", huge.len());
    refused(
        server.send(upload(huge, "image/png")).await,
        "a PNG declaring 30000²",
        "budget",
    );
    let jpeg = jpeg_declaring(65_000, 65_000);
    refused(
        server.send(upload(jpeg, "image/jpeg")).await,
        "a JPEG declaring 65000²",
        "budget",
    );

    let mut broken = encoded(32, 32, image::ImageFormat::Png);
    let idat = chunk(&broken, b"IDAT");
    let len = u32::from_be_bytes(broken[idat..idat + 4].try_into().expect("4 bytes")) as usize;
    broken[idat + 8 + len + 3] ^= 0x01;
    refused(
        server.send(upload(broken, "image/png")).await,
        "a PNG with a flipped CRC byte",
        "decode",
    );
    let mut truncated = encoded(64, 64, image::ImageFormat::Png);
    truncated.truncate(truncated.len() / 2);
    refused(
        server.send(upload(truncated, "image/png")).await,
        "a truncated PNG",
        "decode",
    );
    let mut truncated = encoded(64, 64, image::ImageFormat::Jpeg);
    truncated.truncate(truncated.len() / 2);
    refused(
        server.send(upload(truncated, "image/jpeg")).await,
        "a truncated JPEG",
        "decode",
    );

    // The budget's edge: 8192 pixels a side is accepted, 8193 is not.
    let wide = encoded(8193, 1, image::ImageFormat::Png);
    refused(
        server.send(upload(wide, "image/png")).await,
        "a PNG 8193 wide",
        "budget",
    );
    let at = server
        .send(upload(encoded(8192, 1, image::ImageFormat::Png), "image/png"))
        .await
        .expect(StatusCode::CREATED, "a PNG 8192 wide");
    assert_eq!(
        (at.data()["width"].clone(), at.data()["height"].clone()),
        (json!(8192), json!(1))
    );
    let jpeg = server
        .send(upload(encoded(40, 30, image::ImageFormat::Jpeg), "image/jpeg"))
        .await
        .expect(StatusCode::CREATED, "a good JPEG");
    assert_eq!(jpeg.data()["width"], json!(40));
    server.stop().await;
}
