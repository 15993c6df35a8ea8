//! Records in and out of their rows: the JSON encoding (the same serde types as the sled
//! store's), and an episode read back whole.

use std::collections::HashMap;

use deadpool_postgres::{GenericClient, Object};
use serde::Serialize;
use serde::de::DeserializeOwned;
use showrunner_engine::{
    EpisodeId, EpisodeRecord, EpisodeSnapshot, EpisodeStatus, InstanceKey, InstanceRecord, StoreError, UploadRecord,
    VersionMeta,
};
use tokio_postgres::IsolationLevel;

use super::backend;

pub(super) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encoding a record: {e}")))
}

pub(super) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    episode: Option<EpisodeId>,
    what: &str,
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        episode,
        what: format!("{what}: {e}"),
    })
}

/// An instance key as its rows name it (its JSON).
pub(super) fn instance_text(key: &InstanceKey) -> Result<String, StoreError> {
    serde_json::to_string(key).map_err(|e| StoreError::Backend(format!("encoding an instance key: {e}")))
}

pub(super) fn parse_id(text: &str) -> Option<EpisodeId> {
    text.parse().ok()
}

pub(super) fn status_of(name: &str) -> Option<EpisodeStatus> {
    EpisodeStatus::ALL.into_iter().find(|s| s.name() == name)
}

/// An upload's row key: its blob, when, and who (empty for no owner).
pub(super) fn upload_key(upload: &UploadRecord) -> (String, i64, String) {
    (
        upload.blob.to_hex(),
        i64::try_from(upload.created_at).unwrap_or(i64::MAX),
        upload.owner.clone().unwrap_or_default(),
    )
}

pub(super) async fn put_idempotency(client: &impl GenericClient, key: &str, record: &[u8]) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO idempotency (key, record) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET record = EXCLUDED.record",
            &[&key, &record],
        )
        .await
        .map_err(backend)?;
    Ok(())
}

/// The episode as committed, read in one repeatable-read transaction: its header (with the
/// event counter past its last event), and with `instances`, every instance with its versions.
pub(super) async fn load(
    client: &mut Object,
    episode: EpisodeId,
    instances: bool,
) -> Result<Option<EpisodeSnapshot>, StoreError> {
    let id = episode.to_string();
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(backend)?;
    let Some(row) = tx
        .query_opt(
            "SELECT header, (SELECT max(seq) FROM events WHERE episode = $1) FROM episodes WHERE id = $1",
            &[&id],
        )
        .await
        .map_err(backend)?
    else {
        return Ok(None);
    };
    let mut header: EpisodeRecord = decode(row.get(0), Some(episode), "episode header")?;
    if let Some(last) = row.get::<_, Option<i64>>(1) {
        header.next_seq = header.next_seq.max(u64::try_from(last).unwrap_or(0) + 1);
    }
    if !instances {
        return Ok(Some(EpisodeSnapshot {
            header,
            instances: Vec::new(),
        }));
    }
    let mut versions: HashMap<String, Vec<VersionMeta>> = HashMap::new();
    for row in tx
        .query(
            "SELECT key, meta FROM versions WHERE episode = $1 ORDER BY key, n",
            &[&id],
        )
        .await
        .map_err(backend)?
    {
        versions
            .entry(row.get(0))
            .or_default()
            .push(decode(row.get(1), Some(episode), "version metadata")?);
    }
    let mut records = Vec::new();
    for row in tx
        .query(
            "SELECT key, record FROM instances WHERE episode = $1 ORDER BY key",
            &[&id],
        )
        .await
        .map_err(backend)?
    {
        let mut record: InstanceRecord = decode(row.get(1), Some(episode), "instance record")?;
        record.versions = versions.remove(row.get::<_, &str>(0)).unwrap_or_default();
        let numbered = record.versions.iter().enumerate().all(|(i, v)| v.n as usize == i + 1);
        if !numbered || record.current.is_some_and(|n| record.version(n).is_none()) {
            return Err(StoreError::Corrupt {
                episode: Some(episode),
                what: format!("the versions of `{}` are incomplete", record.key),
            });
        }
        records.push(record);
    }
    tx.commit().await.map_err(backend)?;
    Ok(Some(EpisodeSnapshot {
        header,
        instances: records,
    }))
}
