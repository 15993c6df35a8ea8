//! A subscriber's view of an episode's events: stored events first, then live ones, with no gap
//! and no duplicate across the switch.
//!
//! The subscription listens to the live channel *before* it reads the store, so an event committed
//! in between is either in the store read or in the channel; sequence numbers drop the overlap.
//! A subscriber that falls behind the channel goes back to the store. Events reach the channel
//! only after the commit that holds them is durable.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::error::StoreError;
use crate::events::Event;
use crate::ids::EpisodeId;
use crate::store::Store;

const PAGE: usize = 512;

/// Events of one episode from a sequence number on.
pub struct EventStream {
    episode: EpisodeId,
    store: Arc<dyn Store>,
    live: broadcast::Receiver<Event>,
    next_seq: u64,
    buffer: VecDeque<Event>,
    from_store: bool,
    /// For a finished episode without an actor here: the sender of a channel nothing sends
    /// on, which keeps the stream open after the stored events, as an actor's would.
    _quiet: Option<broadcast::Sender<Event>>,
}

impl EventStream {
    pub(crate) fn new(
        episode: EpisodeId,
        store: Arc<dyn Store>,
        live: broadcast::Receiver<Event>,
        from_seq: u64,
    ) -> Self {
        Self {
            episode,
            store,
            live,
            next_seq: from_seq.max(1),
            buffer: VecDeque::new(),
            from_store: true,
            _quiet: None,
        }
    }

    /// The events of a finished episode, all in the store: no live ones will come.
    pub(crate) fn finished(episode: EpisodeId, store: Arc<dyn Store>, from_seq: u64) -> Self {
        let (quiet, live) = broadcast::channel(1);
        Self {
            _quiet: Some(quiet),
            ..Self::new(episode, store, live, from_seq)
        }
    }

    /// The sequence number of the next event this stream yields.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The next event; `None` once the episode's actor has stopped (shutdown or deletion).
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
                match self.store.events(self.episode, self.next_seq, PAGE) {
                    Ok(page) if page.is_empty() => self.from_store = false,
                    Ok(page) => {
                        self.buffer.extend(page);
                        continue;
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
            match self.live.recv().await {
                Ok(event) if event.seq < self.next_seq => {}
                Ok(event) if event.seq == self.next_seq => {
                    self.next_seq += 1;
                    return Some(Ok(event));
                }
                // A gap (the channel dropped events for us): the store has them.
                Ok(_) | Err(RecvError::Lagged(_)) => self.from_store = true,
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The stream as a `futures::Stream`.
    pub fn into_stream(self) -> impl futures::Stream<Item = Result<Event, StoreError>> + Send {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|e| (e, s)) })
    }
}
