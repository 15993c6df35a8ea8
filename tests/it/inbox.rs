//! `GET inbox`: what waits for a person across episodes (gates to approve, candidates to pick,
//! quality gates out of tries, failed runs), newest episode first, a page of episodes at a time;
//! finished episodes and those with nothing waiting are left out.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::{Value, json};
use showrunner::engine::{Escalation, Gate, Node, NodeCtx, NodeError, NodeSpec, RetryPolicy, WorkflowDef};
use showrunner::nodes::stages::Backends;
use showrunner::workflows;

use crate::http::Server;
use crate::support::open;

/// The inbox's episodes, as (id, [(node, reason)]).
fn entries(inbox: &Value) -> Vec<(String, Vec<(String, String)>)> {
    inbox["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| {
            let waiting = entry["waiting"]
                .as_array()
                .expect("what waits")
                .iter()
                .map(|w| {
                    (
                        w["node"].as_str().unwrap_or("").to_owned(),
                        w["reason"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            (entry["episode"].as_str().unwrap_or("").to_owned(), waiting)
        })
        .collect()
}

/// Polls the inbox until `done` holds for it.
async fn inbox_until(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let inbox = server.get("inbox").await.expect(StatusCode::OK, "the inbox");
        if done(&inbox.body) {
            return inbox.body;
        }
        assert!(Instant::now() < deadline, "waiting for {what}: {:#}", inbox.body);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Fails its first attempt, for good (no retry by itself); a person's retry succeeds.
struct Broken;

#[async_trait]
impl Node for Broken {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        match ctx.attempt() {
            1 => Err(NodeError::permanent("the model file is missing")),
            n => Ok(json!({"made on attempt": n})),
        }
    }
}

/// Makes a value that scores below any bar.
struct Poor;

#[async_trait]
impl Node for Poor {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, ctx: &NodeCtx) -> Result<Value, NodeError> {
        Ok(json!({"seed": ctx.seed()}))
    }

    async fn score(&self, _: &Value, _: &Value, _: &NodeCtx) -> Result<f64, NodeError> {
        Ok(0.1)
    }
}

/// Fails for a while (the GPU is busy), retrying by itself: its episode runs with nothing
/// waiting for a person.
struct Busy;

#[async_trait]
impl Node for Busy {
    type Input = Value;
    type Output = Value;

    async fn run(&self, _: Value, _: &NodeCtx) -> Result<Value, NodeError> {
        Err(NodeError::retryable("GPU busy"))
    }
}

/// An episode that retries in a minute: open, with nothing waiting for a person.
fn busy_workflow() -> WorkflowDef {
    let later = RetryPolicy {
        max_attempts: 5,
        initial_delay: Duration::from_secs(60),
        max_delay: Duration::from_secs(60),
        multiplier: 1.0,
        jitter: 0.0,
    };
    WorkflowDef::builder("busy")
        .node(NodeSpec::single("render", Busy).retry(later))
        .build()
        .expect("a valid workflow")
}

/// A workflow whose nodes each end waiting for a person, each for its own reason.
pub(crate) fn waiting_workflow() -> WorkflowDef {
    WorkflowDef::builder("waits")
        .node(NodeSpec::single("broken", Broken))
        .node(NodeSpec::single("poor", Poor).gate(Gate::Quality {
            min_score: 0.5,
            max_attempts: 2,
            then: Escalation::Human,
        }))
        .node(NodeSpec::single("choice", Poor).gate(Gate::Candidates { n: 2 }))
        .build()
        .expect("a valid workflow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_lists_what_waits_newest_first_a_page_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut defs = workflows::all(&Backends::procedural()).expect("stock workflows");
    defs.push(waiting_workflow());
    defs.push(busy_workflow());
    let engine = open(dir.path(), defs).await;
    let server = Server::over(engine, dir).await;
    let empty = server.get("inbox").await.expect(StatusCode::OK, "an empty inbox");
    assert_eq!(empty.body["data"], json!([]));
    assert_eq!(empty.body["meta"]["next_cursor"], Value::Null);

    // A stock episode at its outline gate, then one whose nodes wait for every other reason.
    let waiting = server.create("a lighthouse keeper finds a map", 2.0).await;
    server.wait_gate(&waiting, "outline", 1).await;
    // Between them, one that runs with nothing waiting: left out, and paged over.
    let busy = server
        .engine
        .create_episode("busy", json!({}), 3)
        .await
        .expect("create")
        .to_string();
    let waits = server
        .engine
        .create_episode("waits", json!({}), 3)
        .await
        .expect("create")
        .to_string();
    let inbox = inbox_until(&server, "both episodes, all waiting", |inbox| {
        let listed = entries(inbox);
        listed.len() == 2 && listed[0].1.len() == 3
    })
    .await;
    let listed = entries(&inbox);
    assert_eq!(listed[0].0, waits, "newest first: {inbox:#}");
    let reasons = [("broken", "failed"), ("poor", "escalated"), ("choice", "pick")]
        .map(|(node, reason)| (node.to_owned(), reason.to_owned()));
    assert_eq!(listed[0].1, reasons, "in the workflow's order");
    let failure = &inbox["data"][0]["waiting"][0];
    assert_eq!(failure["last_error"], "the model file is missing");
    assert_eq!(
        (failure["state"].as_str(), failure["attempts"].as_u64()),
        (Some("failed"), Some(1))
    );
    assert_eq!(failure["current_version"], Value::Null);
    assert_eq!(inbox["data"][0]["status"], "failed");
    assert_eq!(inbox["data"][0]["waiting"][1]["attempts"], 2, "two tries below the bar");
    assert_eq!(
        listed[1],
        (waiting.clone(), vec![("outline".to_owned(), "approval".to_owned())])
    );
    let outline = &inbox["data"][1]["waiting"][0];
    assert_eq!(outline["current_version"], 1);
    assert!(outline["since"].as_u64().is_some(), "{outline:#}");
    assert_eq!(inbox["data"][1]["title"], "a lighthouse keeper finds a map");

    let retrying = server.get(&format!("episodes/{busy}/nodes/render")).await;
    assert_eq!(retrying.data()["state"], "waiting_to_retry", "{:#}", retrying.body);
    assert!(!entries(&inbox).iter().any(|(id, _)| *id == busy));

    // A page of one, then the next from its cursor, over the busy episode.
    let first = server
        .get("inbox?limit=1")
        .await
        .expect(StatusCode::OK, "a page of one");
    assert_eq!(entries(&first.body)[0].0, waits);
    let cursor = first.body["meta"]["next_cursor"].as_str().expect("a cursor").to_owned();
    let second = server
        .get(&format!("inbox?limit=1&cursor={cursor}"))
        .await
        .expect(StatusCode::OK, "the next page");
    assert_eq!(entries(&second.body)[0].0, waiting);
    assert_eq!(second.body["meta"]["next_cursor"], Value::Null);

    // Approved to the end: the episode leaves the inbox; the failed one stays.
    server.approve_all(&waiting).await;
    let after = server.get("inbox").await.expect(StatusCode::OK, "the inbox");
    assert_eq!(
        entries(&after.body).into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
        [waits]
    );

    // Bad parameters are named.
    for (query, word) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=nope", "nope"),
        ("colour=red", "colour"),
    ] {
        let refused =
            server
                .get(&format!("inbox?{query}"))
                .await
                .expect_error(StatusCode::BAD_REQUEST, "bad_request", query);
        let message = refused.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(word), "{query}: {message}");
    }
}
