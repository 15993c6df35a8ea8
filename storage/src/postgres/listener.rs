//! The store's notifications: one connection per store that `LISTEN`s for the runs pushed, the
//! results reported and the events committed by every process on the database, and wakes those
//! here who wait for them. Notifications are best effort (those sent while the connection is
//! being made again are lost), so when the listener connects again it wakes everyone, who read
//! the database afresh; the waiters poll besides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use showrunner_engine::{EpisodeId, EventFeed, EventWatch};
use tokio::sync::{Notify, watch};
use tokio_postgres::{AsyncMessage, Config, NoTls};

use crate::group_commit::lock;

/// The channel pushes notify.
pub(super) const RUNS: &str = "showrunner_runs";
/// The channel reports notify.
pub(super) const RESULTS: &str = "showrunner_results";
/// The channel commits with events (and deletions of episodes) notify, with the episode's id.
pub(super) const EVENTS: &str = "showrunner_events";
/// How long the listener waits before it connects again after losing its connection.
const RECONNECT: Duration = Duration::from_secs(1);

/// What the listener wakes.
pub(super) struct Listener {
    /// Waiters for runs to take.
    pub(super) runs: Arc<Notify>,
    /// Waiters for results to apply.
    pub(super) results: Arc<Notify>,
    /// The episodes whose events someone here streams.
    events: Arc<Watchers>,
}

impl Listener {
    /// Starts listening with `config` on the current runtime, for as long as it lives.
    pub(super) fn start(config: Config) -> Self {
        let listener = Self {
            runs: Arc::new(Notify::new()),
            results: Arc::new(Notify::new()),
            events: Arc::default(),
        };
        tokio::spawn(listen(
            config,
            listener.runs.clone(),
            listener.results.clone(),
            listener.events.clone(),
        ));
        listener
    }
}

impl EventFeed for Listener {
    fn watch(&self, episode: EpisodeId) -> EventWatch {
        let changes = lock(&self.events.0)
            .entry(episode)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        EventWatch::new(
            changes,
            Box::new(Registration {
                watchers: self.events.clone(),
                episode,
            }),
        )
    }
}

/// Each watched episode's channel.
#[derive(Default)]
struct Watchers(Mutex<HashMap<EpisodeId, watch::Sender<()>>>);

impl Watchers {
    fn wake(&self, episode: EpisodeId) {
        if let Some(sender) = lock(&self.0).get(&episode) {
            sender.send_modify(|()| {});
        }
    }

    fn wake_all(&self) {
        for sender in lock(&self.0).values() {
            sender.send_modify(|()| {});
        }
    }
}

/// Keeps an episode's channel while a watch of it lives; the last one to go removes it.
struct Registration {
    watchers: Arc<Watchers>,
    episode: EpisodeId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut watchers = lock(&self.watchers.0);
        if watchers.get(&self.episode).is_some_and(|s| s.receiver_count() == 0) {
            watchers.remove(&self.episode);
        }
    }
}

/// Wakes every waiter, and the next one to wait when none does.
fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}

/// Listens on the three channels, connecting again when the connection is lost (and waking
/// everyone once listening again, since notifications may have been missed).
async fn listen(config: Config, runs: Arc<Notify>, results: Arc<Notify>, events: Arc<Watchers>) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
            let sql = format!("LISTEN {RUNS}; LISTEN {RESULTS}; LISTEN {EVENTS}");
            let subscribe = client.batch_execute(&sql);
            tokio::pin!(subscribe);
            let mut subscribed = false;
            loop {
                tokio::select! {
                    done = &mut subscribe, if !subscribed => {
                        if done.is_err() {
                            break;
                        }
                        subscribed = true;
                        wake(&runs);
                        wake(&results);
                        events.wake_all();
                    }
                    message = messages.next() => match message {
                        Some(Ok(AsyncMessage::Notification(n))) => match n.channel() {
                            RUNS => wake(&runs),
                            RESULTS => wake(&results),
                            EVENTS => {
                                if let Ok(episode) = n.payload().parse() {
                                    events.wake(episode);
                                }
                            }
                            _ => {}
                        },
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    },
                }
            }
        }
        tokio::time::sleep(RECONNECT).await;
    }
}
