//! The PostgreSQL store's tests: the `Store` conformance suite over a real PostgreSQL started
//! for the test, and what is its own (processes sharing one database).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use showrunner_engine::{
    Claim, EpisodeId, EpisodeStatus, EventWatch, SeriesId, SeriesRecord, Store, StoreError, now_ms,
};

use super::PgStore;
use super::cluster::PgCluster;
use crate::conformance::{self, Harness, commit};

/// A fresh database on the test's cluster.
fn database(cluster: &PgCluster) -> (String, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("showrunner_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let url = cluster.create_database(&name).expect("a database");
    (name, url)
}

/// One database, opened as often as the suite asks.
struct OnServer<'a> {
    cluster: &'a PgCluster,
    name: String,
    url: String,
}

impl Harness for OnServer<'_> {
    fn open(&self) -> Result<Arc<dyn Store>, StoreError> {
        Ok(Arc::new(PgStore::open(&self.url)?))
    }

    fn corrupt_header(&self, episode: EpisodeId) {
        self.cluster
            .psql(
                &self.name,
                &format!("UPDATE episodes SET header = '\\x7b6e6f74' WHERE id = '{episode}'"),
            )
            .expect("corrupt the header");
    }

    fn mark_newer_format(&self) {
        self.cluster
            .psql(
                &self.name,
                &format!("INSERT INTO showrunner_schema VALUES ({})", super::SCHEMA_VERSION + 1),
            )
            .expect("mark a newer schema");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_conforms() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (name, url) = database(&cluster);
    conformance::run(&OnServer {
        cluster: &cluster,
        name,
        url,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_database_see_each_others_commits_and_a_bad_url_is_named() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let (a, b) = (
        PgStore::open(&url).expect("open"),
        PgStore::open(&url).expect("open again"),
    );
    let id = EpisodeId::generate();
    a.commit(commit(id, EpisodeStatus::Active, 1)).await.expect("commit");
    b.commit(commit(id, EpisodeStatus::Paused, 2)).await.expect("commit");
    let seen = a.load_episode(id).expect("load").expect("the episode");
    assert_eq!(seen.header.status, EpisodeStatus::Paused);
    assert_eq!(seen.header.next_seq, 3);
    assert_eq!(b.events(id, 1, 10).expect("events").len(), 2);
    match PgStore::open("postgres://postgres@127.0.0.1:1/nothing") {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("connecting to PostgreSQL"), "{message}"),
        other => panic!("a server that is not there: {other:?}"),
    }
    match PgStore::open("not a url at all ::") {
        Err(StoreError::Backend(message)) => assert!(message.contains("does not parse"), "{message}"),
        other => panic!("a malformed URL: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_replacing_one_series_from_one_revision_write_one_of_them() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let (a, b) = (
        PgStore::open(&url).expect("open"),
        PgStore::open(&url).expect("open again"),
    );
    let first = SeriesRecord {
        id: SeriesId::generate(),
        title: "Harbour Lights".into(),
        content: serde_json::json!({}),
        revision: 1,
        created_at: now_ms(),
        updated_at: now_ms(),
        owner: None,
    };
    a.put_series(&first, None).await.expect("put");
    for revision in 1..=20 {
        let by = |who: &str| SeriesRecord {
            title: format!("{who} {revision}"),
            revision: revision + 1,
            ..first.clone()
        };
        let (from_a, from_b) = (by("a"), by("b"));
        let (wrote_a, wrote_b) = tokio::join!(a.replace_series(&from_a, revision), b.replace_series(&from_b, revision));
        let (wrote_a, wrote_b) = (wrote_a.expect("a's write"), wrote_b.expect("b's write"));
        assert!(
            wrote_a ^ wrote_b,
            "round {revision}: a wrote {wrote_a}, b wrote {wrote_b}"
        );
        let stored = b.series(first.id).expect("read").expect("the series");
        assert_eq!(stored, if wrote_a { from_a } else { from_b });
    }
}

/// Whether `watch` changes within `within`.
async fn changes(watch: &mut EventWatch, within: Duration) -> bool {
    tokio::time::timeout(within, watch.changed()).await.is_ok_and(|fed| fed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_hears_of_the_events_another_commits_and_of_deletions_across_a_server_restart() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let (a, b) = (
        PgStore::open(&url).expect("open"),
        PgStore::open(&url).expect("open again"),
    );
    let (id, other) = (EpisodeId::generate(), EpisodeId::generate());
    let feed = a.event_feed().expect("a store several processes share has a feed");
    let mut watch = feed.watch(id);
    // The listener wakes every watch once it listens (what it missed before, it cannot tell).
    assert!(
        changes(&mut watch, Duration::from_secs(10)).await,
        "the listener never listened"
    );
    while changes(&mut watch, Duration::from_millis(300)).await {}
    b.commit(commit(other, EpisodeStatus::Active, 1)).await.expect("commit");
    assert!(
        !changes(&mut watch, Duration::from_millis(500)).await,
        "another episode's commit woke the watch"
    );
    b.commit(commit(id, EpisodeStatus::Active, 1)).await.expect("commit");
    assert!(
        changes(&mut watch, Duration::from_secs(5)).await,
        "the commit was not heard of"
    );
    b.delete_episode(id).await.expect("delete");
    assert!(
        changes(&mut watch, Duration::from_secs(5)).await,
        "the deletion was not heard of"
    );
    // Through a restart: the listener connects again and wakes the watches; then hears again.
    cluster.restart().expect("restart PostgreSQL");
    assert!(
        changes(&mut watch, Duration::from_secs(30)).await,
        "the listener did not come back"
    );
    while changes(&mut watch, Duration::from_millis(300)).await {}
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while b.commit(commit(id, EpisodeStatus::Active, 1)).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "the store never wrote again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        changes(&mut watch, Duration::from_secs(5)).await,
        "a commit after the restart was not heard of"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_waiting_together_land_together_and_a_bad_one_fails_alone() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let store = Arc::new(PgStore::open(&url).expect("open"));
    let ids: Vec<EpisodeId> = (0..64).map(|_| EpisodeId::generate()).collect();
    let mut commits = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let mut c = commit(id, EpisodeStatus::Active, 1);
        if i == 17 {
            // A header of another episode: refused, and only this commit.
            if let Some(header) = c.header.as_mut() {
                header.id = EpisodeId::generate();
            }
        }
        let store = store.clone();
        commits.push(tokio::spawn(async move { store.commit(c).await }));
    }
    for (i, done) in commits.into_iter().enumerate() {
        let result = done.await.expect("a commit task");
        assert_eq!(result.is_err(), i == 17, "commit {i}: {result:?}");
    }
    let active = store.episodes_with_status(EpisodeStatus::Active).expect("index");
    assert_eq!(active.len(), 63);
    assert!(!active.contains(&ids[17]));
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| *i != 17) {
        let loaded = store
            .load_episode(*id)
            .expect("load")
            .unwrap_or_else(|| panic!("episode {i}"));
        assert_eq!(loaded.instances.len(), 1);
        assert_eq!(store.events(*id, 0, 10).expect("events").len(), 1);
    }
}

/// A commit of `id` under `claim`.
fn claimed(id: EpisodeId, status: EpisodeStatus, seq: u64, claim: Claim) -> showrunner_engine::Commit {
    let mut c = commit(id, status, seq);
    c.claim = claim;
    c
}

/// A short lease, for the tests.
const LEASE: Duration = Duration::from_millis(600);

/// Stops a member renewing, as if it were paused, and waits its lease out.
async fn silence(store: &PgStore) {
    if let Some(keeper) = &store._keeper {
        keeper.abort();
    }
    tokio::time::sleep(LEASE + Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_writes_an_episode_at_a_time_and_one_that_lost_it_never_commits_again() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let a = PgStore::open_member(&url, LEASE).expect("the first engine");
    let b = PgStore::open_member(&url, LEASE).expect("the second engine");
    let id = EpisodeId::generate();
    let mine = a.claim(id).await.expect("a claims a new episode");
    a.commit(claimed(id, EpisodeStatus::Active, 1, mine))
        .await
        .expect("a commit under the claim");
    assert_eq!(a.claim(id).await.expect("a claims it again"), Claim(mine.0 + 1));
    let mine = Claim(mine.0 + 1);
    match b.claim(id).await {
        Err(StoreError::Elsewhere { episode, url: None }) => assert_eq!(episode, id),
        other => panic!("a claim of an episode a live process holds: {other:?}"),
    }
    a.advertise("http://a.example:8080").await.expect("advertise");
    match b.claim(id).await {
        Err(StoreError::Elsewhere { url, .. }) => assert_eq!(url.as_deref(), Some("http://a.example:8080")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        b.commit(claimed(id, EpisodeStatus::Paused, 2, Claim(0))).await,
        Err(StoreError::Elsewhere { .. })
    ));
    assert!(matches!(b.delete_episode(id).await, Err(StoreError::Elsewhere { .. })));
    // Work a holds is not b's to pick up while a lives.
    let busy = EpisodeId::generate();
    let claim = a.claim(busy).await.expect("claim");
    let mut with_work = claimed(busy, EpisodeStatus::Active, 1, claim);
    with_work.runnable = Some(true);
    a.commit(with_work).await.expect("commit");
    assert!(!b.unheld_work().expect("unheld").contains(&busy));
    assert!(!a.hold_lapsed());

    // a falls silent past its lease: b takes the episode over, and a's commits under its old
    // claim are refused, in the same group as commits of its own that still hold.
    silence(&a).await;
    assert!(a.hold_lapsed(), "a knows its hold lapsed");
    assert!(
        b.unheld_work().expect("unheld").contains(&busy),
        "a's work is up for taking"
    );
    let theirs = b.claim(id).await.expect("b takes the episode over");
    assert!(theirs.0 > mine.0);
    let other = EpisodeId::generate();
    let other_claim = b.claim(other).await.expect("claim");
    let (refused, fine) = tokio::join!(
        a.commit(claimed(id, EpisodeStatus::Completed, 2, mine)),
        a.commit(claimed(other, EpisodeStatus::Active, 1, other_claim)),
    );
    assert!(matches!(refused, Err(StoreError::Elsewhere { .. })), "{refused:?}");
    // A claim is the process's: a's store cannot write under b's claim either.
    assert!(matches!(fine, Err(StoreError::Elsewhere { .. })), "{fine:?}");
    assert_eq!(
        b.load_header(id).expect("load").map(|h| h.status),
        Some(EpisodeStatus::Active),
        "the refused write left nothing"
    );
    b.commit(claimed(id, EpisodeStatus::Completed, 2, theirs))
        .await
        .expect("b writes");
    assert!(matches!(a.delete_episode(id).await, Err(StoreError::Elsewhere { .. })));
    b.delete_episode(id).await.expect("the holder deletes");
    assert!(b.load_header(id).expect("load").is_none());
    let members = b.members().expect("members");
    assert_eq!(members.len(), 2);
    assert!(
        members.iter().any(|m| m.silent_for > LEASE.as_secs_f64()),
        "{members:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_writes_again_after_the_server_restarts() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (_, url) = database(&cluster);
    let store = PgStore::open_member(&url, LEASE).expect("the engine");
    let id = EpisodeId::generate();
    let claim = store.claim(id).await.expect("claim");
    store
        .commit(claimed(id, EpisodeStatus::Active, 1, claim))
        .await
        .expect("a commit");
    cluster.restart().expect("restart PostgreSQL");
    // Writes go through again once the server answers, under the same claim: no other process
    // took the episode meanwhile.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store
        .commit(claimed(id, EpisodeStatus::Active, 2, claim))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "the engine never wrote again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And it renews its lease again.
    tokio::time::sleep(LEASE).await;
    assert!(!store.hold_lapsed());
    // A process restarted on the same address frees its predecessor's episodes at once.
    store.advertise("http://127.0.0.1:9").await.expect("advertise");
    let restarted = PgStore::open_member(&url, Duration::from_secs(60)).expect("a restart");
    assert!(matches!(restarted.claim(id).await, Err(StoreError::Elsewhere { .. })));
    restarted.advertise("http://127.0.0.1:9").await.expect("advertise");
    restarted.claim(id).await.expect("the predecessor's episode, at once");
    assert!(matches!(
        PgStore::open_member(&url, Duration::from_millis(10)),
        Err(StoreError::Backend(message)) if message.contains("too short")
    ));
}

mod run_queue;
