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

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use showrunner::engine::{BlobRef, Engine, EpisodeId, EventKind, Gate, NodeSpec, WorkflowDef};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::{Runs, counted, open};

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

    async fn over(engine: Engine, dir: tempfile::TempDir) -> Self {
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

    async fn over_with(
        engine: Engine,
        dir: tempfile::TempDir,
        configure: impl FnOnce(showrunner_api::Api) -> showrunner_api::Api,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let api = configure(
            showrunner_api::Api::new(engine.clone())
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

/// The API's OpenAPI document as a contract that every answer is checked against: the
/// operation of its method and path (query ignored), a status documented for that operation, a
/// documented content type, and a JSON body valid (JSON Schema 2020-12) against the response's
/// schema. A path no operation has must answer `404 route_not_found`, a path without the method
/// `405 method_not_allowed` (or, with keys configured, `401`/`403`), with the error body.
///
/// The schemas are tightened for the check: an object schema that lists its properties refuses
/// others, so a field the server sends that the document does not list fails too.
pub(crate) struct Contract {
    /// The document, its `$ref`s pointing into `$defs` and its object schemas tightened.
    doc: Value,
    /// One validator per response schema, compiled on first use.
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

/// The contract, built once per test process from `showrunner_api::openapi()`.
pub(crate) fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::new(serde_json::to_value(showrunner_api::openapi()).expect("the document")))
}

/// The media type of a `Content-Type`, without its parameters.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Points every `#/components/schemas/X` at `#/$defs/X`, where the validators find them.
fn to_defs(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(r)) = object.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                *r = format!("#/$defs/{name}");
            }
            object.values_mut().for_each(to_defs);
        }
        Value::Array(items) => items.iter_mut().for_each(to_defs),
        _ => {}
    }
}

/// Closes every object schema that lists its properties (`unevaluatedProperties: false`). A
/// schema composed with `allOf` is closed at the composition and its members left open (a
/// closed member would refuse its siblings' properties): inside an open context a `$ref` points
/// at an open copy `NAME__open`, whose name goes into `opened`.
fn tighten(schema: &mut Value, open: bool, opened: &mut BTreeSet<String>) {
    let Some(object) = schema.as_object_mut() else { return };
    if open && let Some(Value::String(r)) = object.get_mut("$ref") {
        opened.insert(r.trim_start_matches("#/$defs/").to_owned());
        r.push_str("__open");
        return;
    }
    if let Some(Value::Array(members)) = object.get_mut("allOf") {
        members.iter_mut().for_each(|m| tighten(m, true, opened));
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = object.get_mut(key) {
            members.iter_mut().for_each(|m| tighten(m, open, opened));
        }
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.values_mut().for_each(|p| tighten(p, false, opened));
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = object.get_mut(key) {
            tighten(inner, false, opened);
        }
    }
    let closable = object.contains_key("properties") || object.contains_key("allOf");
    let closed = object.contains_key("additionalProperties") || object.contains_key("unevaluatedProperties");
    if !open && closable && !closed {
        object.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
}

impl Contract {
    fn new(mut doc: Value) -> Self {
        to_defs(&mut doc);
        let originals = doc["components"]["schemas"].clone();
        let mut opened = BTreeSet::new();
        let schemas = doc["components"]["schemas"].as_object_mut().expect("schemas");
        schemas.values_mut().for_each(|s| tighten(s, false, &mut opened));
        for item in doc["paths"].as_object_mut().expect("paths").values_mut() {
            for operation in item.as_object_mut().expect("a path item").values_mut() {
                let Some(responses) = operation["responses"].as_object_mut() else {
                    continue;
                };
                for response in responses.values_mut() {
                    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
                        continue;
                    };
                    for media in content.values_mut() {
                        if let Some(schema) = media.get_mut("schema") {
                            tighten(schema, false, &mut opened);
                        }
                    }
                }
            }
        }
        // The open copies, and those their own compositions need.
        let mut made = BTreeSet::new();
        while let Some(name) = opened.iter().find(|n| !made.contains(*n)).cloned() {
            made.insert(name.clone());
            let mut copy = originals
                .get(&name)
                .cloned()
                .unwrap_or_else(|| panic!("no schema {name}"));
            tighten(&mut copy, true, &mut opened);
            doc["components"]["schemas"][format!("{name}__open")] = copy;
        }
        Self {
            doc,
            validators: Mutex::default(),
        }
    }

    /// The path template of the operations that serve `path`: the one whose segments match,
    /// literal segments preferred to parameters, as the router prefers them.
    fn template(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        let matches = |template: &str| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s)
        };
        self.doc["paths"]
            .as_object()?
            .keys()
            .filter(|t| matches(t))
            .max_by_key(|t| t.split('/').filter(|s| !s.starts_with('{')).count())
            .map(String::as_str)
    }

    /// Every operation of the document, as (method, path template).
    pub(crate) fn operations(&self) -> BTreeSet<(String, String)> {
        let paths = self.doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                let methods = item.as_object().expect("a path item").keys();
                methods.map(move |m| (m.to_uppercase(), path.clone()))
            })
            .collect()
    }

    /// Validates `instance` against `schema` (a schema of the document), with a validator
    /// cached under `key`.
    fn validate(&self, key: &str, schema: &Value, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut validators = self
                .validators
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match validators.get(key) {
                Some(v) => v.clone(),
                None => {
                    let root = json!({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "$defs": self.doc["components"]["schemas"],
                        "allOf": [schema],
                    });
                    let v = Arc::new(jsonschema::draft202012::new(&root).map_err(|e| format!("{key}: {e}"))?);
                    validators.insert(key.to_owned(), v.clone());
                    v
                }
            }
        };
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("at `{}`: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }

    /// Validates `instance` against the named schema of the document (`Event`, `Episode`, …).
    pub(crate) fn validate_as(&self, name: &str, instance: &Value) -> Result<(), String> {
        let schema = json!({"$ref": format!("#/$defs/{name}")});
        self.validate(&format!("schema {name}"), &schema, instance)
    }

    /// Checks one answer: `body` is `None` for a stream whose body is not read.
    pub(crate) fn check(
        &self,
        method: &Method,
        url: &reqwest::Url,
        status: StatusCode,
        headers: &HeaderMap,
        body: Option<&[u8]>,
    ) -> Result<(), String> {
        let path = url.path();
        let what = format!("{method} {path} answered {status}");
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let shown = || {
            body.map(String::from_utf8_lossy)
                .unwrap_or_default()
                .chars()
                .take(2000)
                .collect::<String>()
        };
        let operation = self
            .template(path)
            .and_then(|t| Some((t, self.doc["paths"][t].get(method.as_str().to_lowercase())?)));
        let Some((template, operation)) = operation else {
            // No operation: the router's fallbacks, in the error format.
            let (want, code) = match self.template(path) {
                None => (StatusCode::NOT_FOUND, "route_not_found"),
                Some(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            };
            let allowed = [want, StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN];
            if !allowed.contains(&status) {
                return Err(format!("{what}: no operation, so {want} `{code}` was expected"));
            }
            let error: Value = body
                .map(serde_json::from_slice)
                .transpose()
                .map_err(|e| format!("{what}: the body is not JSON ({e}): {}", shown()))?
                .unwrap_or(Value::Null);
            if status == want && error["error"]["code"] != json!(code) {
                return Err(format!("{what}: `{code}` expected: {error}"));
            }
            return match body {
                Some(_) => self
                    .validate_as("ErrorBody", &error)
                    .map_err(|e| format!("{what}: {e}")),
                None => Ok(()),
            };
        };
        let operation_name = format!("{method} {template}");
        let Some(response) = operation["responses"].get(status.as_str()) else {
            let documented: Vec<&String> = operation["responses"]
                .as_object()
                .map(|r| r.keys().collect())
                .unwrap_or_default();
            return Err(format!(
                "{what}: {operation_name} documents no {status} (only {documented:?}): {}",
                shown()
            ));
        };
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return match body {
                Some(bytes) if !bytes.is_empty() => {
                    Err(format!("{what}: a body where the document has none: {}", shown()))
                }
                _ => Ok(()),
            };
        };
        let Some((media, entry)) = content.iter().find(|(k, _)| essence(k) == essence(content_type)) else {
            let documented: Vec<&String> = content.keys().collect();
            return Err(format!(
                "{what}: content type `{content_type}`, not one of {documented:?}"
            ));
        };
        let (Some(bytes), "application/json") = (body, essence(media).as_str()) else {
            return Ok(());
        };
        let instance: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("{what}: the body is not JSON ({e}): {}", shown()))?;
        let key = format!("{operation_name} {status} {media}");
        self.validate(&key, &entry["schema"], &instance).map_err(|e| {
            format!(
                "{what}: the body does not fit {operation_name}'s {status} schema:\n{e}\nbody: {}",
                shown()
            )
        })
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_idea2video_episode_is_driven_over_http() {
    let server = Server::start().await;
    let workflows = server.get("workflows").await.expect(StatusCode::OK, "workflows");
    let idea2video = workflows
        .data()
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == json!("idea2video")))
        .expect("idea2video is listed")
        .clone();
    assert_eq!(idea2video["nodes"].as_array().map(Vec::len), Some(9));
    let edges = idea2video["edges"].as_array().expect("edges");
    for (from, to) in [
        ("outline", "characters"),
        ("characters", "portraits"),
        ("clips", "final"),
        ("portraits", "keyframes"),
    ] {
        assert!(
            edges.contains(&json!({"from": from, "to": to})),
            "{from} -> {to}: {edges:?}"
        );
    }

    let id = server.create("a lighthouse keeper vanishes", 6.0).await;

    // Regenerate the outline with feedback, then approve the new version.
    server.wait_gate(&id, "outline", 1).await;
    let before = server.value(&id, "outline").await;
    let regenerated = server
        .post(
            &format!("episodes/{id}/nodes/outline/regenerate"),
            json!({"version": 1, "feedback": "make it darker"}),
        )
        .await
        .expect(StatusCode::OK, "regenerate");
    assert_eq!(regenerated.data()["feedback"], json!("make it darker"));
    server.wait_gate(&id, "outline", 2).await;
    let outline = server
        .get(&format!("episodes/{id}/nodes/outline"))
        .await
        .expect(StatusCode::OK, "outline");
    let after = &outline.data()["value"];
    assert_ne!(before["synopsis"], after["synopsis"]);
    assert!(
        after["synopsis"].as_str().is_some_and(|s| s.contains("make it darker")),
        "{after}"
    );
    let versions = outline.data()["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[1]["feedback"], json!("make it darker"));
    let older = server
        .get(&format!("episodes/{id}/nodes/outline?version=1"))
        .await
        .expect(StatusCode::OK, "v1");
    assert_eq!(older.data()["value"], before);
    let approved = server
        .post(&format!("episodes/{id}/nodes/outline/approve"), json!({"version": 2}))
        .await
        .expect(StatusCode::OK, "approve outline");
    assert_eq!(approved.data()["state"], json!("approved"));

    // Change our mind: back to the first outline. The characters, made from the second, are
    // made again from the first.
    server.wait_gate(&id, "characters", 1).await;
    let reverted = server
        .post(&format!("episodes/{id}/nodes/outline/revert"), json!({"version": 1}))
        .await
        .expect(StatusCode::OK, "revert");
    assert_eq!(
        (&reverted.data()["state"], &reverted.data()["current_version"]),
        (&json!("approved"), &json!(1))
    );
    assert_eq!(server.value(&id, "outline").await, before);

    // Edit the characters: a person's version, approved as it is stored.
    server.wait_gate(&id, "characters", 2).await;
    let mut cast = server.value(&id, "characters").await;
    let clothing = "a yellow raincoat";
    cast[0]["dynamic_features"]["clothing"] = json!(clothing);
    let edited = server
        .post(
            &format!("episodes/{id}/nodes/characters/edit"),
            json!({"base_version": 2, "value": cast}),
        )
        .await
        .expect(StatusCode::OK, "edit");
    assert_eq!(
        (&edited.data()["state"], &edited.data()["current_version"]),
        (&json!("approved"), &json!(3))
    );
    assert_eq!(
        server.value(&id, "characters").await[0]["dynamic_features"]["clothing"],
        json!(clothing)
    );

    // Everything else, up to the final gate.
    let done = server.approve_all(&id).await;
    let last = find(&done, "final").expect("the final node");
    assert_eq!(last["state"], json!("approved"));
    assert_eq!(
        last["artifacts"].as_array().map(Vec::len),
        Some(3),
        "video and two subtitle files"
    );
    let portraits: Vec<&Value> = done["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["node"] == json!("portraits"))
        .collect();
    assert!(!portraits.is_empty() && portraits.iter().all(|p| p["state"] == json!("approved")));

    // The artifacts: the MP4 whole and in ranges, subtitles, a portrait.
    let video = server.value(&id, "final").await;
    let hash = blob_hash(&video["video"]);
    let mp4 = server
        .engine
        .blobs()
        .get(BlobRef::parse(video["video"].as_str().expect("a blob")).expect("blob"))
        .await
        .expect("the MP4 blob");
    let len = mp4.len();
    assert!(len > 2000, "{len} bytes");
    let url = server.url(&format!("artifacts/{hash}"));
    let (status, h, whole) = fetch(server.client.get(&url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "video/mp4");
    assert_eq!(h[header::ETAG], format!("\"{hash}\"").as_str());
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(whole, mp4);

    let ranged = |range: String| {
        let request = server.client.get(&url).header(header::RANGE, range);
        async move {
            let (status, headers, bytes) = fetch(request).await;
            let content_range = headers
                .get(header::CONTENT_RANGE)
                .map(|v| v.to_str().unwrap_or("").to_owned());
            (status, content_range, bytes)
        }
    };
    let (status, content_range, part) = ranged("bytes=100-1099".into()).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(content_range.as_deref(), Some(format!("bytes 100-1099/{len}").as_str()));
    assert_eq!(part, mp4[100..1100]);
    let (status, content_range, part) = ranged(format!("bytes={}-", len - 10)).await;
    assert_eq!(
        (status, part.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &mp4[len - 10..])
    );
    assert_eq!(
        content_range.as_deref(),
        Some(format!("bytes {}-{}/{len}", len - 10, len - 1).as_str())
    );
    let (status, _, part) = ranged("bytes=-500".into()).await;
    assert_eq!(
        (status, part.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &mp4[len - 500..])
    );
    let (status, content_range, _) = ranged(format!("bytes={len}-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(content_range.as_deref(), Some(format!("bytes */{len}").as_str()));
    let (status, _, body) = fetch(
        server
            .client
            .get(&url)
            .header(header::IF_NONE_MATCH, format!("\"{hash}\"")),
    )
    .await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));

    let vtt = server.url(&format!("artifacts/{}", blob_hash(&video["subtitles_vtt"])));
    let (_, vtt, _) = fetch(server.client.get(vtt)).await;
    assert_eq!(vtt[header::CONTENT_TYPE], "text/vtt; charset=utf-8");
    let portrait = &portraits[0]["artifacts"][0];
    let png = server.url(&format!("artifacts/{}", portrait.as_str().expect("a hash")));
    let (_, png, _) = fetch(server.client.get(png)).await;
    assert_eq!(png[header::CONTENT_TYPE], "image/png");
    server.stop().await;
}

/// One server-sent event, or a comment.
#[derive(Debug, Clone, PartialEq)]
enum Sse {
    Event { id: u64, data: Value },
    Comment,
}

/// Reads server-sent events off a response, one block at a time.
struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl From<reqwest::Response> for SseReader {
    fn from(response: reqwest::Response) -> Self {
        Self {
            body: response.bytes_stream().map(|chunk| chunk.map(|b| b.to_vec())).boxed(),
            buffer: String::new(),
        }
    }
}

impl SseReader {
    async fn open(server: &Server, id: &str, last_event_id: Option<u64>) -> Self {
        let mut request = server.client.get(server.url(&format!("episodes/{id}/events")));
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        let response = stream(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
        Self::from(response)
    }

    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                return match id {
                    Some(id) => {
                        let data: Value = serde_json::from_str(&data).expect("JSON data");
                        if let Err(e) = contract().validate_as("Event", &data) {
                            panic!("event {id} does not fit the document's `Event`: {e}\n{data:#}");
                        }
                        Sse::Event { id, data }
                    }
                    None => {
                        assert!(block.starts_with(':'), "{block:?}");
                        Sse::Comment
                    }
                };
            }
            let chunk = tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("an event in time")
                .expect("the stream goes on")
                .expect("a chunk");
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The next event, skipping keep-alive comments.
    async fn event(&mut self) -> (u64, Value) {
        loop {
            if let Sse::Event { id, data } = self.next().await {
                return (id, data);
            }
        }
    }

    /// Every event up to and including the first of type `kind`.
    async fn events_until(&mut self, kind: &str) -> Vec<(u64, Value)> {
        let mut events = Vec::new();
        loop {
            let event = self.event().await;
            let last = event.1["type"] == json!(kind);
            events.push(event);
            if last {
                return events;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_client_that_disconnects_mid_episode_resumes_without_gap_or_duplicate() {
    let server = Server::start().await;
    let id = server.create("a clockmaker's last clock runs backwards", 6.0).await;
    let mut reader = SseReader::open(&server, &id, None).await;
    // Up to the outline's gate, then hang up.
    let mut seen = reader.events_until("GateOpened").await;
    drop(reader);

    // While no one listens, the episode goes on: the gates are approved over HTTP.
    let driver = {
        let server_client = (server.client.clone(), server.base.clone());
        let id = id.clone();
        tokio::spawn(async move {
            let (client, base) = server_client;
            let mut approvals = 0;
            let deadline = Instant::now() + PATIENCE;
            loop {
                assert!(Instant::now() < deadline, "the episode does not complete");
                let episode = answer(client.get(format!("{base}/episodes/{id}"))).await;
                let data = episode.data();
                if data["status"] == json!("completed") {
                    return approvals;
                }
                for gate in gates(data) {
                    let path = action_path(&id, gate, "approve");
                    let request = client
                        .post(format!("{base}/{path}"))
                        .json(&json!({"version": gate["current_version"]}));
                    let status = answer(request).await.status;
                    assert!(status == StatusCode::OK || status == StatusCode::CONFLICT, "{status}");
                    approvals += usize::from(status == StatusCode::OK);
                }
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Resume with Last-Event-ID, hang up again after a few events, and resume once more, up to
    // the end of the episode.
    let mut resumes = 0;
    'episode: loop {
        let last = seen.last().map(|(seq, _)| *seq);
        let mut reader = SseReader::open(&server, &id, last).await;
        resumes += 1;
        for _ in 0..25 {
            let event = reader.event().await;
            let completed = event.1["type"] == json!("EpisodeCompleted");
            seen.push(event);
            if completed {
                // Quiet now: the stream stays open with keep-alive comments.
                assert_eq!(reader.next().await, Sse::Comment);
                break 'episode;
            }
        }
    }
    assert!(resumes >= 2, "the client resumed {resumes} times");
    let approvals = driver.await.expect("the driver");
    assert!(approvals >= 4, "{approvals} approvals");

    let seqs: Vec<u64> = seen.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
    for (seq, event) in &seen {
        assert_eq!(event["seq"], json!(seq));
        assert_eq!(event["episode"], json!(id));
    }
    // A fresh subscription from the start sees the very same events.
    let mut fresh = SseReader::open(&server, &id, None).await;
    for (seq, event) in &seen {
        assert_eq!(&fresh.event().await, &(*seq, event.clone()));
    }
    // `?from=` resumes at a sequence number too.
    let from = seqs.len() as u64 / 2;
    let response = stream(
        server
            .client
            .get(server.url(&format!("episodes/{id}/events?from={from}"))),
    )
    .await;
    let mut reader = SseReader::from(response);
    assert_eq!(reader.event().await.0, from);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_approvals_of_one_gate_let_exactly_one_win() {
    let server = Server::start().await;
    let id = server.create("two rival bakers share one oven", 6.0).await;
    server.wait_gate(&id, "outline", 1).await;
    let url = server.url(&format!("episodes/{id}/nodes/outline/approve"));
    let approvals = (0..50).map(|_| {
        let request = server.client.post(&url).json(&json!({"version": 1}));
        async move {
            let answer = answer(request).await;
            (answer.status, answer.body)
        }
    });
    let answers = futures::future::join_all(approvals).await;
    let won: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    let lost: Vec<_> = answers.iter().filter(|(s, _)| *s == StatusCode::CONFLICT).collect();
    assert_eq!((won.len(), lost.len()), (1, 49), "{answers:?}");
    for (_, body) in lost {
        let error = &body["error"];
        assert!(
            error["code"] == json!("illegal_action") || error["code"] == json!("version_conflict"),
            "{body}"
        );
        assert_eq!(error["details"]["state"], json!("approved"), "{body}");
        assert_eq!(error["details"]["current_version"], json!(1), "{body}");
    }
    let mut events = server
        .engine
        .subscribe(id.parse().expect("id"), 1)
        .await
        .expect("subscribe");
    let mut approved = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
        let event = event.expect("event");
        if let EventKind::Approved { key, .. } = &event.kind {
            approved += usize::from(key.node == "outline");
        }
    }
    assert_eq!(approved, 1, "one approval in the log");
    server.stop().await;
}

/// A POST with an `Idempotency-Key`.
fn keyed(client: &reqwest::Client, url: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("Idempotency-Key", key)
        .json(body)
        .timeout(REQUEST_TIMEOUT)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotency_key_replays_the_first_answer_and_acts_once() {
    let server = Server::start().await;
    let id = server.create("a clockmaker forgets one hour a day", 6.0).await;
    server.wait_gate(&id, "outline", 1).await;
    let url = server.url(&format!("episodes/{id}/nodes/outline/approve"));
    let body = json!({"version": 1});

    // Two at once with one key: the second waits for the first and gets its answer.
    let (a, b) = tokio::join!(
        answer(keyed(&server.client, &url, "approve-outline-1", &body)),
        answer(keyed(&server.client, &url, "approve-outline-1", &body)),
    );
    let c = answer(keyed(&server.client, &url, "approve-outline-1", &body)).await;
    let a = a.expect(StatusCode::OK, "first approval");
    for other in [&b, &c] {
        assert_eq!((other.status, &other.body), (a.status, &a.body), "a replay");
    }
    let replayed = [&a, &b, &c]
        .iter()
        .filter(|x| x.headers.get("idempotent-replayed").is_some())
        .count();
    assert_eq!(replayed, 2, "two of three are replays");
    // Without a key the approval is refused: the gate has moved on.
    server
        .post(&format!("episodes/{id}/nodes/outline/approve"), body.clone())
        .await
        .expect(StatusCode::CONFLICT, "unkeyed approval");

    let mut events = server
        .engine
        .subscribe(id.parse().expect("id"), 1)
        .await
        .expect("subscribe");
    let mut approved = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
        if let EventKind::Approved { key, .. } = &event.expect("event").kind {
            approved += usize::from(key.node == "outline");
        }
    }
    assert_eq!(approved, 1, "one approval in the log");

    // The key on another path, or with another body: 422.
    let cancel = server.url(&format!("episodes/{id}/cancel"));
    answer(keyed(&server.client, &cancel, "approve-outline-1", &json!({})))
        .await
        .expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "another path",
        );
    answer(keyed(&server.client, &url, "approve-outline-1", &json!({"version": 2})))
        .await
        .expect_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "another body",
        );
    // Malformed keys: 400, and nothing is done.
    for bad in ["has space", "k".repeat(256).as_str(), "caf\u{e9}"] {
        let request = server
            .client
            .post(&cancel)
            .header(
                "Idempotency-Key",
                reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).expect("a header"),
            )
            .json(&json!({}));
        answer(request)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request", bad);
    }
    let shown = server
        .get(&format!("episodes/{id}"))
        .await
        .expect(StatusCode::OK, "show");
    assert_eq!(shown.data()["status"], json!("active"), "not cancelled");

    // The metrics count those requests by route template, and the episodes by status.
    let origin = server.base.trim_end_matches("/api/v1");
    let (status, headers, text) = fetch(server.client.get(format!("{origin}/metrics"))).await;
    assert_eq!(status, StatusCode::OK);
    let content_type = headers[header::CONTENT_TYPE].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = String::from_utf8(text).expect("text");
    let approve = "/api/v1/episodes/{id}/nodes/{key}/approve";
    for line in [
        format!(r#"showrunner_http_requests_total{{method="POST",route="{approve}",status="200"}} 3"#),
        format!(r#"showrunner_http_requests_total{{method="POST",route="{approve}",status="409"}} 1"#),
        format!(r#"showrunner_http_requests_total{{method="POST",route="{approve}",status="422"}} 1"#),
        r#"showrunner_http_requests_total{method="POST",route="/api/v1/episodes/{id}/cancel",status="400"} 3"#
            .to_owned(),
        r#"showrunner_http_requests_total{method="POST",route="/api/v1/episodes/{id}/cancel",status="422"} 1"#
            .to_owned(),
        format!(r#"showrunner_http_request_duration_seconds_count{{method="POST",route="{approve}"}} 5"#),
        r#"showrunner_episodes{status="active"} 1"#.to_owned(),
        r#"showrunner_episodes{status="cancelled"} 0"#.to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
    }
    assert!(!text.contains(&id), "no raw paths in the labels:\n{text}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_create_is_replayed_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body = episode_body("a ferry that only runs backwards", 6.0);
    let mut first = ServeProcess::start(dir.path()).await;
    let created = answer(keyed(&first.client, &first.url("episodes"), "create-ferry", &body))
        .await
        .expect(StatusCode::CREATED, "create");
    assert!(first.signal("-TERM").await.success(), "a clean exit");
    // The key was committed with the episode, in the store: no answer file is written.
    assert!(
        !dir.path().join("api").join("idempotency").exists(),
        "no stored answer file"
    );

    let second = ServeProcess::start(dir.path()).await;
    let again = answer(keyed(&second.client, &second.url("episodes"), "create-ferry", &body)).await;
    assert_eq!(
        (again.status, &again.body),
        (created.status, &created.body),
        "the first answer"
    );
    assert!(again.headers.contains_key("idempotent-replayed"), "a replay");
    assert_eq!(
        again.headers.get(header::LOCATION),
        created.headers.get(header::LOCATION),
        "its Location"
    );
    let listed = second.get("episodes").await.expect(StatusCode::OK, "list");
    assert_eq!(listed.data().as_array().map(Vec::len), Some(1), "{:#}", listed.body);
}

/// A cast (list) whose looks (one per member) each offer two candidates to pick from.
fn casting_workflow() -> WorkflowDef {
    let runs = Runs::default();
    WorkflowDef::builder("casting")
        .node(NodeSpec::list(
            "cast",
            counted(&runs, |_, _| json!([{"id": "ada"}, {"id": "ben"}])),
        ))
        .node(
            NodeSpec::map(
                "looks",
                "cast",
                counted(
                    &runs,
                    |input, ctx| json!({"who": input["item"]["id"], "seed": ctx.seed()}),
                ),
            )
            .gate(Gate::Candidates { n: 2 }),
        )
        .build()
        .expect("a valid workflow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_of_a_map_item_is_selected_over_the_item_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = open(dir.path(), vec![casting_workflow()]).await;
    let id = engine
        .create_episode("casting", json!({}), 5)
        .await
        .expect("create")
        .to_string();
    let server = Server::over(engine, dir).await;
    let episode = server
        .wait(&id, "both looks at their gate", |e| gates(e).count() == 2)
        .await;
    for look in gates(&episode) {
        assert_eq!(look["candidates"], json!([1, 2]), "{look}");
    }
    let ada = format!("episodes/{id}/nodes/looks/items/ada");
    let shown = server.get(&ada).await.expect(StatusCode::OK, "ada's look");
    assert_eq!(shown.data()["item"], json!("ada"));
    assert_eq!(shown.data()["versions"].as_array().map(Vec::len), Some(2));
    let picked = server
        .post(&format!("{ada}/select"), json!({"version": 2}))
        .await
        .expect(StatusCode::OK, "select");
    assert_eq!(
        (&picked.data()["state"], &picked.data()["current_version"]),
        (&json!("approved"), &json!(2))
    );
    let again = server.post(&format!("{ada}/select"), json!({"version": 1})).await;
    let again = again.expect_error(StatusCode::CONFLICT, "illegal_action", "select twice");
    assert_eq!(again.body["error"]["details"]["item"], json!("ada"));
    server
        .post(
            &format!("episodes/{id}/nodes/looks/items/ben/select"),
            json!({"version": 1}),
        )
        .await
        .expect(StatusCode::OK, "select ben's first");
    let done = server.wait(&id, "the end", |e| e["status"] == json!("completed")).await;
    assert_eq!(gates(&done).count(), 0);
    server.stop().await;
}

const BROKEN_SCREENPLAY: &str = "INT. ROOM - DAY\n\nA chair.\n\n/* an unfinished note\n\nMARA\nHello.\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_error_has_its_status_and_stable_code() {
    let server = Server::start().await;
    let id = server.create("a ferry that never docks", 6.0).await;
    server.wait_gate(&id, "outline", 1).await;
    let outline = format!("episodes/{id}/nodes/outline");

    // 400: not JSON, not an id, not a hash, a bad query or header.
    let raw = server
        .send(
            server
                .client
                .post(server.url(&format!("{outline}/approve")))
                .header(header::CONTENT_TYPE, "application/json")
                .body("{\"version\": 1"),
        )
        .await;
    let raw = raw.expect_error(StatusCode::BAD_REQUEST, "bad_json", "truncated JSON");
    assert_eq!(raw.body["error"]["details"]["line"], json!(1));
    server
        .get("episodes/not-an-episode")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "bad id");
    server.post("episodes/12345/cancel", json!({})).await.expect_error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "bad id",
    );
    for hash in [
        "..%2F..%2Fetc%2Fpasswd",
        "abc",
        &"g".repeat(64),
        &format!("{}%2F", "a".repeat(63)),
    ] {
        server
            .get(&format!("artifacts/{hash}"))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_hash", hash);
    }
    // A path parameter that is not UTF-8 once decoded: the API's format, not axum's plain text.
    for path in ["workflows/%FF", "artifacts/%FF%FE"] {
        server
            .get(path)
            .await
            .expect_error(StatusCode::BAD_REQUEST, "bad_request", path);
    }
    server
        .get("episodes?limit=0")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "limit 0");
    server
        .get("episodes?limit=ten")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "limit ten");
    server
        .get("episodes?status=sleeping")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "status");
    server
        .get("episodes?cursor=nope")
        .await
        .expect_error(StatusCode::BAD_REQUEST, "bad_request", "cursor");
    let bad_resume = server
        .send(
            server
                .client
                .get(server.url(&format!("episodes/{id}/events")))
                .header("Last-Event-ID", "yesterday"),
        )
        .await;
    bad_resume.expect_error(StatusCode::BAD_REQUEST, "bad_request", "Last-Event-ID");

    // 404: unknown episode, node, version, workflow, artifact, route.
    let nobody = EpisodeId::generate();
    server
        .get(&format!("episodes/{nobody}"))
        .await
        .expect_error(StatusCode::NOT_FOUND, "episode_not_found", "episode");
    server.delete(&format!("episodes/{nobody}")).await.expect_error(
        StatusCode::NOT_FOUND,
        "episode_not_found",
        "delete",
    );
    server
        .post(
            &format!("episodes/{nobody}/nodes/outline/approve"),
            json!({"version": 1}),
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, "episode_not_found", "approve on no episode");
    server
        .post(&format!("episodes/{id}/nodes/epilogue/approve"), json!({"version": 1}))
        .await
        .expect_error(StatusCode::NOT_FOUND, "node_not_found", "node");
    server
        .post(
            &format!("episodes/{id}/nodes/keyframes/items/no-such-shot/approve"),
            json!({"version": 1}),
        )
        .await
        .expect_error(StatusCode::NOT_FOUND, "node_not_found", "item");
    server.get(&format!("{outline}?version=9")).await.expect_error(
        StatusCode::NOT_FOUND,
        "version_not_found",
        "version",
    );
    server
        .get("workflows/idea3video")
        .await
        .expect_error(StatusCode::NOT_FOUND, "workflow_not_found", "workflow");
    let mut create = episode_body("x", 6.0);
    create["workflow"] = json!("idea3video");
    server
        .post("episodes", create)
        .await
        .expect_error(StatusCode::NOT_FOUND, "workflow_not_found", "create");
    server.get(&format!("artifacts/{}", "0".repeat(64))).await.expect_error(
        StatusCode::NOT_FOUND,
        "artifact_not_found",
        "artifact",
    );
    server
        .get("episodes/x/y/z")
        .await
        .expect_error(StatusCode::NOT_FOUND, "route_not_found", "route");
    server.get(&format!("{outline}/approve")).await.expect_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "GET approve",
    );

    // 409: a stale version, an action the state does not allow; details carry the state now.
    let stale = server.post(&format!("{outline}/approve"), json!({"version": 2})).await;
    let stale = stale.expect_error(StatusCode::CONFLICT, "version_conflict", "stale version");
    let details = &stale.body["error"]["details"];
    assert_eq!(
        (
            &details["state"],
            &details["current_version"],
            &details["given_version"]
        ),
        (&json!("awaiting_approval"), &json!(1), &json!(2)),
        "{details}"
    );
    let blocked = server
        .post(
            &format!("episodes/{id}/nodes/storyboard/approve"),
            json!({"version": 1}),
        )
        .await;
    let blocked = blocked.expect_error(StatusCode::CONFLICT, "illegal_action", "approve a blocked node");
    assert_eq!(blocked.body["error"]["details"]["state"], json!("blocked"));
    assert_eq!(blocked.body["error"]["details"]["current_version"], Value::Null);
    let stale_edit = server
        .post(&format!("{outline}/edit"), json!({"base_version": null, "value": {}}))
        .await;
    stale_edit.expect_error(
        StatusCode::CONFLICT,
        "version_conflict",
        "edit without the base version",
    );

    // 422: a value that does not fit, a body that does not fit, a broken screenplay, settings.
    let unfit = server
        .post(
            &format!("{outline}/edit"),
            json!({"base_version": 1, "value": {"logline": 42}}),
        )
        .await;
    let unfit = unfit.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "unfit value");
    assert_eq!(unfit.body["error"]["details"]["path"], json!("value.logline"));
    let missing = server.post(&format!("{outline}/approve"), json!({})).await;
    missing.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "no version");
    let typed = server
        .post(&format!("{outline}/regenerate"), json!({"version": "one"}))
        .await;
    let typed = typed.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "a string version");
    assert_eq!(typed.body["error"]["details"]["path"], json!("version"));
    let script =
        json!({"workflow": "script2video", "script": BROKEN_SCREENPLAY, "settings": {"width": 320, "height": 180}});
    let broken = server.post("episodes", script).await;
    let broken = broken.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_screenplay", "screenplay");
    assert_eq!(broken.body["error"]["details"]["line"], json!(5));
    assert!(
        broken.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 5"))
    );
    let mut odd = episode_body("x", 6.0);
    odd["settings"]["width"] = json!(321);
    let odd =
        server
            .post("episodes", odd)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "odd width");
    assert_eq!(odd.body["error"]["details"]["path"], json!("settings.width"));
    let mut typo = episode_body("x", 6.0);
    typo["settings"]["fps"] = json!("fast");
    let typo =
        server
            .post("episodes", typo)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "fps");
    assert_eq!(typo.body["error"]["details"]["path"], json!("settings.fps"));
    let neither = json!({"workflow": "idea2video"});
    server
        .post("episodes", neither)
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", "no idea");

    // 416: a range past the end of an artifact.
    let blob = server.engine.blobs().put(b"0123456789".to_vec()).await.expect("put");
    let past = server
        .send(
            server
                .client
                .get(server.url(&format!("artifacts/{}", blob.0)))
                .header(header::RANGE, "bytes=10-"),
        )
        .await;
    let past = past.expect_error(StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable", "range");
    assert_eq!(past.headers[header::CONTENT_RANGE], "bytes */10");

    // Nothing of the above changed the episode.
    let outline_now = server.get(&outline).await.expect(StatusCode::OK, "outline");
    assert_eq!(
        (&outline_now.data()["state"], &outline_now.data()["current_version"]),
        (&json!("awaiting_approval"), &json!(1))
    );
    server.stop().await;
}

/// Every route of the router, as (method, path template): what the OpenAPI document must list.
pub(crate) const ROUTES: [(&str, &str); 38] = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/workflows"),
    ("GET", "/api/v1/workflows/{name}"),
    ("GET", "/api/v1/episodes"),
    ("POST", "/api/v1/episodes"),
    ("GET", "/api/v1/episodes/{id}"),
    ("DELETE", "/api/v1/episodes/{id}"),
    ("POST", "/api/v1/episodes/{id}/cancel"),
    ("POST", "/api/v1/episodes/{id}/fork"),
    ("GET", "/api/v1/episodes/{id}/events"),
    ("GET", "/api/v1/episodes/{id}/messages"),
    ("POST", "/api/v1/episodes/{id}/messages"),
    ("GET", "/api/v1/episodes/{id}/artifacts/{hash}"),
    ("GET", "/api/v1/episodes/{id}/nodes/{key}"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/approve"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/regenerate"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/edit"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/select"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/revert"),
    ("GET", "/api/v1/episodes/{id}/nodes/{key}/items/{item}"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/items/{item}/approve"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/items/{item}/regenerate"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/items/{item}/edit"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/items/{item}/select"),
    ("POST", "/api/v1/episodes/{id}/nodes/{key}/items/{item}/revert"),
    ("GET", "/api/v1/artifacts/{hash}"),
    ("GET", "/api/v1/series"),
    ("POST", "/api/v1/series"),
    ("GET", "/api/v1/series/{id}"),
    ("PUT", "/api/v1/series/{id}"),
    ("DELETE", "/api/v1/series/{id}"),
    ("GET", "/api/v1/series/{id}/artifacts/{hash}"),
    ("POST", "/api/v1/series/{id}/characters/{character}/references"),
    ("POST", "/api/v1/uploads"),
    ("GET", "/api/v1/uploads/{hash}"),
    ("POST", "/api/v1/admin/gc"),
    ("GET", "/metrics"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_open_and_lists_every_route() {
    let admin = "admin-secret-openapi";
    let keys = showrunner_api::ApiKeys::none().with(admin, showrunner_api::Role::Admin);
    let server = Server::start_with(|api| api.keys(keys)).await;
    // Served without a key, and the very document the tests check answers against.
    let served = server.get("openapi.json").await.expect(StatusCode::OK, "the document");
    let document = serde_json::to_value(showrunner_api::openapi()).expect("the document");
    assert_eq!(served.body, document, "the served document is the one built in process");
    assert_eq!(served.body["openapi"], json!("3.1.0"));
    assert_eq!(served.body["info"]["title"], json!("Showrunner"));

    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(
        contract().operations(),
        routes,
        "the document lists every route, and only those"
    );

    // Each operation is routed: a request to it, with placeholder parameters, reaches a handler
    // (the contract would refuse a fallback's 404 or 405) and, without a key, is refused with
    // 401 unless it is open.
    let origin = server.base.trim_end_matches("/api/v1").to_owned();
    let episode = EpisodeId::generate().to_string();
    for (method, template) in &routes {
        let path = template
            .replace("{id}", &episode)
            .replace("{key}", "outline")
            .replace("{item}", "nobody")
            .replace("{name}", "idea2video")
            .replace("{hash}", &"0".repeat(64))
            .replace("{character}", "nobody");
        let url = format!("{origin}{path}");
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let request = |key: Option<&str>| {
            let request = server.client.request(method.clone(), &url);
            let request = match method {
                Method::POST | Method::PUT => request.json(&json!({})),
                _ => request,
            };
            match key {
                Some(key) => request.bearer_auth(key),
                None => request,
            }
        };
        let (status, _, _) = fetch(request(Some(admin))).await;
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {template}: {status}"
        );
        let (status, _, _) = fetch(request(None)).await;
        let open = template == "/api/v1/health" || template == "/api/v1/openapi.json";
        assert_eq!(
            status == StatusCode::UNAUTHORIZED,
            !open,
            "{method} {template} without a key"
        );
    }
    server.stop().await;
}

/// An episode as `GET episodes/{id}` shows it, for checks of the contract itself.
fn episode_answer() -> Value {
    json!({
        "data": {
            "id": "01J0000000000000000000000Z",
            "workflow": "idea2video",
            "definition_version": "1",
            "status": "active",
            "created_at": 1_700_000_000_000u64,
            "seed": 11,
            "input": {"idea": "a kite"},
            "next_seq": 4,
            "nodes": [{
                "node": "outline",
                "state": "awaiting_approval",
                "current_version": 1,
                "approved_version": null,
                "version_count": 1,
                "artifacts": [],
            }],
        },
        "meta": {},
    })
}

#[test]
fn the_contract_refuses_what_the_document_does_not_say() {
    let contract = contract();
    let url: reqwest::Url = "http://127.0.0.1:1/api/v1/episodes/01J0000000000000000000000Z"
        .parse()
        .expect("a URL");
    let mut json_headers = HeaderMap::new();
    json_headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let check = |status: StatusCode, body: &Value| {
        let bytes = serde_json::to_vec(body).expect("JSON");
        contract.check(&Method::GET, &url, status, &json_headers, Some(&bytes))
    };
    let good = episode_answer();
    assert_eq!(check(StatusCode::OK, &good), Ok(()));

    let mut no_id = good.clone();
    no_id["data"].as_object_mut().expect("data").remove("id");
    let refused = check(StatusCode::OK, &no_id).expect_err("an episode without an id");
    assert!(refused.contains("\"id\""), "{refused}");
    let mut bad_state = good.clone();
    bad_state["data"]["nodes"][0]["state"] = json!("snoozing");
    check(StatusCode::OK, &bad_state).expect_err("an unknown state");
    let mut extra = good.clone();
    extra["data"]["nodes"][0]["secret"] = json!(true);
    check(StatusCode::OK, &extra).expect_err("a property the document does not list");
    let mut missing_null = good.clone();
    missing_null["data"]["nodes"][0]
        .as_object_mut()
        .expect("a node")
        .remove("approved_version");
    check(StatusCode::OK, &missing_null).expect_err("a nullable field is still required");

    // A status the operation does not document, an error body that is not the error format, a
    // content type the response does not have.
    check(StatusCode::IM_A_TEAPOT, &good).expect_err("418");
    check(StatusCode::NOT_FOUND, &good).expect_err("a 404 with an episode");
    let not_found = json!({"error": {"code": "episode_not_found", "message": "no", "details": {}}});
    assert_eq!(check(StatusCode::NOT_FOUND, &not_found), Ok(()));
    let unknown_code = json!({"error": {"code": "oops", "message": "no", "details": {}}});
    check(StatusCode::NOT_FOUND, &unknown_code).expect_err("a code the document does not list");
    let mut text = HeaderMap::new();
    text.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain"));
    contract
        .check(&Method::GET, &url, StatusCode::OK, &text, Some(b"hello"))
        .expect_err("text where JSON is documented");

    // No operation: only the router's fallbacks may answer.
    let nowhere: reqwest::Url = "http://127.0.0.1:1/api/v1/nowhere".parse().expect("a URL");
    let route_not_found = json!({"error": {"code": "route_not_found", "message": "no", "details": {}}});
    let bytes = serde_json::to_vec(&route_not_found).expect("JSON");
    let check_nowhere = |status| contract.check(&Method::GET, &nowhere, status, &json_headers, Some(&bytes));
    assert_eq!(check_nowhere(StatusCode::NOT_FOUND), Ok(()));
    check_nowhere(StatusCode::OK).expect_err("a 200 where no route is");
    contract
        .check(&Method::PATCH, &url, StatusCode::OK, &json_headers, Some(b"{}"))
        .expect_err("a method the path does not have");
    // The events of the stream have a schema too.
    let event = json!({"episode": "01J0000000000000000000000Z", "seq": 1, "at": 5, "type": "NodeReady", "key": {"node": "outline"}});
    assert_eq!(contract.validate_as("Event", &event), Ok(()));
    let mut unknown = event.clone();
    unknown["type"] = json!("NodeDreamt");
    contract
        .validate_as("Event", &unknown)
        .expect_err("an unknown event type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn episodes_list_in_pages_and_fork_cancel_and_delete() {
    let server = Server::start().await;
    server.get("health").await.expect(StatusCode::OK, "health");
    let mut ids = Vec::new();
    for idea in [
        "a kite that will not land",
        "a library that lends time",
        "a snowman in July",
    ] {
        ids.push(server.create(idea, 6.0).await);
    }
    let first = server.get("episodes?limit=2").await.expect(StatusCode::OK, "page 1");
    let page: Vec<&str> = first
        .data()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(page, vec![ids[2].as_str(), ids[1].as_str()], "newest first");
    let cursor = first.body["meta"]["next_cursor"].as_str().expect("a cursor");
    let second = server
        .get(&format!("episodes?limit=2&cursor={cursor}"))
        .await
        .expect(StatusCode::OK, "page 2");
    assert_eq!(second.data()[0]["id"], json!(ids[0]));
    assert_eq!(second.data().as_array().map(Vec::len), Some(1));
    assert_eq!(second.body["meta"]["next_cursor"], Value::Null);

    server.wait_gate(&ids[0], "outline", 1).await;
    let forked = server
        .post(&format!("episodes/{}/fork", ids[0]), json!({}))
        .await
        .expect(StatusCode::CREATED, "fork");
    let fork_id = forked.data()["id"].as_str().expect("an id").to_owned();
    assert_eq!(forked.data()["forked_from"], json!(ids[0]));
    let fork_outline = server.value(&fork_id, "outline").await;
    assert_eq!(fork_outline, server.value(&ids[0], "outline").await);

    let cancelled = server
        .post(&format!("episodes/{}/cancel", ids[1]), json!({}))
        .await
        .expect(StatusCode::OK, "cancel");
    assert_eq!(cancelled.data()["status"], json!("cancelled"));
    let again = server.post(&format!("episodes/{}/cancel", ids[1]), json!({})).await;
    again.expect_error(StatusCode::CONFLICT, "illegal_episode_action", "cancel twice");
    let listed = server
        .get("episodes?status=cancelled")
        .await
        .expect(StatusCode::OK, "cancelled");
    let cancelled_ids: BTreeSet<&str> = listed
        .data()
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(cancelled_ids, BTreeSet::from([ids[1].as_str()]));

    server
        .delete(&format!("episodes/{}", ids[2]))
        .await
        .expect(StatusCode::OK, "delete");
    server.get(&format!("episodes/{}", ids[2])).await.expect_error(
        StatusCode::NOT_FOUND,
        "episode_not_found",
        "deleted",
    );
    let all = server.get("episodes").await.expect(StatusCode::OK, "all");
    assert_eq!(all.data().as_array().map(Vec::len), Some(3), "two left and the fork");
    server.stop().await;
}

/// Reads the `listening on http://ADDR` line of `showrunner serve`.
fn listening_address(stdout: impl std::io::Read) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("a line");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn showrunner_serve_drains_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data: &Path = dir.path();
    let mut server = ServeProcess::start(data).await;
    let health = server.get("health").await;
    assert_eq!(health.data()["status"], json!("ok"));
    let created = server.post("episodes", episode_body("a moth that reads", 6.0)).await;
    let created = created.expect(StatusCode::CREATED, "create");
    let id = created.data()["id"].as_str().expect("id").to_owned();
    // An open event stream must not hold the shutdown up.
    let mut events = stream(server.client.get(server.url(&format!("episodes/{id}/events"))))
        .await
        .bytes_stream();
    assert!(events.next().await.is_some());

    let status = server.signal("-TERM").await;
    assert!(status.success(), "{status:?}");
    // The stream ended with the server.
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = events.next().await {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream closed");

    // The data directory reopens with the episode in it.
    let engine = open(data, workflows::all(&Backends::procedural()).expect("stock workflows")).await;
    assert!(engine.snapshot(id.parse().expect("id")).await.is_ok());
    engine.shutdown().await;
}

/// Sends `signal` (`-TERM`, `-KILL`) to `pid` with the `kill` command (the workspace forbids
/// `unsafe`, so no libc).
fn kill(signal: &str, pid: u32) -> bool {
    std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends SIGTERM to `pid`.
pub(crate) fn sigterm(pid: u32) -> bool {
    kill("-TERM", pid)
}

/// How long the kill -9 test may take in all; past it the test fails and kills its servers.
const KILL_TEST_BUDGET: Duration = Duration::from_secs(60);

/// How long one plain request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A `showrunner serve` process over a data directory, and a client for its API. Dropping it
/// kills the process (SIGKILL) and reaps it, so a test that fails leaves no server behind.
struct ServeProcess {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
    /// Kept open so that the server never writes into a closed pipe.
    _stdout: Option<std::process::ChildStdout>,
}

impl ServeProcess {
    /// Starts `showrunner --data DATA serve --addr 127.0.0.1:0` and reads the port it bound.
    async fn start(data: &Path) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_showrunner"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        // The guard owns the process from here: should the line never come, dropping the guard
        // kills the server, which closes the pipe and ends the blocking read.
        let mut server = Self {
            child,
            base: String::new(),
            client: reqwest::Client::new(),
            _stdout: None,
        };
        let read = tokio::task::spawn_blocking(move || {
            let mut stdout = stdout;
            (listening_address(&mut stdout), stdout)
        });
        let (origin, stdout) = tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("`showrunner serve` says where it listens in time")
            .expect("read the address");
        server.base = format!("{origin}/api/v1");
        server._stdout = Some(stdout);
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    async fn get(&self, path: &str) -> Answer {
        answer(self.client.get(self.url(path)).timeout(REQUEST_TIMEOUT)).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        answer(self.client.post(self.url(path)).json(&body).timeout(REQUEST_TIMEOUT)).await
    }

    async fn episode(&self, id: &str) -> Value {
        let episode = self
            .get(&format!("episodes/{id}"))
            .await
            .expect(StatusCode::OK, "episode");
        let data = episode.data().clone();
        let status = data["status"].as_str().unwrap_or("");
        assert!(status == "active" || status == "completed", "{data:#}");
        data
    }

    /// Sends a signal with the `kill` command and waits (bounded) for the process to exit.
    async fn signal(&mut self, signal: &str) -> std::process::ExitStatus {
        assert!(kill(signal, self.child.id()), "kill {signal}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            assert!(Instant::now() < deadline, "`showrunner serve` did not exit on {signal}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // Both are harmless on a process already reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_sigkill_mid_episode_the_server_restarts_and_finishes() {
    let dir = tempfile::tempdir().expect("tempdir");
    tokio::time::timeout(KILL_TEST_BUDGET, killed_mid_episode(dir.path()))
        .await
        .expect("the kill -9 test finishes within its budget");
}

async fn killed_mid_episode(data: &Path) {
    use std::os::unix::process::ExitStatusExt;

    let mut first = ServeProcess::start(data).await;
    let created = first
        .post("episodes", episode_body("a night train skips a station", 8.0))
        .await
        .expect(StatusCode::CREATED, "create");
    let id = created.data()["id"].as_str().expect("an id").to_owned();

    // Approve every gate as it opens (outline, characters, scenes, …); once the scenes are
    // approved, kill the server at the first sight of a running instance.
    let mut acknowledged: Vec<(Value, Value)> = Vec::new();
    let running = loop {
        let episode = first.episode(&id).await;
        assert_eq!(episode["status"], json!("active"), "the kill comes before the end");
        let scenes_approved = acknowledged.iter().any(|(gate, _)| gate["node"] == json!("scenes"));
        let running = episode["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .find(|n| n["state"] == json!("running"));
        if let (true, Some(running)) = (scenes_approved, running) {
            break running.clone();
        }
        for gate in gates(&episode) {
            let version = gate["current_version"].clone();
            let answer = first
                .post(&action_path(&id, gate, "approve"), json!({ "version": version }))
                .await;
            if answer.status.is_success() {
                acknowledged.push((gate.clone(), version));
            } else {
                assert_eq!(answer.status, StatusCode::CONFLICT, "approve {gate}: {:#}", answer.body);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let status = first.signal("-KILL").await;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    drop(first);
    let approved_before: Vec<&str> = acknowledged
        .iter()
        .map(|(gate, _)| gate["node"].as_str().unwrap_or(""))
        .collect();
    for node in ["outline", "characters", "scenes"] {
        assert!(
            approved_before.contains(&node),
            "{node} approved before the kill: {approved_before:?}"
        );
    }

    // A new server on the same data directory: every acknowledged approval is still there.
    let mut second = ServeProcess::start(data).await;
    for (gate, version) in &acknowledged {
        let instance = second
            .get(&instance_path(&id, gate))
            .await
            .expect(StatusCode::OK, "an instance approved before the kill");
        let shown = instance.data();
        assert_eq!(
            (&shown["state"], &shown["current_version"], &shown["approved_version"]),
            (&json!("approved"), version, version),
            "{gate} after the restart: {shown:#}"
        );
    }

    // Drive the episode to its end: every gate approved as it opens, the final one included.
    let done = loop {
        let episode = second.episode(&id).await;
        if episode["status"] == json!("completed") {
            break episode;
        }
        for gate in gates(&episode) {
            let answer = second
                .post(
                    &action_path(&id, gate, "approve"),
                    json!({ "version": gate["current_version"] }),
                )
                .await;
            assert!(
                answer.status == StatusCode::OK || answer.status == StatusCode::CONFLICT,
                "approve {gate}: {:#}",
                answer.body
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        done["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|n| n["state"] == json!("approved")),
        "{done:#}"
    );

    // The whole event log, across the crash: 1..N with no gap and no duplicate.
    let response = stream(second.client.get(second.url(&format!("episodes/{id}/events?from=1")))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut reader = SseReader::from(response);
    let log = reader.events_until("EpisodeCompleted").await;
    drop(reader);
    let seqs: Vec<u64> = log.iter().map(|(seq, _)| *seq).collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "every event exactly once, in order");
    for (seq, event) in &log {
        assert_eq!((&event["seq"], &event["episode"]), (&json!(seq), &json!(id)));
    }
    assert_eq!(
        second.episode(&id).await["next_seq"],
        json!(seqs.len() + 1),
        "EpisodeCompleted is the last event"
    );
    // Each approval acknowledged before the kill is in the log once.
    for (gate, version) in &acknowledged {
        let approvals = log
            .iter()
            .filter(|(_, e)| {
                e["type"] == json!("Approved")
                    && e["key"]["node"] == gate["node"]
                    && e["key"]["item"] == gate["item"]
                    && e["version"] == *version
            })
            .count();
        assert_eq!(approvals, 1, "{gate} v{version}");
    }
    let interrupted = log
        .iter()
        .filter(|(_, e)| e["type"] == json!("NodeInterrupted"))
        .count();
    eprintln!(
        "killed while {} was running, after {} approvals; {} events, {interrupted} runs interrupted",
        instance_path(&id, &running),
        acknowledged.len(),
        log.len()
    );

    // The final MP4 is served.
    let last = second
        .get(&format!("episodes/{id}/nodes/final"))
        .await
        .expect(StatusCode::OK, "final");
    let hash = blob_hash(&last.data()["value"]["video"]);
    let video = second
        .client
        .get(second.url(&format!("artifacts/{hash}")))
        .timeout(REQUEST_TIMEOUT);
    let (status, headers, mp4) = fetch(video).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "video/mp4");
    assert!(mp4.len() > 2000 && &mp4[4..8] == b"ftyp", "{} bytes", mp4.len());

    // And the restarted server still stops cleanly.
    let status = second.signal("-TERM").await;
    assert!(status.success(), "{status:?}");
}
