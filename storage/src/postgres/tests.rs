//! The PostgreSQL store's tests: the `Store` conformance suite over a real PostgreSQL started
//! for the test, and what is its own (processes sharing one database).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use showrunner_engine::{EpisodeId, EpisodeStatus, Store, StoreError};

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
        Err(StoreError::Backend(message)) => assert!(message.contains("connecting to PostgreSQL"), "{message}"),
        other => panic!("a server that is not there: {other:?}"),
    }
    match PgStore::open("not a url at all ::") {
        Err(StoreError::Backend(message)) => assert!(message.contains("does not parse"), "{message}"),
        other => panic!("a malformed URL: {other:?}"),
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_that_lost_the_database_never_writes_again_and_a_standby_takes_over() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (name, url) = database(&cluster);
    let old = PgStore::open_exclusive(&url).expect("the first engine");
    let first = EpisodeId::generate();
    old.commit(commit(first, EpisodeStatus::Active, 1))
        .await
        .expect("a commit while it holds the database");
    match PgStore::open_exclusive(&url) {
        Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("a second engine: {other:?}"),
    }
    // The first engine's lock connection is cut (a partition, a pause past a restart): the
    // engine waiting for the database (queued on the lock, so it is granted before the first
    // one could take it again) takes it over, and the first one's writes are refused from then
    // on.
    let waiting = std::thread::spawn({
        let url = url.clone();
        move || PgStore::open_when_free(&url)
    });
    cluster
        .wait_for_lock_waiter(&name)
        .expect("the new engine queued on the lock");
    cluster
        .psql(
            &name,
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted",
        )
        .expect("cut the lock's connection");
    let new = waiting
        .join()
        .expect("the waiting engine's thread")
        .expect("it takes over");
    match old.commit(commit(first, EpisodeStatus::Completed, 2)).await {
        Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("a write of the engine that lost the database: {other:?}"),
    }
    let upload = showrunner_engine::UploadRecord {
        blob: showrunner_engine::ContentHash::of(b"x"),
        created_at: 1,
        owner: None,
    };
    assert!(matches!(old.put_upload(&upload).await, Err(StoreError::InUse { .. })));
    assert!(matches!(old.delete_episode(first).await, Err(StoreError::InUse { .. })));
    assert!(
        matches!(old.writable(), Err(StoreError::InUse { .. })),
        "the old engine knows"
    );
    assert!(new.writable().is_ok());
    let seen = new.load_episode(first).expect("load").expect("the episode");
    assert_eq!(
        seen.header.status,
        EpisodeStatus::Active,
        "the refused write left nothing"
    );
    new.commit(commit(first, EpisodeStatus::Completed, 2))
        .await
        .expect("the new engine writes");

    // A standby waits while the new engine holds the database, and takes over when it ends.
    let standby = std::thread::spawn({
        let url = url.clone();
        move || PgStore::open_when_free(&url)
    });
    cluster
        .wait_for_lock_waiter(&name)
        .expect("the standby queued on the lock");
    assert!(!standby.is_finished(), "the standby waits");
    drop(new);
    let standby = standby
        .join()
        .expect("the standby's thread")
        .expect("the standby takes over");
    standby
        .commit(commit(first, EpisodeStatus::Completed, 3))
        .await
        .expect("the standby writes");
    assert!(matches!(
        old.commit(commit(first, EpisodeStatus::Active, 4)).await,
        Err(StoreError::InUse { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_is_held_again_after_the_server_restarts() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (name, url) = database(&cluster);
    let store = PgStore::open_exclusive(&url).expect("the engine");
    let id = EpisodeId::generate();
    store
        .commit(commit(id, EpisodeStatus::Active, 1))
        .await
        .expect("a commit");
    cluster.restart().expect("restart PostgreSQL");
    // Writes go through again once the server answers; the lock is taken again meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let held = cluster
            .psql(
                &name,
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted",
            )
            .map(|n| n.trim() == "1")
            .unwrap_or(false);
        if held && store.commit(commit(id, EpisodeStatus::Active, 2)).await.is_ok() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the engine never held the database again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    match PgStore::open_exclusive(&url) {
        Err(StoreError::InUse { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
        other => panic!("a second engine after the restart: {other:?}"),
    }
    store
        .commit(commit(id, EpisodeStatus::Completed, 3))
        .await
        .expect("still the holder");
    assert_eq!(
        store.load_header(id).expect("load").map(|h| h.status),
        Some(EpisodeStatus::Completed)
    );
}
