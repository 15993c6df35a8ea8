//! `showrunner --store postgres://… serve`: the episodes in a real PostgreSQL (started by the
//! test), an episode driven to its end across a SIGKILL of the server, two servers on one
//! database answering for the same episodes (one taking over when the other is killed or
//! paused), and `store copy | status | migrate` moving an embedded store into PostgreSQL and
//! serving it from there.

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
async fn an_episode_on_postgres_survives_a_sigkill() {
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
    // Not copied again beside a running engine; the engine shows in the status.
    let (ok, _, err) = cli(&["store", "copy", "--from", data_arg, "--to", &url]);
    assert!(!ok && err.contains("is running on"), "{err}");
    let (ok, out, err) = cli(&["--store", &url, "store", "status"]);
    assert!(
        ok && out.contains("engine processes: 1 alive") && out.contains(&format!("(pid {}): alive", server.pid())),
        "{out}{err}"
    );
    // The CLI reads the database beside it without joining the engines (which would take
    // episodes over): it lists, shows and exports, and the status still shows one process.
    let (ok, out, err) = cli(&["--store", &url, "--data", data_arg, "episodes", "list"]);
    assert!(ok && out.contains(&finished) && out.contains(&waiting), "{out}{err}");
    let (ok, out, err) = cli(&["--store", &url, "--data", data_arg, "episodes", "show", &waiting[..10]]);
    assert!(ok && out.contains(&format!("episode {waiting}")), "{out}{err}");
    let exported = dir.path().join("exported");
    let (ok, out, err) = cli(&[
        "--store",
        &url,
        "--data",
        data_arg,
        "export",
        &finished,
        exported.to_str().expect("a UTF-8 path"),
    ]);
    assert!(ok && exported.join("final.mp4").is_file(), "{out}{err}");
    let (ok, out, err) = cli(&["--store", &url, "store", "status"]);
    assert!(ok && out.contains("engine processes: 1 alive, 0 gone"), "{out}{err}");
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
    // (A database each, so that each engine drives its own episodes; nothing here collects
    // garbage, which two databases sharing one blob store must not do.)
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

/// The lease the servers of these tests renew: short, so that a dead one's episodes move on
/// quickly.
const LEASE_S: &str = "2";

/// An event stream read as it comes: the event ids (sequence numbers) and data lines so far.
struct EventReader {
    response: reqwest::Response,
    text: String,
    ids: Vec<u64>,
    data: Vec<String>,
}

impl EventReader {
    fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            text: String::new(),
            ids: Vec::new(),
            data: Vec::new(),
        }
    }

    /// Reads until `done` holds for the data seen so far (true) or the stream ends (false);
    /// panics after 60 s.
    async fn until(&mut self, done: impl Fn(&[String]) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done(&self.data) {
            let next = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("the events in time; seen {:?}", self.data));
            let Some(chunk) = next.expect("a chunk") else {
                return false;
            };
            self.text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = self.text.find('\n') {
                let line: String = self.text.drain(..=end).collect();
                if let Some(n) = line.strip_prefix("id:") {
                    self.ids.push(n.trim().parse().expect("a numeric id"));
                } else if let Some(d) = line.strip_prefix("data:") {
                    self.data.push(d.trim().to_owned());
                }
            }
        }
        true
    }
}

/// The event ids and data lines an event stream sends until `done` holds for the data seen so
/// far or the stream ends (a finished episode's ends after its last event); panics after 60 s.
async fn read_events(response: reqwest::Response, done: impl Fn(&[String]) -> bool) -> (Vec<u64>, Vec<String>) {
    let mut reader = EventReader::new(response);
    reader.until(done).await;
    (reader.ids, reader.data)
}

/// Whether `data` has the approval of `node`.
fn shows_approval(data: &[String], node: &str) -> bool {
    data.iter()
        .any(|d| d.contains("\"Approved\"") && d.contains(&format!("\"{node}\"")))
}

/// Episodes whose lease the server with process id `pid` holds.
fn held_by(cluster: &PgCluster, database: &str, pid: u32) -> usize {
    cluster
        .psql(
            database,
            &format!(
                "SELECT count(*) FROM episode_lease l JOIN engine_process p ON p.id = l.process WHERE p.pid = {pid}"
            ),
        )
        .expect("psql")
        .trim()
        .parse()
        .expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_serve_the_same_episodes_and_one_goes_on_when_the_other_is_killed() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("pair").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    // One blob directory for both, as a shared volume would be.
    let data = dir.path().join("data");
    let log = data.with_extension("log");
    let mut a = Served::member_on(&data, &url, Some(&log), LEASE_S).await;
    let b = Served::member_on(&data, &url, Some(&log), LEASE_S).await;
    let made = send(
        a.client
            .post(a.url("episodes"))
            .json(&small_episode("a kite over the harbour")),
    )
    .await
    .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let episode = made.data()["id"].as_str().expect("an id").to_owned();
    // b answers for the episode a holds: reads, an event stream, an approval.
    let outline = eventually(
        Duration::from_secs(60),
        "the outline at its gate, seen on b",
        || async {
            let (_, open) = gates(&b, &episode).await?;
            open.into_iter().find(|(path, _)| path.ends_with("/nodes/outline"))
        },
    )
    .await;
    assert_eq!(held_by(&cluster, "pair", a.pid()), 1, "a holds the episode it made");
    assert_eq!(held_by(&cluster, "pair", b.pid()), 0);
    let shown = send(b.client.get(b.url(&format!("episodes/{episode}"))))
        .await
        .expect("the episode");
    let from = shown.data()["next_seq"].as_u64().expect("next_seq");
    let stream = b
        .client
        .get(b.url(&format!("episodes/{episode}/events?from={from}")))
        .send()
        .await
        .expect("an event stream on b");
    assert_eq!(stream.status(), 200);
    let approved = send(
        a.client
            .post(a.url(&format!("{}/approve", outline.0)))
            .json(&json!({ "version": outline.1 })),
    )
    .await
    .expect("an answer");
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    // b's stream shows the approval made on a, in order, from where it asked: b reads it from
    // the database, told of a's commit by PostgreSQL (the stream is not passed on to a).
    let mut reader = EventReader::new(stream);
    assert!(reader.until(|lines| shows_approval(lines, "outline")).await);

    // a dies: b takes its episode over once a's lease lapsed, and the approval made on a holds.
    a.kill();
    let killed = std::time::Instant::now();
    eventually(Duration::from_secs(60), "b to take the episode over", || async {
        (held_by(&cluster, "pair", b.pid()) == 1).then_some(())
    })
    .await;
    let took = killed.elapsed();
    assert!(took < Duration::from_secs(10), "took over in {took:?}");
    let metrics = b
        .client
        .get(format!("{}/metrics", b.origin()))
        .send()
        .await
        .expect("metrics");
    let metrics = metrics.text().await.expect("the exposition");
    let counted = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(counted("showrunner_lease_takeovers_total") >= 1.0, "{metrics}");
    assert!(counted("showrunner_claims_total") >= 1.0, "{metrics}");
    let shown = send(b.client.get(b.url(&format!("episodes/{episode}/nodes/outline"))))
        .await
        .expect("the outline");
    assert_eq!(shown.data()["state"], "approved", "{:?}", shown.body);
    // The stream b opened while a held the episode went on through a's death: it shows what b
    // does with the episode now, with no gap and no duplicate.
    let (_, open) = eventually(Duration::from_secs(60), "the next gate, on b", || async {
        let (_, open) = gates(&b, &episode).await?;
        (!open.is_empty()).then_some(((), open))
    })
    .await;
    let (path, version) = open.first().cloned().expect("a gate");
    let next = path.rsplit('/').next().expect("a node").to_owned();
    let answer = send(
        b.client
            .post(b.url(&format!("{path}/approve")))
            .json(&json!({ "version": version })),
    )
    .await
    .expect("an answer");
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(
        reader.until(|lines| shows_approval(lines, &next)).await,
        "b's stream ended: {:?}",
        reader.data
    );
    assert_eq!(reader.ids.first(), Some(&from), "{:?}", reader.ids);
    assert!(
        reader.ids.windows(2).all(|w| w[1] == w[0] + 1),
        "no gap, no duplicate: {:?}",
        reader.ids
    );
    assert_eq!(reader.ids.len(), reader.data.len());
    let b = drive_across_a_kill_on(b, &data, Some(&url), &episode).await;
    let done = send(b.client.get(b.url(&format!("episodes/{episode}"))))
        .await
        .expect("the episode");
    assert_eq!(done.data()["status"], "completed");
    let logged = std::fs::read_to_string(&log).expect("the servers' log");
    assert!(logged.contains("resumed an episode whose process is gone"), "{logged}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_paused_past_its_lease_gives_its_episodes_up_and_serves_them_from_where_they_went() {
    let cluster = PgCluster::start().expect("a PostgreSQL server");
    let url = cluster.create_database("paused").expect("a database");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let log = data.with_extension("log");
    let a = Served::member_on(&data, &url, Some(&log), LEASE_S).await;
    let b = Served::member_on(&data, &url, Some(&log), LEASE_S).await;
    let made = send(a.client.post(a.url("episodes")).json(&small_episode("a lamp")))
        .await
        .expect("an answer");
    assert_eq!(made.status, 201, "{:?}", made.body);
    let episode = made.data()["id"].as_str().expect("an id").to_owned();
    let outline = eventually(Duration::from_secs(60), "the outline at its gate", || async {
        let (_, open) = gates(&a, &episode).await?;
        open.into_iter().find(|(path, _)| path.ends_with("/nodes/outline"))
    })
    .await;
    // A stream on a, which holds the episode.
    let stream = a
        .client
        .get(a.url(&format!("episodes/{episode}/events?from=1")))
        .send()
        .await
        .expect("an event stream on a");
    assert_eq!(stream.status(), 200);
    let mut watching = EventReader::new(stream);
    // a stops (SIGSTOP) past its lease, with the episode in memory: b takes the approval.
    let signal = |name: &str, pid: u32| {
        let sent = std::process::Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
    };
    signal("-STOP", a.pid());
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let approved = eventually(Duration::from_secs(30), "b to take the approval", || async {
        let answer = send(
            b.client
                .post(b.url(&format!("{}/approve", outline.0)))
                .json(&json!({ "version": outline.1 })),
        )
        .await?;
        (answer.status != 503).then_some(answer)
    })
    .await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(held_by(&cluster, "paused", b.pid()), 1, "b holds the episode now");
    signal("-CONT", a.pid());
    // Woken, a lets its stale copy go: it shows the approval b took, and passes what it is
    // asked on to b, which holds the episode now.
    let shown = eventually(Duration::from_secs(30), "a to show the approval made on b", || async {
        let shown = send(a.client.get(a.url(&format!("episodes/{episode}/nodes/outline")))).await?;
        (shown.data()["state"] == "approved").then_some(shown)
    })
    .await;
    assert_eq!(shown.status, 200);
    // a's stream went on as a let the episode go: it shows the approval made on b.
    assert!(
        watching.until(|lines| shows_approval(lines, "outline")).await,
        "a's stream ended: {:?}",
        watching.data
    );
    assert_eq!(watching.ids, (1..=watching.ids.len() as u64).collect::<Vec<_>>());
    let a = drive_across_a_kill_on(a, &data, Some(&url), &episode).await;
    let done = send(a.client.get(a.url(&format!("episodes/{episode}"))))
        .await
        .expect("the episode");
    assert_eq!(done.data()["status"], "completed");
    // One log: every event once, in order.
    let last = done.data()["next_seq"].as_u64().expect("next_seq") - 1;
    let stream = a
        .client
        .get(a.url(&format!("episodes/{episode}/events?from=1")))
        .send()
        .await
        .expect("the events");
    assert_eq!(stream.status(), 200);
    let (ids, _) = read_events(stream, |data| data.len() as u64 >= last).await;
    assert_eq!(ids, (1..=last).collect::<Vec<_>>());
    let logged = std::fs::read_to_string(&log).expect("the servers' log");
    assert!(logged.contains("hold on its episodes lapsed"), "{logged}");
}
