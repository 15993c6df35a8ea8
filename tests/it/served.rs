//! A real `showrunner serve` process over a data directory, for the tests that kill it: start
//! it on a free port, talk to it over HTTP, SIGKILL it, start it again on the same data.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// How long a server may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One answer, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// True when the answer is a replay of a stored one.
    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v.as_bytes() == b"true")
    }

    /// The `data` of a success.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
}

/// A `showrunner serve` process. Dropping it kills the process (SIGKILL) and reaps it, so a
/// test that fails leaves no server behind.
pub(crate) struct Served {
    child: Child,
    base: String,
    /// The client (no connection pool: every request is a fresh connection, as a client that
    /// lost its server would make).
    pub client: reqwest::Client,
}

impl Served {
    /// Starts `showrunner --data DATA serve --addr 127.0.0.1:0` (the binary built with the
    /// tests, or `$SHOWRUNNER_BIN`), its log appended to `log` (inherited when `None`), and
    /// reads the address it bound.
    pub async fn start(data: &Path, log: Option<&PathBuf>) -> Self {
        Self::start_at(data, log, "127.0.0.1:0").await
    }

    /// [`Served::start`] on the address `addr` (a restart on the same port keeps the origin a
    /// page was loaded from).
    pub async fn start_at(data: &Path, log: Option<&PathBuf>, addr: &str) -> Self {
        Self::launch(data, None, log, addr, &[]).await
    }

    /// [`Served::start`] with the episodes in the PostgreSQL database at `store`.
    pub async fn start_on(data: &Path, store: &str, log: Option<&PathBuf>) -> Self {
        Self::launch(data, Some(store), log, "127.0.0.1:0", &[]).await
    }

    /// [`Served::start_on`] with a lease of `lease` seconds (`--lease`): one of several
    /// servers on the database.
    pub async fn member_on(data: &Path, store: &str, log: Option<&PathBuf>, lease: &str) -> Self {
        Self::launch(data, Some(store), log, "127.0.0.1:0", &["--lease", lease]).await
    }

    /// [`Served::start_on`] with more arguments after `serve`.
    pub async fn launch_with(data: &Path, store: &str, log: Option<&PathBuf>, more: &[&str]) -> Self {
        Self::launch(data, Some(store), log, "127.0.0.1:0", more).await
    }

    async fn launch(data: &Path, store: Option<&str>, log: Option<&PathBuf>, addr: &str, more: &[&str]) -> Self {
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open the server log"),
            ),
            None => Stdio::inherit(),
        };
        let binary = std::env::var_os("SHOWRUNNER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_showrunner").into());
        let mut command = Command::new(binary);
        if let Some(store) = store {
            command.args(["--store", store]);
        }
        let mut child = command
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", addr])
            .args(more)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("a client");
        let mut served = Self {
            child,
            base: String::new(),
            client,
        };
        // The first line says where it listens; what follows (the runs its worker performs)
        // is appended to `LOG.out` as it comes, so that the server never blocks on a full pipe.
        let out = log.map(|l| l.with_extension("out"));
        let (first, line_read) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = first.send(line);
            let mut sink: Box<dyn std::io::Write> =
                match out.and_then(|o| std::fs::OpenOptions::new().create(true).append(true).open(o).ok()) {
                    Some(file) => Box::new(file),
                    None => Box::new(std::io::sink()),
                };
            let _ = std::io::copy(&mut reader, &mut sink);
        });
        let line = tokio::time::timeout(START_TIMEOUT, line_read)
            .await
            .expect("`showrunner serve` says where it listens in time")
            .expect("read the address");
        let origin = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("not an address: {line:?}"));
        served.base = format!("{origin}/api/v1");
        served
    }

    /// Where the server answers: `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        self.base.trim_end_matches("/api/v1")
    }

    /// The URL of an API path.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILLs the process and reaps it.
    pub fn kill(&mut self) {
        // `Child::kill` sends SIGKILL on Unix.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends a request and reads the whole answer; `None` when no answer came (the server died or
/// the request timed out).
pub(crate) async fn send(request: reqwest::RequestBuilder) -> Option<Reply> {
    let response = request.send().await.ok()?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.ok()?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Some(Reply { status, headers, body })
}

/// Polls until `f` gives `Some`, or panics after `timeout` naming `what`.
pub(crate) async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = f().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
