//! Series: what episodes share (a bible, a cast), stored on their own and copied into each new
//! episode's input.

use serde_json::{Value, json};

use crate::error::{EngineError, Result};
use crate::idempotency::{IdempotencyRecord, IdempotencyToken, Outcome};
use crate::ids::{SeriesId, now_ms};
use crate::record::SeriesRecord;
use crate::runtime::engine::Engine;

/// What an episode of `series` finds under `"series"` in its input: the content's fields with
/// the series' `id`, `title` and `revision` (the content's own fields of those names lose).
pub(crate) fn as_input(series: &SeriesRecord) -> Value {
    let mut fields = match &series.content {
        Value::Object(fields) => fields.clone(),
        other => serde_json::Map::from_iter([("content".to_owned(), other.clone())]),
    };
    fields.insert("id".into(), json!(series.id));
    fields.insert("title".into(), json!(series.title));
    fields.insert("revision".into(), json!(series.revision));
    Value::Object(fields)
}

impl Engine {
    /// Creates a series; returns it once durable. A blob that `content` names and that is not
    /// stored is [`EngineError::MissingBlob`].
    pub async fn create_series(&self, title: String, content: Value) -> Result<SeriesRecord> {
        self.create_owned_series(None, title, content, None).await
    }

    /// Creates a series that belongs to `owner` (a user or team; see [`SeriesRecord::owner`]),
    /// with `token`'s idempotency record in the same write; returns it once durable. Updates
    /// keep the owner.
    pub async fn create_owned_series(
        &self,
        owner: Option<String>,
        title: String,
        content: Value,
        token: Option<IdempotencyToken>,
    ) -> Result<SeriesRecord> {
        // The blobs it names exist, and stay until the record is durable.
        let _pinned = self.pin_existing(&content).await?;
        let now = now_ms();
        let record = SeriesRecord {
            id: SeriesId::generate(),
            title,
            content,
            revision: 1,
            created_at: now,
            updated_at: now,
            owner,
        };
        let once = token.map(|t| IdempotencyRecord::new(t, now, Outcome::Series { record: record.clone() }));
        self.shared.store.put_series(&record, once.as_ref()).await?;
        Ok(record)
    }

    /// Replaces a series' title and content. `revision` must be the current one (optimistic
    /// concurrency: two people editing the same bible cannot overwrite each other unseen).
    /// Episodes already made keep the content they were made with. A blob that `content` names
    /// and that is not stored is [`EngineError::MissingBlob`].
    pub async fn update_series(
        &self,
        id: SeriesId,
        revision: u32,
        title: String,
        content: Value,
    ) -> Result<SeriesRecord> {
        let _pinned = self.pin_existing(&content).await?;
        let _write = self.shared.series_writes.lock().await;
        let mut record = self.series(id)?;
        let conflict = |current| EngineError::SeriesConflict {
            series: id,
            given: revision,
            current,
        };
        if record.revision != revision {
            return Err(conflict(record.revision));
        }
        record.title = title;
        record.content = content;
        record.revision += 1;
        record.updated_at = now_ms().max(record.updated_at);
        // Another process may have written it since it was read: the store checks again.
        if !self.shared.store.replace_series(&record, revision).await? {
            return Err(conflict(self.series(id)?.revision));
        }
        Ok(record)
    }

    /// One series.
    pub fn series(&self, id: SeriesId) -> Result<SeriesRecord> {
        self.shared.store.series(id)?.ok_or(EngineError::SeriesNotFound(id))
    }

    /// Every series, in id order (creation order, to the millisecond).
    pub fn all_series(&self) -> Result<Vec<SeriesRecord>> {
        Ok(self.shared.store.all_series()?)
    }

    /// Deletes a series. Its episodes stay, with the copy of it they were made with.
    pub async fn delete_series(&self, id: SeriesId) -> Result<()> {
        let _write = self.shared.series_writes.lock().await;
        self.series(id)?;
        Ok(self.shared.store.delete_series(id).await?)
    }
}
