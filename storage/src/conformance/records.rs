//! The records beside episodes: series, uploads and idempotency records.

use serde_json::json;
use showrunner_engine::{
    ContentHash, EpisodeId, EpisodeStatus, IdempotencyRecord, Outcome, RequestFingerprint, SeriesId, SeriesRecord,
    UploadRecord, now_ms,
};

use super::{Harness, commit, open};

fn series(title: &str, owner: Option<&str>) -> SeriesRecord {
    SeriesRecord {
        id: SeriesId::generate(),
        title: title.into(),
        content: json!({"bible": {"world": "a port town"}}),
        revision: 1,
        created_at: now_ms(),
        updated_at: now_ms(),
        owner: owner.map(Into::into),
    }
}

fn once(key: &str, outcome: Outcome) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.into(),
        fingerprint: RequestFingerprint {
            method: "POST".into(),
            path: format!("/api/v1/{key}"),
            body_hash: "00".into(),
        },
        at: now_ms(),
        outcome,
    }
}

/// Series: put, listed in id order, read, deleted, and there after reopening.
pub(super) async fn series_round_trip_and_survive_reopening(harness: &dyn Harness) {
    let (a, b) = (series("Harbour Lights", None), series("Second", Some("ana")));
    {
        let store = open(harness);
        store.put_series(&a, None).await.expect("put a");
        store.put_series(&b, None).await.expect("put b");
    }
    let store = open(harness);
    let all = store.all_series().expect("all");
    let ours: Vec<_> = all.iter().filter(|s| s.id == a.id || s.id == b.id).cloned().collect();
    let mut both = vec![a.clone(), b.clone()];
    both.sort_by_key(|s| s.id);
    assert_eq!(ours, both, "in id order");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "the listing is in id order");
    // A replacement goes through only over the revision it was made from.
    let next = SeriesRecord {
        title: "Harbour Lights, revised".into(),
        revision: a.revision + 1,
        ..a.clone()
    };
    assert!(
        !store.replace_series(&next, a.revision + 1).await.expect("replace"),
        "a stale revision"
    );
    assert_eq!(store.series(a.id).expect("read"), Some(a.clone()), "unchanged");
    assert!(store.replace_series(&next, a.revision).await.expect("replace"));
    assert_eq!(store.series(a.id).expect("read"), Some(next.clone()));
    assert!(
        !store.replace_series(&next, a.revision).await.expect("replace"),
        "written twice"
    );
    store.delete_series(a.id).await.expect("delete");
    assert!(
        !store.replace_series(&next, next.revision).await.expect("replace"),
        "a deleted series"
    );
    assert_eq!(store.series(a.id).expect("read"), None);
    assert_eq!(store.series(b.id).expect("read"), Some(b.clone()));
    store.delete_series(b.id).await.expect("delete");
}

/// Uploads: listed, found by their blob (one record per owner), deleted one at a time.
pub(super) async fn uploads_are_listed_by_blob_and_deleted_one_by_one(harness: &dyn Harness) {
    let blob = ContentHash::of(b"an upload");
    let other = ContentHash::of(b"another upload");
    let record = |blob, owner: Option<&str>| UploadRecord {
        blob,
        created_at: now_ms(),
        owner: owner.map(Into::into),
    };
    let (ana, ben, lone) = (
        record(blob, Some("ana")),
        record(blob, Some("ben")),
        record(other, None),
    );
    {
        let store = open(harness);
        for upload in [&ana, &ben, &lone] {
            store.put_upload(upload).await.expect("put");
        }
    }
    let store = open(harness);
    let mut of_blob = store.uploads_of(blob).expect("by blob");
    of_blob.sort_by(|x, y| x.owner.cmp(&y.owner));
    assert_eq!(of_blob, vec![ana.clone(), ben.clone()]);
    assert_eq!(store.uploads_of(other).expect("by blob"), vec![lone.clone()]);
    assert!(store.uploads().expect("all").len() >= 3);
    store.delete_upload(&ana).await.expect("delete");
    assert_eq!(store.uploads_of(blob).expect("by blob"), vec![ben.clone()]);
    store.delete_upload(&ben).await.expect("delete");
    store.delete_upload(&lone).await.expect("delete");
    assert!(store.uploads_of(blob).expect("by blob").is_empty());
}

/// Idempotency records stored in the commit of their action: readable right after the answer
/// and after reopening, and no episode made of them.
pub(super) async fn idempotency_records_land_with_their_write(harness: &dyn Harness) {
    let id = EpisodeId::generate();
    let key = format!("approve-{id}");
    let series_key = format!("series-{id}");
    let (approved, created) = {
        let store = open(harness);
        assert_eq!(store.idempotency(&key).expect("read"), None);
        let mut c = commit(id, EpisodeStatus::Active, 1);
        let record = c.instances[0].clone();
        let approved = once(&key, Outcome::Instance { episode: id, record });
        c.idempotency.push(approved.clone());
        store.commit(c).await.expect("commit");
        assert_eq!(store.idempotency(&key).expect("read"), Some(approved.clone()));
        let made = series("Harbour Lights", None);
        let created = once(&series_key, Outcome::Series { record: made.clone() });
        store.put_series(&made, Some(&created)).await.expect("put");
        (approved, created)
    };
    let store = open(harness);
    assert_eq!(store.idempotency(&key).expect("read"), Some(approved));
    assert_eq!(store.idempotency(&series_key).expect("read"), Some(created));
    assert_eq!(store.idempotency("never-used").expect("read"), None);
    store.delete_episode(id).await.expect("delete");
}
