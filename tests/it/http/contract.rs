//! The OpenAPI document as a contract every answer is checked against, and the tests of the
//! document itself: it is served open, lists every route, and the contract refuses what it
//! does not say.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use showrunner::engine::EpisodeId;

use super::*;

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

/// Every route of the router, as (method, path template): what the OpenAPI document must list.
pub(crate) const ROUTES: [(&str, &str); 39] = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/workflows"),
    ("GET", "/api/v1/workflows/{name}"),
    ("GET", "/api/v1/episodes"),
    ("POST", "/api/v1/episodes"),
    ("GET", "/api/v1/inbox"),
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
            "seed": "11",
            "input": {"idea": "a kite"},
            "next_seq": 4,
            "nodes": [{
                "node": "outline",
                "state": "awaiting_approval",
                "attempts": 1,
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
