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
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

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
    /// The episode's actor, in this process (whose engine the stream's end asks, when the
    /// actor stops, whether the episode moved to another process).
    Here(broadcast::Receiver<Event>, Weak<Shared>),
    /// The store's feed: another process writes the episode.
    Feed(EventWatch),
}

/// Events of one episode from a sequence number on.
pub struct EventStream {
    episode: EpisodeId,
    store: Arc<dyn Store>,
    live: Live,
    next_seq: u64,
    buffer: VecDeque<Event>,
    from_store: bool,
}

impl EventStream {
    /// The events of an episode this process holds, live ones from its actor's channel.
    pub(crate) fn new(
        shared: &Arc<Shared>,
        episode: EpisodeId,
        live: broadcast::Receiver<Event>,
        from_seq: u64,
    ) -> Self {
        let live = Live::Here(live, Arc::downgrade(shared));
        Self::with(episode, shared.store.clone(), live, from_seq)
    }

    /// The events of an episode another process holds, heard of through the store's feed.
    pub(crate) fn fed(episode: EpisodeId, store: Arc<dyn Store>, watch: EventWatch, from_seq: u64) -> Self {
        Self::with(episode, store, Live::Feed(watch), from_seq)
    }

    fn with(episode: EpisodeId, store: Arc<dyn Store>, live: Live, from_seq: u64) -> Self {
        Self {
            episode,
            store,
            live,
            next_seq: from_seq.max(1),
            buffer: VecDeque::new(),
            from_store: true,
        }
    }

    /// The sequence number of the next event this stream yields.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next event; `None` once the episode is deleted, the engine shuts down, or the store
    /// closes. When the episode's actor here stops because another process took the episode,
    /// the stream goes on with the store's feed.
    pub async fn next(&mut self) -> Option<Result<Event, StoreError>> {
        // Whether the store was read because of a wake that may mean the episode was deleted.
        let mut woken = false;
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if event.seq < self.next_seq {
                    continue;
                }
                self.next_seq = event.seq + 1;
                return Some(Ok(event));
            }
            if self.from_store {
                match self.store.events(self.episode, self.next_seq, PAGE) {
                    Ok(page) if page.is_empty() => self.from_store = false,
                    Ok(page) => {
                        self.buffer.extend(page);
                        continue;
                    }
                    Err(e) => return Some(Err(e)),
                }
                if std::mem::take(&mut woken) {
                    match self.store.load_header(self.episode) {
                        Ok(Some(_)) => {}
                        Ok(None) => return None,
                        Err(e) => return Some(Err(e)),
                    }
                }
            }
            match &mut self.live {
                Live::Here(live, shared) => match live.recv().await {
                    Ok(event) if event.seq < self.next_seq => {}
                    Ok(event) if event.seq == self.next_seq => {
                        self.next_seq += 1;
                        return Some(Ok(event));
                    }
                    // A gap (the channel dropped events for us): the store has them.
                    Ok(_) | Err(RecvError::Lagged(_)) => self.from_store = true,
                    Err(RecvError::Closed) => {
                        let shared = shared.upgrade()?;
                        if shared.shut_down.load(Ordering::SeqCst) {
                            return None;
                        }
                        // Listening before the store is read again: nothing falls between.
                        self.live = Live::Feed(shared.store.event_feed()?.watch(self.episode));
                        self.from_store = true;
                        woken = true;
                    }
                },
                Live::Feed(watch) => {
                    // The store is read when told of a commit, and every `FEED_POLL` besides.
                    if let Ok(false) = tokio::time::timeout(FEED_POLL, watch.changed()).await {
                        return None;
                    }
                    self.from_store = true;
                    woken = true;
                }
            }
        }
    }

    /// The stream as a `futures::Stream`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Event, StoreError>> + Send {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|e| (e, s)) })
    }
}
