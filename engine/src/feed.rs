//! [`EventFeed`]: how an engine hears of the events that other processes commit to a store
//! they share, so that it streams any episode's events, whichever process writes them.

use tokio::sync::watch;

use crate::ids::EpisodeId;

/// Tells of the events committed to a shared store by every process on it (PostgreSQL's
/// `LISTEN/NOTIFY`).
pub trait EventFeed: Send + Sync {
    /// A watch of `episode`: it changes whenever events of the episode are committed by any
    /// process from the moment this returns, or may have been (the feed has just started
    /// listening, or was cut and is back: what it may have missed, it cannot tell).
    fn watch(&self, episode: EpisodeId) -> EventWatch;
}

/// One episode's [`EventFeed::watch`]. The feed keeps it registered while it lives.
pub struct EventWatch {
    changes: watch::Receiver<()>,
    /// Dropped after `changes`: a registration that finds no receiver left may go.
    _registration: Box<dyn Send + Sync>,
}

impl EventWatch {
    /// A watch whose changes `changes` tells of, kept registered while `registration` lives.
    pub fn new(changes: watch::Receiver<()>, registration: Box<dyn Send + Sync>) -> Self {
        Self {
            changes,
            _registration: registration,
        }
    }

    /// Waits until the episode may have new events; `false` once the feed has ended (its
    /// listener is gone) and nothing more will come.
    pub async fn changed(&mut self) -> bool {
        self.changes.changed().await.is_ok()
    }
}
