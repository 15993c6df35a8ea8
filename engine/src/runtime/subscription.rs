//! A subscriber's view of an episode's events: stored events first, then live ones, with no gap
//! and no duplicate across the switch.
//!
//! The live events come from the episode's actor when this process holds the episode, and from
//! the store's [`EventFeed`] when another process does. Either way the subscription listens
//! *before* it reads the store, so an event committed in between is either in the store read or
//! heard of after it; sequence numbers drop the overlap. A subscriber that falls behind the
//! actor's channel goes back to the store; one on a feed reads the store each time it hears of
//! a commit (and every few seconds besides, in case a notification was lost). Events reach the
//! channel, and the feed, only after the commit that holds them is durable.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::error::StoreError;
use crate::events::Event;
use crate::feed::EventWatch;
use crate::ids::EpisodeId;
use crate::runtime::engine::Shared;
use crate::store::Store;

const PAGE: usize = 512;
/// How often a stream fed by the store's feed reads the store with no notification.
const FEED_POLL: Duration = Duration::from_secs(5);

/// Where a stream hears of new events.
enum Live {
    /// The episode's actor, in this process.
    Here(broadcast::Receiver<Event>),
    /// The store's feed: another process writes the episode.
    Feed(EventWatch),
}

/// Events of one episode from a sequence number on.
pub struct EventStream {
    episode: EpisodeId,
    store: Arc<dyn Store>,
    live: Live,
    /// Cancelled when the engine shuts down: the stream ends.
    stopped: CancellationToken,
    next_seq: u64,
    buffer: VecDeque<Event>,
    from_store: bool,
    /// Whether the store is to be read because of a wake that may mean the episode was deleted.
    woken: bool,
}

impl EventStream {
    /// The events of an episode this process holds, live ones from its actor's channel.
    pub(crate) fn new(shared: &Shared, episode: EpisodeId, live: broadcast::Receiver<Event>, from_seq: u64) -> Self {
        Self::with(shared, episode, Live::Here(live), from_seq)
    }

    /// The events of an episode another process holds, heard of through the store's feed.
    pub(crate) fn fed(shared: &Shared, episode: EpisodeId, watch: EventWatch, from_seq: u64) -> Self {
        Self::with(shared, episode, Live::Feed(watch), from_seq)
    }

    fn with(shared: &Shared, episode: EpisodeId, live: Live, from_seq: u64) -> Self {
        Self {
            episode,
            store: shared.store.clone(),
            live,
            stopped: shared.shut_down.clone(),
            next_seq: from_seq.max(1),
            buffer: VecDeque::new(),
            from_store: true,
            woken: false,
        }
    }

    /// The sequence number of the next event this stream yields.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next event; `None` once the episode is deleted or the engine shuts down. When the
    /// episode's actor here stops while the engine goes on (another process took the episode),
    /// the stream goes on with the store's feed, where the store has one.
    pub async fn next(&mut self) -> Option<Result<Event, StoreError>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if event.seq < self.next_seq {
                    continue;
                }
                self.next_seq = event.seq + 1;
                return Some(Ok(event));
            }
            if self.from_store {
                let (episode, from) = (self.episode, self.next_seq);
                match self.read(move |store| store.events(episode, from, PAGE)).await {
                    Ok(page) if page.is_empty() => self.from_store = false,
                    Ok(page) => {
                        self.buffer.extend(page);
                        continue;
                    }
                    Err(_) if self.stopped.is_cancelled() => return None,
                    Err(e) => return Some(Err(e)),
                }
                if std::mem::take(&mut self.woken) {
                    match self.read(move |store| store.load_header(episode)).await {
                        Ok(Some(_)) => {}
                        Ok(None) => return None,
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
            match &mut self.live {
                Live::Here(live) => match live.recv().await {
                    Ok(event) if event.seq < self.next_seq => {}
                    Ok(event) if event.seq == self.next_seq => {
                        self.next_seq += 1;
                        return Some(Ok(event));
                    }
                    // A gap (the channel dropped events for us): the store has them.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.from_store = true,
                    Err(RecvError::Closed) => {
                        if self.stopped.is_cancelled() {
                            return None;
                        }
                        // Listening before the store is read again: nothing falls between.
                        self.live = Live::Feed(self.store.event_feed()?.watch(self.episode));
                        self.from_store = true;
                        self.woken = true;
                    }
                },
                Live::Feed(watch) => {
                    // The store is read when told of a commit, and every `FEED_POLL` besides.
                    tokio::select! {
                        biased;
                        () = self.stopped.cancelled() => return None,
                        changed = tokio::time::timeout(FEED_POLL, watch.changed()) => {
                            if let Ok(false) = changed {
                                return None;
                            }
                        }
                    }
                    self.from_store = true;
                    self.woken = true;
                }
            }
        }
    }

    /// Reads the store off the runtime's workers (a read of a shared store waits on the network).
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || read(store.as_ref()))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// The stream as a `futures::Stream`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Event, StoreError>> + Send {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|e| (e, s)) })
    }
}
