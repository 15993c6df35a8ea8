//! A database's URL as messages show it: without the user or password.

use std::str::FromStr;

/// The database `url` names, for messages: `postgres://HOST:PORT/DB`, without the user or
/// password (a placeholder when it does not parse).
pub fn redacted_url(url: &str) -> String {
    match tokio_postgres::Config::from_str(url) {
        Ok(config) => shown_url(&config),
        Err(_) => "(a PostgreSQL URL that does not parse)".into(),
    }
}

/// The database a configuration names, for messages: `postgres://HOST:PORT/DB`, without
/// the user or password.
fn shown_url(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("postgres://{host}:{port}/{}", config.get_dbname().unwrap_or("postgres"))
}
