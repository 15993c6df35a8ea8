//! Tells the other processes of the commits with events: once a group of commits is durable,
//! the episodes it wrote events of are notified on `showrunner_events` (see the `listener`
//! module), from a connection of its own whose transactions do not wait for a WAL flush.
//!
//! Not in the commit's own transaction: PostgreSQL commits the transactions that notify one at
//! a time (each holds the notification queue's lock through its commit, flush included), which
//! would undo the overlapping flushes of the group commit (`benches/postgres.rs` lost 40% of
//! its transitions that way). A notice lost (a crash between a commit and its notice, a
//! connection cut) is made up for by the streams, which read the table every few seconds too.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::{Client, Config, NoTls, Statement};

use super::listener::EVENTS;

/// How long the notifier waits before it connects again after failing to.
const RECONNECT: Duration = Duration::from_secs(1);

/// The queue of episodes to notify; its task ends when it is dropped.
pub(super) struct Notifier {
    queue: mpsc::UnboundedSender<Vec<String>>,
}

impl Notifier {
    /// Starts the notifier on the current runtime; it connects with `config` when first needed.
    pub(super) fn start(config: Config) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        tokio::spawn(notify(config, waiting));
        Self { queue }
    }

    /// Notifies that events of `episodes` were committed (soon, with others waiting then).
    pub(super) fn committed(&self, episodes: Vec<String>) {
        if !episodes.is_empty() {
            let _ = self.queue.send(episodes);
        }
    }
}

/// Sends what waits, all of it in one statement, until the queue closes.
async fn notify(config: Config, mut waiting: mpsc::UnboundedReceiver<Vec<String>>) {
    let mut connected: Option<(Client, Statement)> = None;
    while let Some(mut episodes) = waiting.recv().await {
        while let Ok(more) = waiting.try_recv() {
            episodes.extend(more);
        }
        episodes.sort_unstable();
        episodes.dedup();
        if connected.as_ref().is_none_or(|(client, _)| client.is_closed()) {
            connected = connect(&config).await;
        }
        let Some((client, statement)) = &connected else {
            tokio::time::sleep(RECONNECT).await;
            continue;
        };
        if client.execute(statement, &[&episodes]).await.is_err() {
            connected = None;
        }
    }
}

/// A connection whose commits do not wait for their WAL flush (they carry nothing to keep), and
/// its notifying statement.
async fn connect(config: &Config) -> Option<(Client, Statement)> {
    let (client, connection) = config.connect(NoTls).await.ok()?;
    tokio::spawn(connection);
    client.batch_execute("SET synchronous_commit = off").await.ok()?;
    let sql = format!("SELECT pg_notify('{EVENTS}', e) FROM unnest($1::text[]) AS e");
    let statement = client.prepare(&sql).await.ok()?;
    Some((client, statement))
}
