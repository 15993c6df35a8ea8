//! Blobs in an object store: S3 or any server that speaks its protocol, through the
//! `object_store` crate. One object per blob, named by its BLAKE3 hash under a prefix; every
//! process of a cluster reaches the same blobs.
//!
//! A put always writes the object, so that a blob put again is young again (its last-modified
//! time) for every process's collection, which only offers blobs older than its grace period; a
//! collection asks for a blob's age again right before deleting it (object stores date objects
//! to the second: a grace of a few seconds or less is not meaningful). An object store writes an
//! object whole or not at all, and a read checks the hash.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use showrunner_engine::{BlobRef, BlobStore, ContentHash, GcStats, StoreError, Sweep};
use tokio::runtime::Handle;

/// Blobs as objects under one prefix of an object store.
#[derive(Debug, Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
}

fn failed(what: String) -> impl FnOnce(object_store::Error) -> StoreError {
    move |e| match e {
        object_store::Error::NotFound { .. } => StoreError::NotFound(what),
        other => StoreError::Backend(format!("{what}: {other}")),
    }
}

impl ObjectBlobStore {
    /// Blobs at `url`, `s3://BUCKET[/PREFIX]`. The endpoint, region and credentials come from
    /// the environment, as AWS's tools read them (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT`,
    /// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`; `AWS_ALLOW_HTTP=true` for an
    /// endpoint without TLS).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, [])
    }

    /// [`ObjectBlobStore::open`], with `settings` (named as AWS's environment variables are,
    /// such as `AWS_ENDPOINT`) over the environment's.
    pub fn open_with(url: &str, settings: impl IntoIterator<Item = (String, String)>) -> Result<Self, StoreError> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(StoreError::Backend(format!(
                "blobs at `{url}`: give an s3://BUCKET[/PREFIX] URL"
            )));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::Backend(format!(
                "blobs at `{url}`: the URL names no bucket"
            )));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            builder = builder.with_endpoint(endpoint);
        }
        for (key, value) in settings {
            let key = key
                .to_ascii_lowercase()
                .parse()
                .map_err(|e| StoreError::Backend(format!("blobs at `{url}`: the setting {key}: {e}")))?;
            builder = builder.with_config(key, value);
        }
        let store = builder
            .build()
            .map_err(|e| StoreError::Backend(format!("blobs at `{url}`: {e}")))?;
        Ok(Self::over(Arc::new(store), prefix))
    }

    /// Blobs in `store` under `prefix` (any `object_store` backend).
    pub fn over(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: ObjectPath::from(prefix.trim_matches('/')),
        }
    }

    fn path(&self, hash: ContentHash) -> ObjectPath {
        self.prefix.clone().join(hash.to_hex())
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        let hash = ContentHash::of(&bytes);
        self.store
            .put(&self.path(hash), bytes.into())
            .await
            .map_err(failed(format!("writing blob {hash}")))?;
        Ok(BlobRef(hash))
    }

    async fn get(&self, blob: BlobRef) -> Result<Vec<u8>, StoreError> {
        let what = format!("blob {}", blob.0);
        let got = self.store.get(&self.path(blob.0)).await.map_err(failed(what.clone()))?;
        let bytes = got.bytes().await.map_err(failed(what))?.to_vec();
        if ContentHash::of(&bytes) != blob.0 {
            return Err(StoreError::Corrupt {
                episode: None,
                what: format!("blob {} does not match its hash", blob.0),
            });
        }
        Ok(bytes)
    }

    async fn contains(&self, blob: BlobRef) -> Result<bool, StoreError> {
        match self.store.head(&self.path(blob.0)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(StoreError::Backend(format!("blob {}: {e}", blob.0))),
        }
    }

    async fn collect(&self, sweep: Arc<dyn Sweep>, grace: Duration) -> Result<GcStats, StoreError> {
        let listing = format!("listing the blobs under `{}`", self.prefix);
        let objects: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.prefix))
            .try_collect()
            .await
            .map_err(failed(listing))?;
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let old = move |meta: &object_store::ObjectMeta| SystemTime::from(meta.last_modified) < cutoff;
        let (store, handle) = (self.store.clone(), Handle::current());
        // The sweep decides under the engine's lock and calls back to delete: a blocking thread,
        // which waits for each call to the object store.
        tokio::task::spawn_blocking(move || {
            let mut stats = GcStats::default();
            for meta in objects {
                let Some(hash) = meta.location.filename().and_then(ContentHash::from_hex) else {
                    continue;
                };
                if !old(&meta) {
                    stats.kept += 1;
                    continue;
                }
                let mut put_again = false;
                let swept = sweep.sweep(hash, &mut || match handle.block_on(store.head(&meta.location)) {
                    Ok(now) if old(&now) => match handle.block_on(store.delete(&meta.location)) {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                        Err(e) => Err(StoreError::Backend(format!("deleting blob {hash}: {e}"))),
                    },
                    Ok(_) => {
                        put_again = true;
                        Ok(())
                    }
                    Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(StoreError::Backend(format!("blob {hash}: {e}"))),
                })?;
                if swept && !put_again {
                    stats.removed += 1;
                } else {
                    stats.kept += 1;
                }
            }
            Ok(stats)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("blob collection failed: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use object_store::aws::AmazonS3Builder;

    use super::*;
    use crate::blobs::tests::Live;
    use crate::s3_server::{BUCKET, S3Server};

    /// The blob store on the server under `prefix`, and the bucket itself for reaching under it.
    fn stores(server: &S3Server, prefix: &str) -> (ObjectBlobStore, Arc<dyn ObjectStore>) {
        let url = format!("s3://{BUCKET}/{prefix}");
        let blobs = ObjectBlobStore::open_with(&url, server.settings()).expect("the blob store");
        let mut raw = AmazonS3Builder::new().with_bucket_name(BUCKET);
        for (key, value) in server.settings() {
            raw = raw.with_config(key.to_ascii_lowercase().parse().expect("a setting"), value);
        }
        (blobs, Arc::new(raw.build().expect("the bucket")))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blobs_round_trip_on_a_real_s3_server_and_collection_spares_what_was_put_again() {
        let server = S3Server::start().expect("an S3 server (bash .ci/s3rver)");
        let (store, raw) = stores(&server, "episodes/blobs");
        let a = store.put(b"frame a".to_vec()).await.expect("put");
        let b = store.put(b"frame b".to_vec()).await.expect("put");
        assert_eq!(store.put(b"frame a".to_vec()).await.expect("put again"), a);
        assert_eq!(store.get(a).await.expect("get"), b"frame a");
        assert!(store.contains(b).await.expect("contains"));
        let missing = BlobRef(ContentHash::of(b"never put"));
        assert!(!store.contains(missing).await.expect("contains"));
        assert!(matches!(store.get(missing).await, Err(StoreError::NotFound(_))));
        let nothing_lives = Arc::new(Live(HashSet::new()));
        // Too young for an hour's grace.
        let stats = store
            .collect(nothing_lives.clone(), Duration::from_secs(3600))
            .await
            .expect("gc");
        assert_eq!(stats, GcStats { removed: 0, kept: 2 });
        // Both age past two seconds; `a` is put again meanwhile (another process's commit to
        // come). S3 dates objects to the second, so the grace is well above that.
        tokio::time::sleep(Duration::from_millis(3500)).await;
        store.put(b"frame a".to_vec()).await.expect("put again");
        let stats = store.collect(nothing_lives, Duration::from_secs(2)).await.expect("gc");
        assert_eq!(stats, GcStats { removed: 1, kept: 1 });
        assert!(store.contains(a).await.expect("contains"));
        assert!(!store.contains(b).await.expect("contains"));
        // Bytes that do not match their name are reported.
        let path = ObjectPath::from(format!("episodes/blobs/{}", a.0.to_hex()));
        raw.put(&path, b"frame a, damaged".to_vec().into())
            .await
            .expect("tamper");
        assert!(matches!(store.get(a).await, Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn a_url_that_is_not_s3_is_named() {
        for (url, says) in [("https://example.com/b", "s3://BUCKET"), ("s3://", "no bucket")] {
            match ObjectBlobStore::open(url) {
                Err(StoreError::Backend(message)) => assert!(message.contains(says), "{url}: {message}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
