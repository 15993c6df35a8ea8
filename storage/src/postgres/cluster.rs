//! A throwaway PostgreSQL server for tests and benches: `initdb` into a temporary directory,
//! started on a free port (listening on 127.0.0.1 and a socket in that directory), stopped and
//! removed when dropped. PostgreSQL refuses to run as root, so as root both run as the
//! `postgres` user that Debian's `postgresql` package creates (through `runuser`).
//!
//! The binaries are found in `SHOWRUNNER_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's layout), else on `PATH`.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running PostgreSQL server over a temporary data directory.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PgCluster {
    /// Creates a cluster in a new temporary directory and starts it.
    pub fn start() -> io::Result<Self> {
        let bin = binaries()?;
        let dir = tempfile::Builder::new().prefix("showrunner-pg-").tempdir()?;
        let as_postgres = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self")?) == 0;
        if as_postgres {
            let user = postgres_user()?;
            std::os::unix::fs::chown(dir.path(), Some(user.0), Some(user.1))?;
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let cluster = Self {
            dir,
            bin,
            port,
            as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        cluster.start_server()?;
        Ok(cluster)
    }

    /// A URL for the database `name` (`postgres` exists from the start).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates the database `name` (lower-case letters, digits and `_`) and gives its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        plain_name(name)?;
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
                &format!("CREATE DATABASE \"{name}\""),
            ],
        )?;
        Ok(self.url(name))
    }

    /// Runs `sql` in the database `name` with `psql` (for tests that reach under a store).
    pub fn psql(&self, name: &str, sql: &str) -> io::Result<String> {
        plain_name(name)?;
        let out = self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                name,
                "-qAt",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Stops the server at once (as a crash would: `immediate` mode), then starts it again.
    pub fn restart(&self) -> io::Result<()> {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"])?;
        self.start_server()
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start_server(&self) -> io::Result<()> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map(drop)
    }

    /// Runs one of the PostgreSQL programs, as `postgres` when this process is root; an error
    /// holds its output when it fails.
    fn run(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = command.args(args).current_dir(self.dir.path()).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{} {} failed ({}): {}{}",
                path.display(),
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(out)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

/// Refuses a database name that is not plain (lower-case letters, digits and `_`), which would
/// need quoting in SQL and in `psql`'s arguments.
fn plain_name(name: &str) -> io::Result<()> {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    match plain {
        true => Ok(()),
        false => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{name}` is not a plain database name"),
        )),
    }
}

/// The directory of `initdb`, `pg_ctl` and `psql`.
fn binaries() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SHOWRUNNER_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let debian = Path::new("/usr/lib/postgresql");
    if let Ok(entries) = std::fs::read_dir(debian) {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
            .filter(|(_, bin)| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Ok(bin);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no PostgreSQL: install Debian's `postgresql`, or set SHOWRUNNER_PG_BIN",
            )
        })
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> io::Result<(u32, u32)> {
    let out = Command::new("id").args(["-u", "postgres"]).output()?;
    let group = Command::new("id").args(["-g", "postgres"]).output()?;
    let number = |o: &Output| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok();
    match (out.status.success(), number(&out), number(&group)) {
        (true, Some(uid), Some(gid)) => Ok((uid, gid)),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            "running as root, and there is no `postgres` user to run PostgreSQL as (install Debian's `postgresql`)",
        )),
    }
}
