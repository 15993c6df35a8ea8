//! Slow and many clients against the real `showrunner serve` (issue 11, item 3): health answers
//! while 10,000 slow connections are held by a server started with the usual soft limit of 1024
//! open files; a half-sent request, a silent connection and a stalled body are closed after
//! their timeouts; one connection over the cap is answered `503 too_many_connections`. And the
//! log filter: `SHOWRUNNER_LOG`, else `RUST_LOG`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::http::answer;

/// A `showrunner serve` child with some environment, on 127.0.0.1:0. Dropping it kills it.
struct ServeChild {
    child: Child,
    addr: String,
    /// Reads the server's stderr as it comes, so that a chatty log never fills the pipe.
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl ServeChild {
    /// Starts the server under `sh`, which first sets the soft open-file limit to `soft_fds`
    /// (the hard limit is left as it is), as a login shell's default would.
    fn start(data: &Path, env: &[(&str, &str)], soft_fds: u64) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -Sn {soft_fds} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_showrunner"))
            .arg("--data")
            .arg(data)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env_remove("SHOWRUNNER_LOG")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let stderr = Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        }));
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("the address line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_owned();
        Self { child, addr, stderr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1/{path}", self.addr)
    }

    /// SIGTERM, then everything the server wrote to stderr.
    fn stop(mut self) -> String {
        assert!(crate::http::sigterm(self.child.id()));
        let _ = self.child.wait();
        self.stderr
            .take()
            .map(|reader| reader.join().expect("the stderr reader"))
            .unwrap_or_default()
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that opens a new connection for each request.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

/// Raises this test process's soft open-file limit to its hard limit; returns it.
fn raise_own_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).expect("raise the open-file limit")
}

/// Opens `count` connections to `addr`, 256 at a time (within the listen backlog); on every
/// other one sends half a request line.
async fn hold(addr: &str, count: usize) -> Vec<TcpStream> {
    futures::stream::iter(0..count)
        .map(|i| async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            if i % 2 == 0 {
                stream
                    .write_all(b"GET /api/v1/health HT")
                    .await
                    .expect("send half a line");
            }
            stream
        })
        .buffer_unordered(256)
        .collect()
        .await
}

/// True when the server has closed `stream` (end of file or reset) within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_ten_thousand_slow_connections_are_held() {
    let limit = raise_own_fd_limit();
    // Room for the test's own files; where the hard limit is lower, as many as it allows.
    let count = 10_000.min(usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(1_000));
    assert!(
        count >= 2_000,
        "the open-file hard limit ({limit}) is too low for this test"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // Started with a soft limit of 1024, as a shell gives it: the server raises its own, or it
    // runs out of descriptors at about 1,000 connections and stops answering.
    let server = ServeChild::start(dir.path(), &[("SHOWRUNNER_HEADER_TIMEOUT_S", "60")], 1024);
    let started = Instant::now();
    // Without the raised limit the server stops accepting and the connections wait in vain.
    let mut held = tokio::time::timeout(Duration::from_secs(60), hold(&server.addr, count))
        .await
        .expect("the server accepts every connection");
    eprintln!("{count} connections held in {:?}", started.elapsed());

    let asked = Instant::now();
    let health = answer(fresh_client().get(server.url("health"))).await;
    let took = asked.elapsed();
    assert_eq!(health.status, StatusCode::OK, "{:#}", health.body);
    assert!(took < Duration::from_secs(2), "health took {took:?}");
    // The slow ones are still open, not refused or closed to make room.
    for stream in held.iter_mut().step_by(97) {
        assert!(!closed_within(stream, Duration::from_millis(1)).await);
    }
    drop(held);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_silent_and_stalled_connections_are_closed_after_their_timeouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServeChild::start(
        dir.path(),
        &[
            ("SHOWRUNNER_HEADER_TIMEOUT_S", "0.5"),
            ("SHOWRUNNER_IDLE_TIMEOUT_S", "1"),
        ],
        1024,
    );
    let connect = || TcpStream::connect(&server.addr);
    let started = Instant::now();
    let mut half = connect().await.expect("connect");
    half.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("send half a head");
    let mut silent = connect().await.expect("connect");
    // A whole head and a body that stops after its first byte.
    let mut stalled = connect().await.expect("connect");
    stalled
        .write_all(
            b"POST /api/v1/episodes HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .expect("send a head and a byte");

    assert!(closed_within(&mut half, Duration::from_secs(5)).await, "half a head");
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "nothing sent");
    let heads = started.elapsed();
    assert!(
        heads >= Duration::from_millis(450) && heads < Duration::from_secs(3),
        "{heads:?}"
    );
    assert!(
        closed_within(&mut stalled, Duration::from_secs(5)).await,
        "a stalled body"
    );
    let body = started.elapsed();
    assert!(
        body >= Duration::from_millis(950) && body < Duration::from_secs(4),
        "{body:?}"
    );

    // A whole request is answered, and its connection kept alive until the header timeout.
    let mut whole = connect().await.expect("connect");
    whole
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send a request");
    let mut buf = [0u8; 512];
    let n = whole.read(&mut buf).await.expect("an answer");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let idle = Instant::now();
    assert!(
        closed_within(&mut whole, Duration::from_secs(5)).await,
        "kept alive, idle"
    );
    assert!(idle.elapsed() >= Duration::from_millis(400), "{:?}", idle.elapsed());
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_is_answered_503_and_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = ServeChild::start(dir.path(), &[("SHOWRUNNER_MAX_CONNECTIONS", "8")], 1024);
    let held = hold(&server.addr, 8).await;
    // The held ones take the slots once accepted; until then a request may still get one.
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let health = answer(fresh_client().get(server.url("health"))).await;
        if health.status != StatusCode::OK || Instant::now() > deadline {
            break health;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let refused = refused.expect_error(StatusCode::SERVICE_UNAVAILABLE, "too_many_connections", "over the cap");
    assert_eq!(refused.body["error"]["details"]["max_connections"], 8);
    let connection = refused.headers.get("connection").and_then(|v| v.to_str().ok());
    assert_eq!(connection, Some("close"));

    // Once they go, their slots are free again.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let health = answer(fresh_client().get(server.url("health"))).await;
        if health.status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "{:#}", health.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_filter_is_showrunner_log_else_rust_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let debug = ServeChild::start(dir.path(), &[("RUST_LOG", "debug")], 1024).stop();
    assert!(debug.contains("DEBUG"), "RUST_LOG=debug logs debug lines:\n{debug}");
    let dir = tempfile::tempdir().expect("tempdir");
    let warn = ServeChild::start(dir.path(), &[("SHOWRUNNER_LOG", "warn"), ("RUST_LOG", "debug")], 1024).stop();
    assert!(!warn.contains("DEBUG"), "SHOWRUNNER_LOG comes first:\n{warn}");
}
