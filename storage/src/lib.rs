//! Showrunner's storage: [`SledStore`], the engine's `Store` on sled 0.34 (the embedded
//! default); [`PgStore`], the same `Store` on PostgreSQL (for several processes on one
//! database); and the content-addressed blob stores, [`FsBlobStore`] (files in one directory)
//! and [`ObjectBlobStore`] (S3 and servers that speak its protocol).
//!
//! Durability contract (DESIGN §3):
//! - A commit (events, instance snapshots, version values and the status index of one episode)
//!   is appended to a write-ahead journal as part of one atomic record, then applied to sled, and its future
//!   resolves only after the `fdatasync` of the journal that covers it. Commits that wait at the
//!   same moment share one record and one sync (group commit). sled writes back in the
//!   background; a checkpoint (sled's flush, which ends in `sync_file_range`, then an
//!   `fdatasync` of its log and its blob files) makes sled's files durable before the journal
//!   starts over, so a commit survives power loss, not only a crash of the process. On open the
//!   journal's records are applied again (see the `journal` module).
//! - A commit is answered once durable, before sled has it; every read first waits until the
//!   commits answered before it started are applied, so a read sees every answered commit.
//! - The store carries a format version; an unknown one is refused on open.
//! - A record that does not decode is reported with its episode; the other episodes load.
//! - Blobs are written through a temporary file, fsync, rename and directory fsync.
//! - A full file system fails the write at hand with `StoreError::Full` and nothing else: the
//!   store keeps room for sled's own writes (sled does not survive a failed write), blobs stop
//!   short of that room, and writes go through again once space is freed.
//! - One process per store: a second one is refused with `StoreError::InUse`, which names the
//!   process holding it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), showrunner_engine::StoreError> {
//! use showrunner_storage::{FsBlobStore, SledStore};
//! let store = SledStore::open("showrunner-data/store")?;
//! let blobs = FsBlobStore::open("showrunner-data/blobs")?;
//! # Ok(()) }
//! ```

mod blobs;
#[cfg(test)]
mod conformance;
mod copy;
mod group_commit;
mod journal;
mod keys;
mod lock;
mod object_blobs;
mod postgres;
#[cfg(any(test, feature = "test-cluster"))]
mod s3_server;
mod sled_store;

pub use blobs::FsBlobStore;
pub use copy::{CopyReport, copy};
pub use group_commit::CommitStats;
pub use object_blobs::ObjectBlobStore;
#[cfg(any(test, feature = "test-cluster"))]
pub use postgres::cluster::PgCluster;
pub use postgres::{PgRunQueue, PgStore, SCHEMA_VERSION, redacted_url};
#[cfg(any(test, feature = "test-cluster"))]
pub use s3_server::{BUCKET, S3Server};
pub use sled_store::{FORMAT_VERSION, SledStore};
