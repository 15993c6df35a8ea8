//! `showrunner --store postgres://… serve`: the episodes in a real PostgreSQL (started by the
//! test), an episode driven to its end across a SIGKILL of the server, a second engine on the
//! same database refused with the process that holds it, and `store copy | status | migrate`
//! moving an embedded store into PostgreSQL and serving it from there.

use std::time::Duration;

use serde_json::{Value, json};
use showrunner::storage::PgCluster;

use crate::retries::small_episode;
use crate::served::{Served, eventually, send};

/// The episode's instances waiting at a gate, as (path, version).
async fn gates(server: &Served, episode: &str) -> Option<(String, Vec<(String, Value)>)> {
    let shown = send(server.client.get(server.url(&format!("episodes/{episode}")))).await?;
    let data = shown.data();
    let status = data["status"].as_str()?.to_owned();
    let open = data["nodes"]
        .as_array()?
        .iter()
        .filter(|n| n["state"] == "awaiting_approval")
        .map(|n| {
            let path = match n["item"].as_str() {
                Some(item) => format!(
                    "episodes/{episode}/nodes/{}/items/{item}",
                    n["node"].as_str().unwrap_or("")
                ),
                None => format!("episodes/{episode}/nodes/{}", n["node"].as_str().unwrap_or("")),
            };
            (path, n["current_version"].clone())
        })
        .collect();
    Some((status, open))
}

/// Approves what waits until the episode completes, SIGKILLing and restarting the server (on
/// the PostgreSQL store at `url`, else the embedded one) after the first approval; gives the
/// server it ends on.
async fn drive_across_a_kill_on(
    mut server: Served,
    data: &std::path::Path,
    url: Option<&str>,
    episode: &str,
) -> Served {
    let mut killed = false;
    loop {
        let (status, open) = eventually(Duration::from_secs(60), "a gate or the end", || async {
            let (status, open) = gates(&server, episode).await?;
            (status != "active" || !open.is_empty()).then_some((status, open))
        })
        .await;
        if status == "completed" {
            return server;
        }
        assert_eq!(status, "active", "{open:?}");
        for (path, version) in open {
            let approved = send(
                server
                    .client
                    .post(server.url(&format!("{path}/approve")))
                    .json(&json!({ "version": version })),
            )
            .await
            .expect("an answer");
            assert!(
                approved.status == 200 || approved.status == 409,
                "{path}: {:?}",
                approved.body
            );
        }
        if !killed {
            server.kill();
            server = match url {
                Some(url) => Served::start_on(data, url, Some(&data.with_extension("log"))).await,
                None => Served::start(data, Some(&data.with_extension("log"))).await,
            };
            killed = true;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_on_postgres_survives_a_sigkill_and_one_engine_holds_the_database() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("served").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Served::start_on(&data, &url, Some(&data.with_extension("log"))).await;
    let made = send(
        server
            .client
            .post(server.url("episodes"))
            .json(&small_episode("a kite over the harbour")),
    )
    .await
    .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let episode = made.data()["id"].as_str().expect("an id").to_owned();

    // A second engine on the same database is refused, naming the server's process.
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(["--store", &url, "--data"])
        .arg(dir.path().join("other"))
        .args(["run", "--workflow", "idea2video", "--idea", "x", "--auto-approve"])
        .output()
        .expect("run a second engine");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("in use by process") && stderr.contains("/served"),
        "{stderr}"
    );

    let server = drive_across_a_kill_on(server, &data, Some(&url), &episode).await;
    let done = send(
        server
            .client
            .get(server.url(&format!("episodes/{episode}/nodes/final"))),
    )
    .await
    .expect("the final video");
    let video = done.data()["value"]["video"]
        .as_str()
        .expect("a video")
        .trim_start_matches("blob:")
        .to_owned();
    let fetched = server
        .client
        .get(server.url(&format!("episodes/{episode}/artifacts/{video}")))
        .send()
        .await
        .expect("the video");
    assert_eq!(fetched.status(), 200);
    assert!(fetched.bytes().await.expect("bytes").len() > 1000);
    // The episodes are in PostgreSQL, not in an embedded store beside the blobs.
    assert!(!data.join("store").exists(), "no sled store was made");
    let rows = cluster
        .psql("served", &format!("SELECT status FROM episodes WHERE id = '{episode}'"))
        .expect("psql");
    assert_eq!(rows.trim(), "completed");
}

/// `showrunner ARGS…` to its end: (success, stdout, stderr).
fn cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_showrunner"))
        .args(args)
        .output()
        .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_store_is_copied_into_postgres_checked_and_served_from_there() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("copied").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("a UTF-8 path");

    // On the embedded store: a series, a finished episode and one waiting at its first gate.
    let mut server = Served::start(&data, Some(&data.with_extension("log"))).await;
    let series = send(server.client.post(server.url("series")).json(&json!({
        "title": "Harbour Tales",
        "characters": [{ "name": "Mara", "role": "the keeper" }],
    })))
    .await
    .expect("a series");
    assert_eq!(series.status, 201, "{:?}", series.body);
    let mut ids = Vec::new();
    for idea in ["a kite over the harbour", "a lamp that will not light"] {
        let made = send(server.client.post(server.url("episodes")).json(&small_episode(idea)))
            .await
            .expect("an answer");
        assert_eq!(made.status, 201, "{:?}", made.body);
        ids.push(made.data()["id"].as_str().expect("an id").to_owned());
    }
    let (finished, waiting) = (ids[0].clone(), ids[1].clone());
    server = drive_across_a_kill_on(server, &data, None, &finished).await;
    eventually(Duration::from_secs(60), "the second at its gate", || async {
        let (_, open) = gates(&server, &waiting).await?;
        (!open.is_empty()).then_some(())
    })
    .await;
    server.kill();

    let (ok, out, err) = cli(&["store", "copy", "--from", data_arg, "--to", &url]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("copied 2 episodes (0 already there), 1 series"), "{out}");
    let (ok, out, err) = cli(&["store", "copy", "--from", data_arg, "--to", &url]);
    assert!(
        ok && out.contains("copied 0 episodes (2 already there)"),
        "copying again: {out}{err}"
    );
    let (ok, out, err) = cli(&["--store", &url, "store", "status"]);
    assert!(ok, "{err}");
    for line in [
        "completed episodes: 1",
        "active episodes: 1",
        "series: 1",
        "PostgreSQL, schema version",
    ] {
        assert!(out.contains(line), "{line}: {out}");
    }
    let (ok, out, _) = cli(&["--store", &url, "store", "migrate"]);
    assert!(ok && out.contains("schema version"), "{out}");
    let (ok, _, err) = cli(&[
        "store",
        "copy",
        "--from",
        dir.path().to_str().unwrap_or("."),
        "--to",
        &url,
    ]);
    assert!(!ok && err.contains("holds no embedded store"), "{err}");

    // Served from PostgreSQL: both there, the waiting one goes on to its video.
    let server = Served::start_on(&data, &url, Some(&data.with_extension("log"))).await;
    let listed = send(server.client.get(server.url("episodes"))).await.expect("the list");
    let listed: Vec<&str> = listed
        .data()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert!(
        listed.contains(&finished.as_str()) && listed.contains(&waiting.as_str()),
        "{listed:?}"
    );
    let server = drive_across_a_kill_on(server, &data, Some(&url), &waiting).await;
    let done = send(
        server
            .client
            .get(server.url(&format!("episodes/{waiting}/nodes/final"))),
    )
    .await
    .expect("the final video");
    assert!(done.data()["value"]["video"].is_string(), "{:?}", done.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_blob_directory_through_a_restart() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let (one, two) = (
        cluster.create_database("one").expect("a database"),
        cluster.create_database("two").expect("a database"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Two engines writing the same blobs into one directory at once; one of them killed and
    // restarted mid-run, its restart opening the directory while the other writes into it.
    // (They run on a database each because one database has one engine today; nothing here
    // collects garbage, which two databases sharing one blob store must not do.)
    let (a, b) = (
        Served::start_on(&data, &one, Some(&data.with_extension("log"))).await,
        Served::start_on(&data, &two, Some(&data.with_extension("log"))).await,
    );
    let mut episodes = Vec::new();
    for server in [&a, &b] {
        let made = send(
            server
                .client
                .post(server.url("episodes"))
                .json(&small_episode("a kite over the harbour")),
        )
        .await
        .expect("an answer");
        assert_eq!(made.status, 201, "{:?}", made.body);
        episodes.push(made.data()["id"].as_str().expect("an id").to_owned());
    }
    let (a, b) = tokio::join!(
        drive_across_a_kill_on(a, &data, Some(&one), &episodes[0]),
        drive_across_a_kill_on(b, &data, Some(&two), &episodes[1]),
    );
    for (server, episode) in [(&a, &episodes[0]), (&b, &episodes[1])] {
        let shown = send(server.client.get(server.url(&format!("episodes/{episode}"))))
            .await
            .expect("the episode");
        for node in shown.data()["nodes"].as_array().expect("nodes") {
            for hash in node["artifacts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let fetched = server
                    .client
                    .get(server.url(&format!("episodes/{episode}/artifacts/{hash}")))
                    .send()
                    .await
                    .expect("an artifact");
                assert_eq!(fetched.status(), 200, "{episode} {hash}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_serving_process_is_killed_and_the_episode_goes_on() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("failover").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = data.with_extension("log");
    let mut active = Served::start_on(&data, &url, Some(&log)).await;
    let made = send(
        active
            .client
            .post(active.url("episodes"))
            .json(&small_episode("a kite over the harbour")),
    )
    .await
    .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let episode = made.data()["id"].as_str().expect("an id").to_owned();
    let standby = tokio::spawn({
        let (data, url, log) = (data.clone(), url.clone(), log.clone());
        async move { Served::standby_on(&data, &url, Some(&log)).await }
    });
    cluster
        .wait_for_lock_waiter("failover")
        .expect("the standby queued on the lock");
    assert!(
        !standby.is_finished(),
        "the standby waits while the other process holds the database"
    );
    let outline = eventually(Duration::from_secs(60), "the outline at its gate", || async {
        let (_, open) = gates(&active, &episode).await?;
        open.into_iter().find(|(path, _)| path.ends_with("/nodes/outline"))
    })
    .await;
    let approved = send(
        active
            .client
            .post(active.url(&format!("{}/approve", outline.0)))
            .json(&json!({ "version": outline.1 })),
    )
    .await
    .expect("an answer");
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    let killed = std::time::Instant::now();
    active.kill();
    let standby = standby.await.expect("the standby");
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "took over in {:?}",
        killed.elapsed()
    );
    // The approval made on the killed process holds on the standby, which takes the episode on.
    let shown = send(
        standby
            .client
            .get(standby.url(&format!("episodes/{episode}/nodes/outline"))),
    )
    .await
    .expect("the outline");
    assert_eq!(shown.data()["state"], "approved", "{:?}", shown.body);
    let standby = drive_across_a_kill_on(standby, &data, Some(&url), &episode).await;
    let done = send(standby.client.get(standby.url(&format!("episodes/{episode}"))))
        .await
        .expect("the episode");
    assert_eq!(done.data()["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_lost_the_database_says_so_in_its_health_and_writes_nothing() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("fenced").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = data.with_extension("log");
    let old = Served::start_on(&data, &url, Some(&log)).await;
    // An episode of the old server's, waiting at its first gate.
    let made = send(old.client.post(old.url("episodes")).json(&small_episode("a lamp")))
        .await
        .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let episode = made.data()["id"].as_str().expect("an id").to_owned();
    let outline = eventually(Duration::from_secs(60), "the outline at its gate", || async {
        let (_, open) = gates(&old, &episode).await?;
        open.into_iter().find(|(path, _)| path.ends_with("/nodes/outline"))
    })
    .await;
    let standby = tokio::spawn({
        let (data, url, log) = (data.clone(), url.clone(), log.clone());
        async move { Served::standby_on(&data, &url, Some(&log)).await }
    });
    cluster
        .wait_for_lock_waiter("fenced")
        .expect("the standby queued on the lock");
    // The old server is cut off from the database's lock (as a partition would), but lives on.
    cluster
        .psql(
            "fenced",
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted",
        )
        .expect("cut the lock's connection");
    let new = standby.await.expect("the standby takes over");
    let health = eventually(
        Duration::from_secs(30),
        "the old server to say it is fenced",
        || async {
            let answer = send(old.client.get(old.url("health"))).await?;
            (answer.status == 503).then_some(answer)
        },
    )
    .await;
    assert_eq!(
        health.body["data"]["components"]["store"], "fenced",
        "{:?}",
        health.body
    );
    let made = send(old.client.post(old.url("episodes")).json(&small_episode("a kite")))
        .await
        .expect("an answer");
    assert_eq!(made.status, 503, "the old server: {:?}", made.body);
    assert_eq!(made.body["error"]["code"], "shutting_down", "{:?}", made.body);
    // An approval on the old server is refused, and its episode stops there (no reload and
    // retry against the database it lost); the new holder has the episode and takes it.
    let refused = send(
        old.client
            .post(old.url(&format!("{}/approve", outline.0)))
            .json(&json!({ "version": outline.1 })),
    )
    .await
    .expect("an answer");
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let logged = std::fs::read_to_string(&log).expect("the servers' log");
    assert!(
        !logged.contains("reloading the episode"),
        "the fenced server retried: {logged}"
    );
    assert!(logged.contains("this episode stops here"), "{logged}");
    let approved = send(
        new.client
            .post(new.url(&format!("{}/approve", outline.0)))
            .json(&json!({ "version": outline.1 })),
    )
    .await
    .expect("an answer");
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    // Nor does it collect the blobs the new holder's episodes use.
    let collected = send(old.client.post(old.url("admin/gc?grace_s=0")))
        .await
        .expect("an answer");
    assert_eq!(collected.status, 503, "{:?}", collected.body);
    let fine = send(new.client.get(new.url("health"))).await.expect("health");
    assert_eq!(fine.status, 200, "{:?}", fine.body);
    let made = send(new.client.post(new.url("episodes")).json(&small_episode("a kite")))
        .await
        .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let listed = send(new.client.get(new.url("episodes"))).await.expect("the list");
    assert_eq!(
        listed.data().as_array().map(Vec::len),
        Some(2),
        "the old server's episode and the new one's"
    );
}
