//! The sled store's tests: the `Store` conformance suite over a sled store on disk, and what is
//! sled's own (the status index on a fresh store, values beside or apart from their metadata,
//! shared flushes, journal replay after a crash, idempotency records).

use std::sync::Arc;

use serde_json::json;
use showrunner_engine::{EventKind, NewVersion, now_ms};

use super::*;
use crate::conformance::{self, Harness, commit, version};
use crate::keys::{FORMAT, HEADER};

/// The sled store over one directory, opened as often as the suite asks.
struct OnDisk(tempfile::TempDir);

impl OnDisk {
    /// sled's tree, opened directly while the store is closed.
    fn raw(&self, write: impl FnOnce(&sled::Tree)) {
        let path = self.0.path();
        let db = sled::Config::new()
            .path(path)
            .segment_size(segment_size(path))
            .open()
            .expect("sled");
        let tree = db.open_tree("showrunner").expect("the tree");
        write(&tree);
        db.flush().expect("flush");
    }
}

impl Harness for OnDisk {
    fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(Arc::new(SledStore::open(self.0.path())?))
    }

    fn corrupt_header(&self, episode: EpisodeId) {
        self.raw(|tree| {
            tree.insert(episode_key(HEADER, episode), b"{not json".to_vec())
                .expect("insert");
        });
    }

    fn mark_newer_format(&self) {
        self.raw(|tree| {
            tree.insert(FORMAT, (FORMAT_VERSION + 1).to_string().as_bytes())
                .expect("insert");
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sled_store_conforms() {
    conformance::run(&OnDisk(tempfile::tempdir().expect("tempdir"))).await;
}

#[tokio::test]
async fn commits_round_trip_and_the_status_index_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("open");
    let id = EpisodeId::generate();
    store
        .commit(commit(id, EpisodeStatus::Active, 1))
        .await
        .expect("commit");
    assert_eq!(
        store.episodes_with_status(EpisodeStatus::Active).expect("index"),
        vec![id]
    );
    store
        .commit(commit(id, EpisodeStatus::Completed, 2))
        .await
        .expect("commit");
    assert!(
        store
            .episodes_with_status(EpisodeStatus::Active)
            .expect("index")
            .is_empty()
    );
    assert_eq!(
        store.episodes_with_status(EpisodeStatus::Completed).expect("index"),
        vec![id]
    );

    let loaded = store.load_episode(id).expect("load").expect("exists");
    assert_eq!(loaded.header.next_seq, 3);
    assert_eq!(
        loaded.instances.len(),
        1,
        "one snapshot record per instance, replaced in place"
    );
    let events = store.events(id, 1, 10).expect("events");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(store.events(id, 2, 10).expect("events").len(), 1);
    assert_eq!(
        store
            .version_value(id, &InstanceKey::item("shots", "s1"), 2)
            .expect("value"),
        json!({"take": 2})
    );
    assert!(matches!(
        store.version_value(id, &InstanceKey::single("nope"), 1),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.load_episodes(&[EpisodeStatus::Active]).expect("load").len(), 0);
    assert_eq!(store.load_episodes(&[]).expect("load").len(), 1);

    store.delete_episode(id).await.expect("delete");
    assert!(store.load_episode(id).expect("load").is_none());
    assert!(store.episodes_with_work().expect("work").is_empty());
    assert!(store.events(id, 1, 10).expect("events").is_empty());
    assert!(
        store
            .episodes_with_status(EpisodeStatus::Completed)
            .expect("index")
            .is_empty()
    );
    assert!(matches!(store.delete_episode(id).await, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn small_values_ride_with_their_metadata_large_ones_and_format_2_values_stand_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("open");
    let id = EpisodeId::generate();
    let key = InstanceKey::item("shots", "s1");
    let large = json!({"text": "x".repeat(2 * INLINE_VALUE)});
    let mut c = commit(id, EpisodeStatus::Active, 1);
    c.versions.push(NewVersion {
        key: key.clone(),
        meta: version(2),
        value: Arc::new(large.clone()),
    });
    c.instances[0].current = Some(2);
    store.commit(c).await.expect("commit");
    let tree = store.settled();
    assert!(
        tree.get(value_key(id, &key, 1)).expect("read").is_none(),
        "small: inline"
    );
    assert!(
        tree.get(value_key(id, &key, 2)).expect("read").is_some(),
        "large: own key"
    );
    // A version written by format 2: plain metadata, the value under its own key.
    tree.insert(meta_key(id, &key, 3), encode(&version(3)).expect("encode"))
        .expect("write");
    tree.insert(value_key(id, &key, 3), encode(&json!("old layout")).expect("encode"))
        .expect("write");
    assert_eq!(store.version_value(id, &key, 1).expect("inline"), json!({"take": 1}));
    assert_eq!(store.version_value(id, &key, 2).expect("own key"), large);
    assert_eq!(store.version_value(id, &key, 3).expect("format 2"), json!("old layout"));
    let loaded = store.load_episode(id).expect("load").expect("exists");
    let ns: Vec<u32> = loaded.instances[0].versions.iter().map(|v| v.n).collect();
    assert_eq!(ns, vec![1, 2, 3], "metadata decodes in both layouts");
    store.delete_episode(id).await.expect("delete");
    assert_eq!(store.settled().scan_prefix(episode_key(VALUE, id)).count(), 0);
    assert_eq!(store.settled().scan_prefix(episode_key(META, id)).count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_flushes_and_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<EpisodeId> = (0..200).map(|_| EpisodeId::generate()).collect();
    {
        let store = Arc::new(SledStore::open(dir.path()).expect("open"));
        let tasks: Vec<_> = ids
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move { store.commit(commit(id, EpisodeStatus::Active, 1)).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("commit");
        }
        let stats = store.stats();
        assert_eq!(stats.commits, 200);
        assert!(stats.flushes < 200, "flushes are shared: {stats:?}");
    }
    // Everything acknowledged is there after reopening.
    let store = SledStore::open(dir.path()).expect("reopen");
    let loaded = store.load_episodes(&[]).expect("load");
    assert_eq!(loaded.len(), 200);
    assert!(loaded.iter().all(Result::is_ok));
}

#[tokio::test]
async fn journal_records_left_by_a_crash_are_applied_on_open() {
    let dir = tempfile::tempdir().expect("a tempdir");
    let id = EpisodeId::generate();
    drop(SledStore::open(dir.path()).expect("the store"));
    // A record that was synced to the journal but never reached sled's files: what a crash
    // between the two leaves.
    let event = Event {
        episode: id,
        seq: 1,
        at: now_ms(),
        kind: EventKind::EpisodeCompleted,
    };
    {
        let (mut journal, records) = Journal::open(&dir.path().join("journal")).expect("the journal");
        assert!(records.is_empty(), "a clean close leaves the journal empty");
        let ops = vec![(event_key(id, 1), Some(encode(&event).expect("encode")))];
        journal.append(&ops).expect("append");
    }
    let store = SledStore::open(dir.path()).expect("reopened");
    assert_eq!(store.events(id, 1, 10).expect("events"), vec![event.clone()]);
    drop(store);
    let (_, records) = Journal::open(&dir.path().join("journal")).expect("the journal");
    assert!(records.is_empty(), "the replay was checkpointed");
    let store = SledStore::open(dir.path()).expect("reopened again");
    assert_eq!(store.events(id, 1, 10).expect("events"), vec![event]);
}

#[tokio::test]
async fn idempotency_records_land_with_their_write_and_survive_reopening() {
    use showrunner_engine::{IdempotencyRecord, Outcome, RequestFingerprint};

    let dir = tempfile::tempdir().expect("a tempdir");
    let id = EpisodeId::generate();
    let once = |key: &str, outcome| IdempotencyRecord {
        key: key.into(),
        fingerprint: RequestFingerprint {
            method: "POST".into(),
            path: format!("/api/v1/{key}"),
            body_hash: "00".into(),
        },
        at: now_ms(),
        outcome,
    };
    let (approved, created) = {
        let store = SledStore::open(dir.path()).expect("the store");
        assert_eq!(store.idempotency("approve").expect("read"), None);
        let mut c = commit(id, EpisodeStatus::Active, 1);
        let record = c.instances[0].clone();
        let approved = once("approve", Outcome::Instance { episode: id, record });
        c.idempotency.push(approved.clone());
        store.commit(c).await.expect("commit");
        // A read right after the answer sees it, as it sees the commit.
        assert_eq!(store.idempotency("approve").expect("read"), Some(approved.clone()));
        let series = SeriesRecord {
            id: SeriesId::generate(),
            title: "Harbour Lights".into(),
            content: json!({}),
            revision: 1,
            created_at: now_ms(),
            updated_at: now_ms(),
            owner: None,
        };
        let created = once("series", Outcome::Series { record: series.clone() });
        store.put_series(&series, Some(&created)).await.expect("put");
        (approved, created)
    };
    let store = SledStore::open(dir.path()).expect("the reopened store");
    assert_eq!(store.idempotency("approve").expect("read"), Some(approved));
    assert_eq!(store.idempotency("series").expect("read"), Some(created));
    assert_eq!(store.idempotency("other").expect("read"), None);
    assert_eq!(
        store.load_episodes(&[]).expect("load").len(),
        1,
        "no episode made of a key"
    );
}
