//! A failed run on the page: the inbox names it, its panel shows the error and the attempt, and
//! Retry runs it again. The server runs in this process, over an engine with a workflow whose
//! node fails its first attempt (the stock workflows do not fail on demand).

use showrunner::nodes::stages::Backends;
use showrunner::workflows;

use super::browser::Browser;
use super::steps::{click, until};
use crate::http::Server;
use crate::support::open;

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_shows_its_error_and_attempt_and_a_retry_runs_it_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut defs = workflows::all(&Backends::procedural()).expect("stock workflows");
    defs.push(crate::inbox::waiting_workflow());
    let engine = open(dir.path(), defs).await;
    let server = Server::over_with(engine, dir, |api| api.pages(showrunner_studio::router())).await;
    let id = server
        .engine
        .create_episode("waits", serde_json::json!({}), 3)
        .await
        .expect("create")
        .to_string();
    let origin = server.origin().to_owned();
    let server = &server;
    Browser::open((1280, 800))
        .await
        .run("failure", |c| async move {
            c.goto(&format!("{origin}/")).await.expect("the inbox");
            let link = format!("/episodes/{id}/nodes/broken");
            let listed = until(
                &c,
                "the failure in the inbox",
                &format!(
                    "const a = document.querySelector('ul.inbox a[href=\"{link}\"]');
                     return a && a.parentElement.textContent;"
                ),
            )
            .await;
            let listed = listed.as_str().unwrap_or_default();
            assert!(
                listed.contains("failed") && listed.contains("the model file is missing (attempt 1)"),
                "{listed}"
            );
            click(&c, &format!("ul.inbox a[href=\"{link}\"]")).await;
            let failure = until(
                &c,
                "the failure in its panel",
                "return document.querySelector('.failure')?.textContent;",
            )
            .await;
            let failure = failure.as_str().unwrap_or_default();
            assert!(
                failure.contains("Failed (attempt 1): the model file is missing"),
                "{failure}"
            );
            click(&c, ".failure button").await;
            until(
                &c,
                "the retried run's value",
                "return !document.querySelector('.failure') && document.body.textContent.includes('made on attempt');",
            )
            .await;
            let shown = server.get(&format!("episodes/{id}/nodes/broken")).await;
            assert_eq!(shown.data()["state"], "approved", "{:#}", shown.body);
            assert_eq!(shown.data()["attempts"], 2);
        })
        .await;
}
