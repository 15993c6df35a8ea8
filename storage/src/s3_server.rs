//! A throwaway S3 server for tests: `s3rver` (from the npm registry; `.ci/s3rver` installs it
//! into a cache) on a free port over a temporary directory, with one bucket, stopped when
//! dropped. Found at `SHOWRUNNER_S3RVER` (the path of its `bin/s3rver.js`), else in the cache
//! `.ci/s3rver` fills.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket the server starts with.
pub const BUCKET: &str = "showrunner";

/// A running `s3rver`.
pub struct S3Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts the server and waits until it takes connections.
    pub fn start() -> io::Result<Self> {
        let script = script()?;
        let dir = tempfile::Builder::new().prefix("showrunner-s3-").tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("node")
            .arg(&script)
            .arg("-d")
            .arg(dir.path())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--silent",
                "--configure-bucket",
                BUCKET,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let server = Self { child, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "s3rver ({}) did not listen in 30 s",
                    script.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// The settings that reach it, as AWS's environment variables name them.
    pub fn settings(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ACCESS_KEY_ID", "S3RVER".into()),
            ("AWS_SECRET_ACCESS_KEY", "S3RVER".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `s3rver`'s script.
fn script() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("SHOWRUNNER_S3RVER") {
        return Ok(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    let cached = home.join(".cache/showrunner-s3rver/node_modules/s3rver/bin/s3rver.js");
    match cached.is_file() {
        true => Ok(cached),
        false => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no s3rver: run `bash .ci/s3rver` (npm), or set SHOWRUNNER_S3RVER to its bin/s3rver.js",
        )),
    }
}
