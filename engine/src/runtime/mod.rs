//! The runtime: the actor that owns each episode, node runs, the [`Engine`](crate::Engine)
//! handle, recovery after a restart, event subscriptions, episode creation, the blob pins that
//! keep garbage collection safe, episodes held in a store several processes share, and the
//! workers that perform queued runs.

pub(crate) mod actor;
pub(crate) mod collection;
pub(crate) mod creation;
pub(crate) mod engine;
pub(crate) mod holding;
pub(crate) mod loading;
pub(crate) mod pins;
pub(crate) mod queued;
pub(crate) mod recovery;
pub(crate) mod run;
pub(crate) mod subscription;
pub(crate) mod worker;
