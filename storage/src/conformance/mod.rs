//! The `Store` conformance suite: the behaviour every implementation of the engine's
//! [`Store`] must have, written once and run against each store of this crate (the sled store
//! in `sled_store/tests.rs`; a second store here, such as the PostgreSQL one to come, runs the
//! same [`run`] over its own [`Harness`]).
//!
//! What it holds a store to:
//! - a commit is atomic: all its records or none (a refused commit leaves nothing);
//! - events come back by sequence number, from any point, up to a limit;
//! - a read that follows an answered commit sees it, under concurrent commits;
//! - what was answered survives closing and reopening the store;
//! - pages of the status index list every episode once, newest first, from any cursor;
//! - the status index, the recovery listings (`episodes_with_work`, `definitions_in_use`,
//!   `summaries`) and the filters of `load_episodes` follow every commit and delete;
//! - series, uploads and idempotency records round-trip and survive reopening;
//! - a store written by a newer format is refused with [`StoreError::UnknownFormat`];
//! - a record that does not decode is reported as [`StoreError::Corrupt`] for its episode,
//!   without hiding the others.
//!
//! The checks panic with what was expected, as test assertions do.

mod fixtures;
mod records;

use std::sync::Arc;

use showrunner_engine::{EpisodeId, EpisodeStatus, InstanceKey, Store, StoreError};

pub(crate) use fixtures::{commit, header, version};

/// What the suite needs of a store implementation: the store, over the same data each time it
/// is opened, and two ways to reach under the trait.
pub(crate) trait Harness {
    /// Opens the store over the harness's data (the previous handle has been dropped).
    fn open(&self) -> Result<Arc<dyn Store>, StoreError>;
    /// With the store closed: makes the stored header of `episode` undecodable.
    fn corrupt_header(&self, episode: EpisodeId);
    /// With the store closed: marks the data as written by a newer format than this build's.
    fn mark_newer_format(&self);
}

/// Runs every check of the suite against stores opened by `harness`, in order; the format check
/// runs last, since it leaves the data unreadable to this build.
pub(crate) async fn run(harness: &dyn Harness) {
    commits_round_trip_and_the_status_index_follows(harness).await;
    a_refused_commit_writes_nothing(harness).await;
    events_come_back_by_sequence_number(harness).await;
    a_read_after_an_answered_commit_sees_it(harness).await;
    answered_commits_survive_reopening(harness).await;
    recovery_listings_follow_the_statuses(harness).await;
    pages_walk_the_status_index_newest_first(harness).await;
    records::series_round_trip_and_survive_reopening(harness).await;
    records::uploads_are_listed_by_blob_and_deleted_one_by_one(harness).await;
    records::idempotency_records_land_with_their_write(harness).await;
    a_corrupt_record_is_reported_for_its_episode(harness).await;
    a_newer_format_is_refused(harness).await;
}

fn open(harness: &dyn Harness) -> Arc<dyn Store> {
    harness.open().unwrap_or_else(|e| panic!("opening the store: {e}"))
}

/// Commits, the status index, loads, values and deletes.
async fn commits_round_trip_and_the_status_index_follows(harness: &dyn Harness) {
    let store = open(harness);
    let id = EpisodeId::generate();
    store
        .commit(commit(id, EpisodeStatus::Active, 1))
        .await
        .expect("commit");
    assert!(
        store
            .episodes_with_status(EpisodeStatus::Active)
            .expect("index")
            .contains(&id)
    );
    store
        .commit(commit(id, EpisodeStatus::Completed, 2))
        .await
        .expect("commit");
    assert!(
        !store
            .episodes_with_status(EpisodeStatus::Active)
            .expect("index")
            .contains(&id)
    );
    assert!(
        store
            .episodes_with_status(EpisodeStatus::Completed)
            .expect("index")
            .contains(&id)
    );

    let loaded = store.load_episode(id).expect("load").expect("the episode");
    assert_eq!(loaded.header.next_seq, 3);
    assert_eq!(
        loaded.instances.len(),
        1,
        "one snapshot per instance, replaced in place"
    );
    assert_eq!(
        store.load_header(id).expect("header").map(|h| h.status),
        Some(EpisodeStatus::Completed)
    );
    let key = InstanceKey::item("shots", "s1");
    assert_eq!(
        store.version_value(id, &key, 2).expect("value"),
        serde_json::json!({"take": 2})
    );
    assert_eq!(
        store.version_value(id, &key, 1).expect("value"),
        serde_json::json!({"take": 1})
    );
    assert!(matches!(
        store.version_value(id, &InstanceKey::single("nope"), 1),
        Err(StoreError::NotFound(_))
    ));

    store.delete_episode(id).await.expect("delete");
    assert!(store.load_episode(id).expect("load").is_none());
    assert!(store.events(id, 1, 10).expect("events").is_empty());
    assert!(
        !store
            .episodes_with_status(EpisodeStatus::Completed)
            .expect("index")
            .contains(&id)
    );
    assert!(matches!(store.delete_episode(id).await, Err(StoreError::NotFound(_))));
}

/// A commit whose header names another episode is refused whole.
async fn a_refused_commit_writes_nothing(harness: &dyn Harness) {
    let store = open(harness);
    let episodes = store.load_episodes(&[]).expect("load").len();
    let definitions = store.definitions_in_use().expect("definitions");
    let id = EpisodeId::generate();
    let mut c = commit(id, EpisodeStatus::Active, 1);
    let other = EpisodeId::generate();
    c.header = Some(header(other, EpisodeStatus::Active, 2));
    assert!(store.commit(c).await.is_err(), "a header of another episode is refused");
    assert!(
        store.load_episode(id).expect("load").is_none(),
        "nothing of it was written"
    );
    assert!(store.load_episode(other).expect("load").is_none());
    assert!(store.events(id, 1, 10).expect("events").is_empty());
    assert_eq!(
        store.load_episodes(&[]).expect("load").len(),
        episodes,
        "no episode at all"
    );
    assert_eq!(
        store.definitions_in_use().expect("definitions"),
        definitions,
        "no index entry"
    );
}

/// Events by sequence number: from any point, in order, up to the limit.
async fn events_come_back_by_sequence_number(harness: &dyn Harness) {
    let store = open(harness);
    let id = EpisodeId::generate();
    for seq in 1..=5 {
        store
            .commit(commit(id, EpisodeStatus::Active, seq))
            .await
            .expect("commit");
    }
    let seqs = |from, limit| -> Vec<u64> {
        store
            .events(id, from, limit)
            .expect("events")
            .iter()
            .map(|e| e.seq)
            .collect()
    };
    assert_eq!(seqs(1, 10), vec![1, 2, 3, 4, 5]);
    assert_eq!(seqs(3, 10), vec![3, 4, 5]);
    assert_eq!(seqs(2, 2), vec![2, 3]);
    assert!(seqs(6, 10).is_empty());
    assert!(store.events(EpisodeId::generate(), 1, 10).expect("events").is_empty());
}

/// Concurrent writers, each reading its own commit right after the answer.
async fn a_read_after_an_answered_commit_sees_it(harness: &dyn Harness) {
    let store = open(harness);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = EpisodeId::generate();
                for seq in 1..=40u64 {
                    store
                        .commit(commit(id, EpisodeStatus::Active, seq))
                        .await
                        .expect("commit");
                    assert_eq!(store.events(id, seq, 10).expect("events").len(), 1, "event {seq}");
                    let loaded = store.load_episode(id).expect("load").expect("the episode");
                    assert_eq!(loaded.instances[0].current, Some(seq as u32));
                    assert_eq!(
                        store
                            .version_value(id, &InstanceKey::item("shots", "s1"), seq as u32)
                            .expect("value"),
                        serde_json::json!({"take": seq})
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a writer");
    }
}

/// Everything answered is there after the store is closed and opened again.
async fn answered_commits_survive_reopening(harness: &dyn Harness) {
    let ids: Vec<EpisodeId> = (0..50).map(|_| EpisodeId::generate()).collect();
    {
        let store = open(harness);
        let tasks: Vec<_> = ids
            .iter()
            .map(|&id| {
                let store = store.clone();
                tokio::spawn(async move { store.commit(commit(id, EpisodeStatus::Paused, 1)).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("a writer").expect("commit");
        }
    }
    let store = open(harness);
    for id in &ids {
        let loaded = store.load_episode(*id).expect("load").expect("an answered episode");
        assert_eq!(loaded.header.status, EpisodeStatus::Paused);
        assert_eq!(store.events(*id, 1, 10).expect("events").len(), 1);
    }
    for id in ids {
        store.delete_episode(id).await.expect("delete");
    }
}

/// The listings recovery reads: unfinished episodes, the definitions they use, summaries, and
/// the filters of `load_episodes`.
async fn recovery_listings_follow_the_statuses(harness: &dyn Harness) {
    let store = open(harness);
    let before = store.load_episodes(&[]).expect("load").len();
    let unfinished = |store: &dyn Store| {
        store
            .definitions_in_use()
            .expect("definitions")
            .iter()
            .find(|u| u.workflow == fixtures::WORKFLOW && u.version == fixtures::DEFINITION)
            .map_or(0, |u| u.unfinished)
    };
    let unfinished_before = unfinished(store.as_ref());
    let (active, failed, done) = (EpisodeId::generate(), EpisodeId::generate(), EpisodeId::generate());
    store
        .commit(commit(active, EpisodeStatus::Active, 1))
        .await
        .expect("commit");
    store
        .commit(commit(failed, EpisodeStatus::Failed, 1))
        .await
        .expect("commit");
    store
        .commit(commit(done, EpisodeStatus::Completed, 1))
        .await
        .expect("commit");

    let work = store.episodes_with_work().expect("work");
    assert!(!work.contains(&active), "no commit said it has work");
    let mut runnable = commit(active, EpisodeStatus::Active, 2);
    runnable.runnable = Some(true);
    store.commit(runnable).await.expect("commit");
    assert!(
        store.episodes_with_work().expect("work").contains(&active),
        "its last commit said so"
    );
    let mut idle = commit(active, EpisodeStatus::Active, 3);
    idle.runnable = Some(false);
    store.commit(idle).await.expect("commit");
    assert!(
        !store.episodes_with_work().expect("work").contains(&active),
        "its last commit said not"
    );
    store
        .commit(commit(active, EpisodeStatus::Active, 4))
        .await
        .expect("commit");
    assert!(
        !store.episodes_with_work().expect("work").contains(&active),
        "a commit that says nothing changes nothing"
    );
    let mut runnable = commit(failed, EpisodeStatus::Failed, 2);
    runnable.runnable = Some(true);
    store.commit(runnable).await.expect("commit");
    assert_eq!(
        unfinished(store.as_ref()),
        unfinished_before + 2,
        "the active and the failed episode are unfinished, the completed one is not"
    );
    let summaries = store.summaries(&[EpisodeStatus::Failed]).expect("summaries");
    assert!(
        summaries
            .iter()
            .any(|s| matches!(s, Ok(s) if s.id == failed && s.workflow == fixtures::WORKFLOW)),
        "{summaries:?}"
    );
    assert!(
        !summaries
            .iter()
            .any(|s| matches!(s, Ok(s) if s.status != EpisodeStatus::Failed)),
        "a status filter keeps to its status"
    );
    let completed = store.load_episodes(&[EpisodeStatus::Completed]).expect("load");
    assert!(
        completed
            .iter()
            .all(|e| matches!(e, Ok(e) if e.header.status == EpisodeStatus::Completed))
    );
    assert_eq!(store.load_episodes(&[]).expect("load").len(), before + 3);

    for id in [active, failed, done] {
        store.delete_episode(id).await.expect("delete");
    }
    assert!(
        !store.episodes_with_work().expect("work").contains(&failed),
        "a deleted episode has none"
    );
    assert_eq!(
        unfinished(store.as_ref()),
        unfinished_before,
        "nor counts as unfinished"
    );
}

/// Paging through the status index, two at a time, gives what the whole index holds, newest
/// first, each episode once; a status filter keeps to its statuses.
async fn pages_walk_the_status_index_newest_first(harness: &dyn Harness) {
    let store = open(harness);
    let mut ours = Vec::new();
    for status in [EpisodeStatus::Active, EpisodeStatus::Paused, EpisodeStatus::Completed] {
        for _ in 0..3 {
            let id = EpisodeId::generate();
            store.commit(commit(id, status, 1)).await.expect("commit");
            ours.push(id);
        }
    }
    for statuses in [Vec::new(), vec![EpisodeStatus::Paused, EpisodeStatus::Completed]] {
        let listed = if statuses.is_empty() {
            EpisodeStatus::ALL.to_vec()
        } else {
            statuses.clone()
        };
        let mut all: Vec<EpisodeId> = Vec::new();
        for &status in &listed {
            all.extend(store.episodes_with_status(status).expect("index"));
        }
        all.sort_by(|a, b| b.cmp(a));
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = store.episodes_page(&statuses, before, 2).expect("a page");
            assert!(page.len() <= 2, "{page:?}");
            for (id, status) in &page {
                assert!(listed.contains(status), "{status:?} is not asked for");
                assert_eq!(store.load_header(*id).expect("header").map(|h| h.status), Some(*status));
            }
            paged.extend(page.iter().map(|(id, _)| *id));
            match page.last() {
                Some((last, _)) if page.len() == 2 => before = Some(*last),
                _ => break,
            }
        }
        assert_eq!(paged, all, "pages of {statuses:?}");
    }
    let cursor = ours[4];
    let after = store.episodes_page(&[], Some(cursor), 100).expect("a page");
    assert!(
        after.iter().all(|(id, _)| *id < cursor),
        "a cursor starts the page after it"
    );
    for id in ours {
        store.delete_episode(id).await.expect("delete");
    }
}

/// A header that does not decode: the load of that episode says so, the others load.
async fn a_corrupt_record_is_reported_for_its_episode(harness: &dyn Harness) {
    let (bad, good) = (EpisodeId::generate(), EpisodeId::generate());
    {
        let store = open(harness);
        store
            .commit(commit(bad, EpisodeStatus::Active, 1))
            .await
            .expect("commit");
        store
            .commit(commit(good, EpisodeStatus::Active, 1))
            .await
            .expect("commit");
    }
    harness.corrupt_header(bad);
    let store = open(harness);
    match store.load_episode(bad) {
        Err(StoreError::Corrupt { episode, .. }) => assert_eq!(episode, Some(bad)),
        other => panic!("a corrupt header loads as {other:?}"),
    }
    let loaded = store.load_episodes(&[]).expect("the listing itself works");
    assert!(loaded.iter().any(|e| matches!(e, Ok(e) if e.header.id == good)));
    assert!(
        loaded.iter().any(|e| matches!(e, Err(f) if f.episode == Some(bad))),
        "the corrupt episode is reported, not skipped"
    );
    store.delete_episode(good).await.expect("delete");
}

/// A store marked with a newer format is refused, saying which.
async fn a_newer_format_is_refused(harness: &dyn Harness) {
    drop(open(harness));
    harness.mark_newer_format();
    match harness.open() {
        Err(StoreError::UnknownFormat { found, .. }) => assert!(!found.is_empty()),
        Err(other) => panic!("a newer format is refused with {other}, not UnknownFormat"),
        Ok(_) => panic!("a store in a newer format opened"),
    }
}
