//! The steps a test takes on the page: run a script, wait for the page, find, click, type,
//! and take the README's screenshots.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use serde_json::Value;

/// How long a wait for the page lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(60);

/// With `SHOWRUNNER_SCREENSHOTS=DIR`, saves the page as `DIR/NAME.png` (the README's pictures
/// of the studio are made so); otherwise nothing.
pub async fn snap(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("SHOWRUNNER_SCREENSHOTS") else {
        return;
    };
    // Lets images and transitions settle.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let png = client.screenshot().await.expect("a screenshot");
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the screenshot directory");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
}

/// Runs `script` (a function body; `arguments` are the args) in the page.
pub async fn js(client: &Client, script: &str, args: Vec<Value>) -> Value {
    client
        .execute(script, args)
        .await
        .unwrap_or_else(|e| panic!("the script failed: {e}\n{script}"))
}

/// Polls `script` until it returns something truthy (not null, false, 0 or ""), which it gives
/// back; fails after [`WAIT`] naming `what`.
pub async fn until(client: &Client, what: &str, script: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = js(client, script, vec![]).await;
        let truthy = match &value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            _ => true,
        };
        if truthy {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The element `css` names, once it is there.
pub async fn find(client: &Client, css: &str) -> Element {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
}

/// Clicks the element `css` names.
pub async fn click(client: &Client, css: &str) {
    click_at(client, Locator::Css(css), css).await;
}

/// Clicks what `locator` finds; found again when the page redrew it between the find and the
/// click (a live page redraws as events arrive).
pub async fn click_at(client: &Client, locator: Locator<'_>, what: &str) {
    for _ in 0..20 {
        let element = client
            .wait()
            .at_most(WAIT)
            .for_element(locator)
            .await
            .unwrap_or_else(|e| panic!("no `{what}` on the page: {e}"));
        match element.click().await {
            Ok(()) => return,
            Err(e) if e.to_string().contains("stale element") => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot click `{what}`: {e}"),
        }
    }
    panic!("`{what}` kept being redrawn");
}

/// Types `text` into the element `css` names.
pub async fn type_into(client: &Client, css: &str, text: &str) {
    find(client, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
}

/// Replaces what the field `css` names holds with `text`, typed as a person would.
pub async fn retype(client: &Client, css: &str, text: &str) {
    let field = find(client, css).await;
    field
        .clear()
        .await
        .unwrap_or_else(|e| panic!("cannot clear `{css}`: {e}"));
    field
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
}
