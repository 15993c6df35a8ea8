//! Blob garbage collection and uploads: what keeps a blob, and the pins that make a collection
//! safe against every writer in flight (see [`crate::runtime::pins`] for the protocol).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{EngineError, Result};
use crate::ids::{ContentHash, now_ms};
use crate::record::UploadRecord;
use crate::runtime::engine::Engine;
use crate::runtime::pins::{Pinned, Sweeper};
use crate::store::{BlobRef, GcStats};

/// Kept beyond the age of the oldest queued run (every blob its worker wrote is younger than
/// it): room for the blob store's clock to differ from the database's.
const QUEUE_MARGIN: Duration = Duration::from_secs(300);

/// How long an upload that nothing references is kept, whatever the grace a collection is given:
/// a client told that its image is stored has this long to name it in a series.
pub const UPLOAD_RETENTION: Duration = Duration::from_secs(24 * 3600);

impl Engine {
    /// Stores an uploaded blob and records the upload, durably, before it resolves: a collection
    /// keeps it for [`UPLOAD_RETENTION`] even while nothing references it. `owner` is who
    /// uploaded it, when API keys have owners.
    pub async fn upload(&self, bytes: Vec<u8>, owner: Option<String>) -> Result<BlobRef> {
        let _pinned = self.shared.pins.hold([ContentHash::of(&bytes)]);
        let blob = self.shared.blobs.put(bytes).await?;
        let record = UploadRecord {
            blob: blob.0,
            created_at: now_ms(),
            owner,
        };
        self.shared.store.put_upload(&record).await?;
        Ok(blob)
    }

    /// Every upload record, oldest upload first per blob.
    pub fn uploads(&self) -> Result<Vec<UploadRecord>> {
        Ok(self.shared.store.uploads()?)
    }

    /// The upload records of one blob, oldest first: who uploaded it, and when.
    pub fn uploads_of(&self, blob: ContentHash) -> Result<Vec<UploadRecord>> {
        Ok(self.shared.store.uploads_of(blob)?)
    }

    /// Pins every blob `value` names and checks that each is stored: the pin holds until the
    /// returned holder is dropped, after the commit that references them.
    pub(crate) async fn pin_existing(&self, value: &Value) -> Result<Pinned> {
        self.pin_blobs(BlobRef::find_all(value)).await
    }

    /// Pins `blobs` and checks that each is stored ([`EngineError::MissingBlob`] if not).
    pub(crate) async fn pin_blobs(&self, blobs: Vec<ContentHash>) -> Result<Pinned> {
        let pinned = self.shared.pins.hold(blobs.iter().copied());
        for blob in blobs {
            if !self.shared.blobs.contains(BlobRef(blob)).await? {
                return Err(EngineError::MissingBlob(BlobRef(blob)));
            }
        }
        Ok(pinned)
    }

    /// Deletes the blobs older than `grace` that nothing needs: no stored version, episode input,
    /// series or upload younger than [`UPLOAD_RETENTION`] references them, and no commit on its
    /// way names them (runs in flight, uploads, edits, series updates, forks: whatever the
    /// grace, even zero). One collection runs at a time; upload records past their retention
    /// are dropped. On a store several processes share, the grace is at least
    /// [`Engine::min_collection_grace`], and longer than the oldest run queued for workers has
    /// waited and run (see [`crate::Store::queued_blobs`]).
    pub async fn collect_garbage(&self, grace: Duration) -> Result<GcStats> {
        let grace = grace.max(self.min_collection_grace());
        let _one = self.shared.collecting.lock().await;
        // Protection starts before the references are read (see `crate::runtime::pins`).
        let _collecting = self.shared.pins.begin_collection();
        let mut live = HashSet::new();
        // Runs on workers: what they reported and has not been applied yet (read before the
        // episodes, so that a result applied in between is in one or the other), and what they
        // are writing now (younger than the oldest run in the queue).
        let (queued, oldest) = self.shared.store.queued_blobs()?;
        live.extend(queued);
        let grace = oldest.map_or(grace, |age| grace.max(age + QUEUE_MARGIN));
        for loaded in self.shared.store.load_episodes(&[])? {
            let Ok(episode) = loaded else {
                // A corrupt episode's blobs cannot be told apart: keep everything this round.
                return Ok(GcStats::default());
            };
            live.extend(BlobRef::find_all(&episode.header.input));
            for record in &episode.instances {
                for version in &record.versions {
                    live.extend(version.blobs.iter().copied());
                }
            }
        }
        // Reference images of series characters.
        for series in self.shared.store.all_series()? {
            live.extend(BlobRef::find_all(&series.content));
        }
        let retention = u64::try_from(UPLOAD_RETENTION.as_millis()).unwrap_or(u64::MAX);
        let cutoff = now_ms().saturating_sub(retention);
        for upload in self.shared.store.uploads()? {
            if upload.created_at >= cutoff {
                live.insert(upload.blob);
            } else {
                self.shared.store.delete_upload(&upload).await?;
            }
        }
        let sweeper = Arc::new(Sweeper {
            pins: self.shared.pins.clone(),
            live,
        });
        Ok(self.shared.blobs.collect(sweeper, grace).await?)
    }
}
