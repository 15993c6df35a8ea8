//! Showrunner's storage: [`SledStore`], the engine's `Store` on sled 0.34, and [`FsBlobStore`],
//! the content-addressed blob store.
//!
//! Durability contract (DESIGN §3):
//! - A commit (events, instance snapshots, version values and the status index of one episode)
//!   is applied as one atomic sled batch, and its future resolves only after the flush that
//!   covers it. Commits that wait at the same moment share one batch and one flush (group
//!   commit): sled's background flush is switched off and never relied on, and sled's own flush
//!   (`sync_file_range`) is followed by an `fdatasync` of its log, so a commit survives power
//!   loss, not only a crash of the process.
//! - The store carries a format version; an unknown one is refused on open.
//! - A record that does not decode is reported with its episode; the other episodes load.
//! - Blobs are written through a temporary file, fsync, rename and directory fsync.
//!
//! ```no_run
//! # async fn demo() -> Result<(), showrunner_engine::StoreError> {
//! use showrunner_storage::{FsBlobStore, SledStore};
//! let store = SledStore::open("showrunner-data/store")?;
//! let blobs = FsBlobStore::open("showrunner-data/blobs")?;
//! # Ok(()) }
//! ```

mod blobs;
mod group_commit;
mod keys;
mod sled_store;

pub use blobs::FsBlobStore;
pub use group_commit::CommitStats;
pub use sled_store::{FORMAT_VERSION, SledStore};
