//! Reading a store that `showrunner serve` holds, through its API: `serve` leaves its address in
//! `DATA/serve.json` while it runs, and `episodes list|show` and `export` read through it when
//! the store is in use, as any HTTP client would (with `SHOWRUNNER_API_KEY` as the bearer key
//! when the server asks for one).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The file `serve` writes into the data directory while it runs.
const SERVE_FILE: &str = "serve.json";

/// Where a running `serve` answers.
#[derive(Debug, Serialize, Deserialize)]
struct Served {
    pid: u32,
    url: String,
}

/// Marks the data directory as served at `url` until dropped.
pub struct ServeMark(PathBuf);

impl ServeMark {
    /// Writes `DATA/serve.json` for this process, served at `url`.
    pub fn write(data: &Path, url: &str) -> anyhow::Result<Self> {
        let path = data.join(SERVE_FILE);
        let served = Served {
            pid: std::process::id(),
            url: url.to_owned(),
        };
        std::fs::write(&path, serde_json::to_vec(&served)?).with_context(|| format!("writing {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for ServeMark {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A running server's API.
pub struct Remote {
    base: String,
    client: reqwest::Client,
    key: Option<String>,
}

impl Remote {
    /// The server that process `pid` runs over `data`, if it is a `serve` that left its address.
    pub fn of(data: &Path, pid: Option<u32>) -> Option<Remote> {
        let text = std::fs::read(data.join(SERVE_FILE)).ok()?;
        let served: Served = serde_json::from_slice(&text).ok()?;
        if pid.is_some_and(|pid| pid != served.pid) {
            return None;
        }
        Some(Remote {
            base: format!("{}/api/v1", served.url.trim_end_matches('/')),
            client: reqwest::Client::new(),
            key: std::env::var("SHOWRUNNER_API_KEY").ok().filter(|k| !k.is_empty()),
        })
    }

    /// The server's address, for messages.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/{path}", self.base);
        let mut request = self.client.get(&url);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("reaching the running server at {url}"))?;
        match response.status() {
            s if s.is_success() => Ok(response),
            reqwest::StatusCode::UNAUTHORIZED => bail!(
                "the running server at {} asks for an API key: set SHOWRUNNER_API_KEY to one of its keys",
                self.base
            ),
            status => {
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let message = body["error"]["message"].as_str().unwrap_or("no message");
                bail!("the running server answered {status} for {path}: {message}")
            }
        }
    }

    /// The `data` of the JSON answer to `GET path`, with its `meta`.
    pub async fn get(&self, path: &str) -> anyhow::Result<(Value, Value)> {
        let mut body: Value = self
            .send(path)
            .await?
            .json()
            .await
            .with_context(|| format!("reading the answer to {path}"))?;
        Ok((body["data"].take(), body["meta"].take()))
    }

    /// Every episode of `GET episodes` the key may see, newest first, page after page.
    pub async fn episodes(&self) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("episodes?limit=200&cursor={c}"),
                None => "episodes?limit=200".to_owned(),
            };
            let (page, meta) = self.get(&path).await?;
            all.extend(page.as_array().cloned().unwrap_or_default());
            match meta["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(all),
            }
        }
    }

    /// The bytes of `GET path`.
    pub async fn bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = self
            .send(path)
            .await?
            .bytes()
            .await
            .with_context(|| format!("reading {path}"))?;
        Ok(bytes.to_vec())
    }
}
