//! The pure core: what an episode is and how commands change it. Nothing here reads a clock, a
//! store or the network; the runtime persists what it decides, then acts.

pub(crate) mod command;
pub(crate) mod definition;
pub(crate) mod episode;
pub(crate) mod fingerprint;
pub(crate) mod gate;
pub(crate) mod lifecycle;
pub(crate) mod retry;
pub(crate) mod scheduler;
