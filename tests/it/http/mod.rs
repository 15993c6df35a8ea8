//! The HTTP facade against a real server on an ephemeral port: a whole idea2video episode
//! driven over HTTP, artifacts with ranges, an SSE client that disconnects and resumes, 50
//! concurrent approvals of one gate, candidates picked over an item's route, every error status,
//! pagination, fork, cancel and delete, `showrunner serve` stopped by SIGTERM, and killed by
//! SIGKILL mid-episode, restarted on its data directory and driven to the end; `Idempotency-Key`
//! replays (concurrent, after a restart, reused, malformed) and `GET /metrics`.
//!
//! Every answer a test receives is checked against the API's OpenAPI document ([`Contract`]):
//! its operation, a documented status and content type, and a JSON body valid against the
//! response's schema, which may hold no property the document does not list.

mod contract;
mod episode;
mod errors;
mod gates;
mod lifecycle;
mod seeds;

pub(crate) use contract::{ROUTES, contract};
pub(crate) use lifecycle::sigterm;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};
use showrunner::engine::{BlobRef, Engine};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::open;

/// How long a test waits for an episode to reach a state.
const PATIENCE: Duration = Duration::from_secs(120);

/// A server on 127.0.0.1:0 over a fresh data directory, and a client for it.
pub(crate) struct Server {
    base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) engine: Engine,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// A response: status, headers and the JSON body (`Null` when the body is not JSON).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    pub(crate) fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub(crate) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub(crate) fn expect(self, status: StatusCode, what: &str) -> Self {
        assert_eq!(self.status, status, "{what}: {:#}", self.body);
        self
    }

    /// Asserts an error answer: status, stable code, and the envelope's shape.
    pub(crate) fn expect_error(self, status: StatusCode, code: &str, what: &str) -> Self {
        assert_eq!((self.status, self.code()), (status, code), "{what}: {:#}", self.body);
        let error = &self.body["error"];
        assert!(
            error["message"].is_string() && error["details"].is_object(),
            "{what}: {:#}",
            self.body
        );
        self
    }
}

impl Server {
    pub(crate) async fn start() -> Self {
        Self::start_with(|api| api).await
    }

    /// A server over `engine`, whose store lies in `dir`.
    pub(crate) async fn over(engine: Engine, dir: tempfile::TempDir) -> Self {
        Self::over_with(engine, dir, |api| api).await
    }

    /// A server over a fresh data directory, with `configure` applied to the API's options.
    pub(crate) async fn start_with(configure: impl FnOnce(showrunner_api::Api) -> showrunner_api::Api) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = open(
            dir.path(),
            workflows::all(&Backends::procedural()).expect("stock workflows"),
        )
        .await;
        Self::over_with(engine, dir, configure).await
    }

    /// A server over `engine` (its store in `dir`), with `configure` applied to the API's options.
    pub(crate) async fn over_with(
        engine: Engine,
        dir: tempfile::TempDir,
        configure: impl FnOnce(showrunner_api::Api) -> showrunner_api::Api,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let api = configure(
            showrunner_api::Api::new(engine.clone(), Backends::procedural().embedder)
                .keep_alive(Duration::from_millis(200))
                .data_dir(dir.path()),
        );
        let task = tokio::spawn(api.serve(listener, async {
            let _ = stopped.await;
        }));
        Self {
            base: format!("http://{addr}/api/v1"),
            client: reqwest::Client::new(),
            engine,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    /// The server's origin, `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> &str {
        self.base.trim_end_matches("/api/v1")
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        answer(request).await
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(self.url(path))).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.client.post(self.url(path)).json(&body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Answer {
        self.send(self.client.delete(self.url(path))).await
    }

    /// Creates an idea2video episode with small settings; returns its id.
    pub(crate) async fn create(&self, idea: &str, seconds: f64) -> String {
        let created = self
            .post("episodes", episode_body(idea, seconds))
            .await
            .expect(StatusCode::CREATED, "create");
        let id = created.data()["id"].as_str().expect("an id").to_owned();
        let location = created.headers.get(header::LOCATION).and_then(|v| v.to_str().ok());
        assert_eq!(location, Some(format!("/api/v1/episodes/{id}").as_str()));
        id
    }

    /// Polls `GET episodes/{id}` until `done` holds for its data.
    pub(crate) async fn wait(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let episode = self.get(&format!("episodes/{id}")).await.expect(StatusCode::OK, what);
            let data = episode.data();
            if done(data) {
                return data.clone();
            }
            let status = data["status"].as_str().unwrap_or("");
            assert!(
                status != "failed" && Instant::now() < deadline,
                "waiting for {what}: {data:#}"
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    /// Waits until `node` is at its gate with version `version`.
    pub(crate) async fn wait_gate(&self, id: &str, node: &str, version: u64) -> Value {
        self.wait(id, &format!("{node} v{version} at its gate"), |e| {
            find(e, node)
                .is_some_and(|n| n["state"] == json!("awaiting_approval") && n["current_version"] == json!(version))
        })
        .await
    }

    /// Approves every gate (with the version it shows) until the episode completes.
    pub(crate) async fn approve_all(&self, id: &str) -> Value {
        loop {
            let episode = self
                .wait(id, "a gate or the end", |e| {
                    e["status"] != json!("active") || gates(e).next().is_some()
                })
                .await;
            if episode["status"] == json!("completed") {
                return episode;
            }
            for gate in gates(&episode) {
                let answer = self
                    .post(
                        &action_path(id, gate, "approve"),
                        json!({"version": gate["current_version"]}),
                    )
                    .await;
                // A gate may have moved on between the read and the approval: reload and go on.
                assert!(
                    answer.status == StatusCode::OK || answer.status == StatusCode::CONFLICT,
                    "approve {gate}: {:#}",
                    answer.body
                );
            }
        }
    }

    /// The current value of an instance.
    pub(crate) async fn value(&self, id: &str, node: &str) -> Value {
        let answer = self.get(&format!("episodes/{id}/nodes/{node}")).await;
        answer.expect(StatusCode::OK, node).data()["value"].clone()
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = tokio::time::timeout(Duration::from_secs(30), &mut self.task).await;
        served
            .expect("the server drains")
            .expect("the server task")
            .expect("serve");
        self.engine.shutdown().await;
    }
}

/// Sends a request and reads its answer, which must keep to the OpenAPI document.
pub(crate) async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let (status, headers, bytes) = fetch(request).await;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, headers, body }
}

/// Sends a request and reads its answer as bytes (a blob, the metrics), checked against the
/// OpenAPI document like [`answer`]'s.
pub(crate) async fn fetch(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Vec<u8>) {
    let (client, request) = request.build_split();
    let request = request.expect("a well-formed request");
    let (method, url) = (request.method().clone(), request.url().clone());
    let response = client.execute(request).await.expect("the server answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body").to_vec();
    if let Err(e) = contract().check(&method, &url, status, &headers, Some(&bytes)) {
        panic!("{e}");
    }
    (status, headers, bytes)
}

/// Sends a request whose answer streams (server-sent events): its status and content type are
/// checked against the OpenAPI document, the body is left to the caller.
pub(crate) async fn stream(request: reqwest::RequestBuilder) -> reqwest::Response {
    let (client, request) = request.build_split();
    let request = request.expect("a well-formed request");
    let (method, url) = (request.method().clone(), request.url().clone());
    let response = client.execute(request).await.expect("the server answers");
    if let Err(e) = contract().check(&method, &url, response.status(), response.headers(), None) {
        panic!("{e}");
    }
    response
}

pub(crate) fn episode_body(idea: &str, seconds: f64) -> Value {
    json!({
        "workflow": "idea2video",
        "idea": idea,
        "settings": {"width": 320, "height": 180, "fps": 12, "target_duration_s": seconds, "seed": 11},
    })
}

/// The single instance of `node` in an episode's data.
pub(crate) fn find<'a>(episode: &'a Value, node: &str) -> Option<&'a Value> {
    episode["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["node"] == json!(node) && n.get("item").is_none())
}

/// The instances waiting at a gate.
pub(crate) fn gates(episode: &Value) -> impl Iterator<Item = &Value> {
    episode["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["state"] == json!("awaiting_approval"))
}

/// The route of an instance of the episode's data.
pub(crate) fn instance_path(id: &str, instance: &Value) -> String {
    let node = instance["node"].as_str().expect("a node");
    match instance["item"].as_str() {
        Some(item) => format!("episodes/{id}/nodes/{node}/items/{item}"),
        None => format!("episodes/{id}/nodes/{node}"),
    }
}

/// The action route of an instance of the episode's data.
pub(crate) fn action_path(id: &str, instance: &Value, action: &str) -> String {
    format!("{}/{action}", instance_path(id, instance))
}

/// The hash of a `blob:<hex>` reference.
pub(crate) fn blob_hash(reference: &Value) -> String {
    let blob = BlobRef::parse(reference.as_str().expect("a blob reference")).expect("blob:<hex>");
    blob.0.to_hex()
}
