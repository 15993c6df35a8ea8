//! The records beside the episodes: series and upload records, for [`PgStore`]'s `Store`
//! methods of those names.

#[cfg(doc)]
use showrunner_engine::Store;
use showrunner_engine::{ContentHash, IdempotencyRecord, SeriesId, SeriesRecord, StoreError, UploadRecord};

use super::records::{self, decode, encode};
use super::{PgStore, backend};

impl PgStore {
    /// [`Store::put_series`].
    pub(super) async fn write_series(
        &self,
        series: &SeriesRecord,
        once: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let (id, record) = (series.id.to_string(), encode(series)?);
        let once = once
            .map(|o| Ok::<_, StoreError>((o.key.clone(), encode(o)?)))
            .transpose()?;
        self.write(move |mut client| async move {
            let tx = client.transaction().await.map_err(backend)?;
            tx.execute(
                "INSERT INTO series (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                &[&id, &record],
            )
            .await
            .map_err(backend)?;
            if let Some((key, record)) = once {
                records::put_idempotency(&tx, &key, &record).await?;
            }
            tx.commit().await.map_err(backend)
        })
        .await
    }

    /// [`Store::replace_series`]: the check and the write under the row's lock.
    pub(super) async fn write_series_over(&self, series: &SeriesRecord, previous: u32) -> Result<bool, StoreError> {
        let (id, record) = (series.id.to_string(), encode(series)?);
        self.write(move |mut client| async move {
            let tx = client.transaction().await.map_err(backend)?;
            // The row stays locked until the commit: the check and the write are one step.
            let Some(row) = tx
                .query_opt("SELECT record FROM series WHERE id = $1 FOR UPDATE", &[&id])
                .await
                .map_err(backend)?
            else {
                return Ok(false);
            };
            let stored: SeriesRecord = decode(row.get(0), None, &format!("series {id}"))?;
            if stored.revision != previous {
                return Ok(false);
            }
            tx.execute("UPDATE series SET record = $2 WHERE id = $1", &[&id, &record])
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(true)
        })
        .await
    }

    /// [`Store::series`].
    pub(super) fn read_series(&self, id: SeriesId) -> Result<Option<SeriesRecord>, StoreError> {
        self.read(move |client| async move {
            let row = client
                .query_opt("SELECT record FROM series WHERE id = $1", &[&id.to_string()])
                .await
                .map_err(backend)?;
            row.map(|row| decode(row.get(0), None, &format!("series {id}")))
                .transpose()
        })
    }

    /// [`Store::all_series`].
    pub(super) fn read_all_series(&self) -> Result<Vec<SeriesRecord>, StoreError> {
        self.read(|client| async move {
            let rows = client
                .query("SELECT record FROM series ORDER BY id", &[])
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| decode(row.get(0), None, "a series record"))
                .collect()
        })
    }

    /// [`Store::delete_series`].
    pub(super) async fn remove_series(&self, id: SeriesId) -> Result<(), StoreError> {
        self.write(move |client| async move {
            client
                .execute("DELETE FROM series WHERE id = $1", &[&id.to_string()])
                .await
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    /// [`Store::put_upload`].
    pub(super) async fn write_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        let (blob, at, owner) = records::upload_key(upload);
        let record = encode(upload)?;
        self.write(move |client| async move {
            client
                .execute(
                    "INSERT INTO uploads (blob, created_at, owner, record) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (blob, created_at, owner) DO UPDATE SET record = EXCLUDED.record",
                    &[&blob, &at, &owner, &record],
                )
                .await
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    /// [`Store::uploads`].
    pub(super) fn read_uploads(&self) -> Result<Vec<UploadRecord>, StoreError> {
        self.read(|client| async move {
            let rows = client
                .query("SELECT record FROM uploads ORDER BY blob, created_at, owner", &[])
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| decode(row.get(0), None, "an upload record"))
                .collect()
        })
    }

    /// [`Store::uploads_of`].
    pub(super) fn read_uploads_of(&self, blob: ContentHash) -> Result<Vec<UploadRecord>, StoreError> {
        self.read(move |client| async move {
            let rows = client
                .query(
                    "SELECT record FROM uploads WHERE blob = $1 ORDER BY created_at, owner",
                    &[&blob.to_hex()],
                )
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| decode(row.get(0), None, "an upload record"))
                .collect()
        })
    }

    /// [`Store::delete_upload`].
    pub(super) async fn remove_upload(&self, upload: &UploadRecord) -> Result<(), StoreError> {
        let (blob, at, owner) = records::upload_key(upload);
        self.write(move |client| async move {
            client
                .execute(
                    "DELETE FROM uploads WHERE blob = $1 AND created_at = $2 AND owner = $3",
                    &[&blob, &at, &owner],
                )
                .await
                .map_err(backend)?;
            Ok(())
        })
        .await
    }
}
