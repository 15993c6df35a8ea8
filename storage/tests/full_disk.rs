//! Issue 11, item 2, at the store: on a small real file system (a 20 MB tmpfs) that fills up,
//! writes fail with `StoreError::Full` instead of stopping the process, everything acknowledged
//! stays readable, writes go through again once space is freed, and the store opens again with
//! little free space. Needs to mount a tmpfs (root); skipped where it cannot, except on CI.

use serde_json::json;
use showrunner_engine::{BlobStore, SeriesId, SeriesRecord, Store, StoreError, now_ms};
use showrunner_storage::{FsBlobStore, SledStore};

#[path = "support/tmpfs.rs"]
mod tmpfs;

use tmpfs::{Tmpfs, fill};

fn series(n: usize) -> SeriesRecord {
    SeriesRecord {
        id: SeriesId::generate(),
        title: format!("series {n}"),
        content: json!({"world": "w".repeat(100_000)}),
        revision: 1,
        created_at: now_ms(),
        updated_at: now_ms(),
        owner: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_file_system_fails_writes_cleanly_and_they_resume_once_space_is_freed() {
    let Some(fs) = Tmpfs::mount(20) else { return };
    let root = fs.path();
    let filler = root.join("filler");
    let store = SledStore::open(root.join("store")).expect("open");
    let blobs = FsBlobStore::open(root.join("blobs")).expect("blobs");
    fill(&filler, 8 << 20);

    let mut written = Vec::new();
    let refusal = loop {
        let record = series(written.len());
        match store.put_series(&record, None).await {
            Ok(()) => written.push(record.id),
            Err(e) => break e,
        }
        assert!(written.len() < 1000, "the disk never filled");
    };
    assert!(matches!(refusal, StoreError::Full { .. }), "{refusal}");
    assert!(written.len() >= 5, "{} written first", written.len());
    let blob = blobs.put(vec![9; 1 << 20]).await;
    assert!(matches!(blob, Err(StoreError::Full { .. })), "{blob:?}");
    // Everything acknowledged reads back.
    assert_eq!(store.all_series().expect("read").len(), written.len());

    // Space freed: writes go through again.
    std::fs::remove_file(&filler).expect("free");
    let record = series(written.len());
    store
        .put_series(&record, None)
        .await
        .expect("a write once space is freed");
    written.push(record.id);
    blobs.put(vec![9; 1 << 20]).await.expect("a blob once space is freed");
    drop(store);

    // Opens again with little room, with everything acknowledged.
    fill(&filler, 3 << 20);
    let store = SledStore::open(root.join("store")).expect("opens with 3 MB free");
    assert_eq!(store.all_series().expect("read").len(), written.len());
}
