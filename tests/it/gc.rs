//! Issue 11, item 1: garbage collection never deletes what it must keep. Collections with no
//! grace run in a loop, over HTTP on a real socket, while episodes run their real nodes (which
//! write portraits, keyframes, clips and the final video as blobs) and uploads arrive and are
//! attached to a series a moment later; afterwards every blob that any stored version, episode
//! input, series or upload record names is still there: 0 missing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};
use showrunner::engine::{BlobRef, ContentHash, Engine};
use showrunner::media::png::encode_png;

use crate::http::{Server, answer};

/// Episodes driven to the end while collections run.
const EPISODES: usize = 3;
/// Uploads made, each attached to the series a moment after its `201`.
const UPLOADS: usize = 24;

fn png(shade: u8) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(12, 10, image::Rgb([shade, 255 - shade, 7]));
    encode_png(&image).expect("a PNG")
}

fn series_body(references: &[Value]) -> Value {
    json!({
        "title": "Fog Harbour",
        "bible": {"visual_style": "ink", "world": "a harbour town", "rules": []},
        "characters": [{
            "name": "Inspector Vale",
            "role": "the detective",
            "static_features": {"face": "sharp", "body": "tall"},
            "dynamic_features": {"clothing": "an oilskin coat", "props": []},
            "personality": "patient",
            "reference_images": references,
        }],
    })
}

/// Every blob the engine's stored records name, and how many of them are missing.
async fn missing_blobs(engine: &Engine) -> (usize, usize) {
    let mut named: BTreeSet<ContentHash> = BTreeSet::new();
    for status in showrunner::engine::EpisodeStatus::ALL {
        for id in engine.episodes(status).expect("episodes") {
            let snapshot = engine.snapshot(id).await.expect("snapshot");
            named.extend(BlobRef::find_all(&snapshot.header.input));
            for record in &snapshot.instances {
                for version in &record.versions {
                    named.extend(version.blobs.iter().copied());
                    let value = engine.version_value(id, &record.key, version.n).expect("value");
                    named.extend(BlobRef::find_all(&value));
                }
            }
        }
    }
    for series in engine.all_series().expect("series") {
        named.extend(BlobRef::find_all(&series.content));
    }
    named.extend(engine.uploads().expect("uploads").iter().map(|u| u.blob));
    let mut missing = 0;
    for blob in &named {
        if !engine.blobs().contains(BlobRef(*blob)).await.expect("contains") {
            missing += 1;
        }
    }
    (named.len(), missing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_11_collections_with_no_grace_lose_nothing_while_episodes_run_and_uploads_arrive() {
    let server = Arc::new(Server::start().await);
    let done = Arc::new(AtomicBool::new(false));
    let collections = Arc::new(AtomicUsize::new(0));

    // Two collectors at once, in a loop, with no grace: every answer must be a 200.
    let mut collectors = Vec::new();
    for _ in 0..2 {
        let (server, done, collections) = (server.clone(), done.clone(), collections.clone());
        collectors.push(tokio::spawn(async move {
            while !done.load(Ordering::Acquire) {
                let collected = server.post("admin/gc?grace_s=0", json!({})).await;
                assert_eq!(collected.status, StatusCode::OK, "gc: {:#}", collected.body);
                collections.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    let mut episodes = Vec::new();
    for n in 0..EPISODES {
        let server = server.clone();
        episodes.push(tokio::spawn(async move {
            let id = server
                .create(&format!("a lighthouse keeper counts ships, take {n}"), 6.0)
                .await;
            let finished = server.approve_all(&id).await;
            assert_eq!(finished["status"], json!("completed"));
            id
        }));
    }

    let series = server
        .post("series", series_body(&[]))
        .await
        .expect(StatusCode::CREATED, "series");
    let series_id = series.data()["id"].as_str().expect("an id").to_owned();
    let mut revision = series.data()["revision"].as_u64().expect("a revision");
    let mut attached = Vec::new();
    for n in 0..UPLOADS {
        let uploaded = answer(
            server
                .client
                .post(server.url("uploads"))
                .header(header::CONTENT_TYPE, "image/png")
                .body(png(n as u8 * 9)),
        )
        .await
        .expect(StatusCode::CREATED, "an upload");
        let reference = uploaded.data()["reference"].clone();
        // Answered, not yet referenced: collections run meanwhile.
        tokio::time::sleep(Duration::from_millis(30)).await;
        attached.push(reference);
        let keep = &attached[attached.len().saturating_sub(3)..];
        let mut body = series_body(keep);
        body["revision"] = json!(revision);
        let updated = server
            .send(
                server
                    .client
                    .put(server.url(&format!("series/{series_id}")))
                    .json(&body),
            )
            .await
            .expect(StatusCode::OK, "attach the upload");
        revision = updated.data()["revision"].as_u64().expect("a revision");
    }

    let mut ids = Vec::new();
    for episode in episodes {
        ids.push(episode.await.expect("an episode completes"));
    }
    done.store(true, Ordering::Release);
    for collector in collectors {
        collector.await.expect("a collector");
    }
    assert!(collections.load(Ordering::Relaxed) >= 4, "collections ran meanwhile");

    let (named, missing) = missing_blobs(&server.engine).await;
    assert!(named > EPISODES * 5, "the episodes wrote blobs: {named}");
    assert_eq!(missing, 0, "{missing} of {named} referenced blobs are missing");
    for id in &ids {
        let video = server.value(id, "final").await;
        let hash = crate::http::blob_hash(&video["video"]);
        server
            .get(&format!("artifacts/{hash}"))
            .await
            .expect(StatusCode::OK, "the final video downloads");
    }
    match Arc::try_unwrap(server) {
        Ok(server) => server.stop().await,
        Err(_) => panic!("the test's tasks are done"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreferenced_upload_is_kept_for_its_retention_whatever_the_grace_then_collected() {
    use showrunner::engine::{BlobStore, EngineConfig, Store, UPLOAD_RETENTION, UploadRecord, now_ms};
    use showrunner::storage::{FsBlobStore, SledStore};

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SledStore::open(dir.path().join("store")).expect("store"));
    let blobs = Arc::new(FsBlobStore::open(dir.path().join("blobs")).expect("blobs"));
    let (engine, _) = Engine::open(store.clone(), blobs.clone(), [], EngineConfig::default())
        .await
        .expect("engine");
    let fresh = engine.upload(png(1), None).await.expect("an upload");
    // An upload made longer ago than the retention, recorded as the engine records one.
    let old = blobs.put(png(2)).await.expect("a blob");
    let retention = u64::try_from(UPLOAD_RETENTION.as_millis()).expect("ms");
    let expired = UploadRecord {
        blob: old.0,
        created_at: now_ms() - retention - 1000,
        owner: Some("someone".into()),
    };
    store.put_upload(&expired).await.expect("an old upload record");

    let stats = engine.collect_garbage(Duration::ZERO).await.expect("gc");
    assert_eq!((stats.removed, stats.kept), (1, 1), "{stats:?}");
    assert!(blobs.contains(fresh).await.expect("contains"), "a fresh upload stays");
    assert!(!blobs.contains(old).await.expect("contains"), "an expired one goes");
    let left: Vec<ContentHash> = engine.uploads().expect("uploads").iter().map(|u| u.blob).collect();
    assert_eq!(left, vec![fresh.0], "the expired record is dropped");
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_that_names_a_blob_that_is_not_stored_is_refused_with_missing_blob() {
    use showrunner::engine::EngineError;
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = crate::support::open(dir.path(), Vec::new()).await;
    let absent = BlobRef(ContentHash::of(b"never uploaded"));
    let refused = engine
        .create_series(
            "t".into(),
            json!({"characters": [{"reference_images": [absent.to_string()]}]}),
        )
        .await;
    assert!(
        matches!(refused, Err(EngineError::MissingBlob(b)) if b == absent),
        "{refused:?}"
    );
    let stored = engine.upload(png(5), None).await.expect("an upload");
    engine
        .create_series(
            "t".into(),
            json!({"characters": [{"reference_images": [stored.to_string()]}]}),
        )
        .await
        .expect("a stored blob is accepted");
    engine.shutdown().await;
}
