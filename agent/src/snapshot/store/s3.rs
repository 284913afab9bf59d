//! The snapshot store in an S3-compatible bucket: an archive is a multipart upload that is
//! completed only after its last byte, so the object appears whole or not at all; a failed or
//! dropped write aborts the upload.

use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};

use super::contract::{ArchiveStore, ByteStream, StoreError, StoreResult, check_location};

/// Parts uploaded at the same time; bounds memory to this many 5 MiB parts.
const CONCURRENT_PARTS: usize = 4;

/// A snapshot store in a bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix`, for messages.
    name: String,
    prefix: String,
}

impl S3Store {
    /// The store in `bucket` under `prefix`, with the endpoint, region and credentials of the
    /// usual AWS_* variables (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY). Plain HTTP is allowed only for an endpoint on loopback.
    pub fn from_env(bucket: &str, prefix: &str) -> StoreResult<S3Store> {
        S3Store::with_builder(bucket, prefix, AmazonS3Builder::from_env())
    }

    /// The store in `bucket` under `prefix`, with the endpoint, region and credentials set on
    /// `builder`. Plain HTTP is allowed only for an endpoint on loopback.
    pub fn with_builder(
        bucket: &str,
        prefix: &str,
        builder: AmazonS3Builder,
    ) -> StoreResult<S3Store> {
        let mut builder = builder.with_bucket_name(bucket);
        let endpoint = builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .unwrap_or_default();
        if is_loopback_http(&endpoint) {
            builder = builder.with_allow_http(true);
        }
        let name = format!("s3://{bucket}/{prefix}");
        let store = builder.build().map_err(|e| StoreError::BadUrl {
            url: name.clone(),
            reason: format!("the S3 client cannot be set up from the AWS_* variables: {e}"),
        })?;
        Ok(S3Store {
            store: Arc::new(store),
            name,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, location: &str) -> StoreResult<ObjectPath> {
        check_location(location)?;
        let key = if self.prefix.is_empty() {
            location.to_owned()
        } else {
            format!("{}/{location}", self.prefix)
        };
        ObjectPath::parse(&key).map_err(|_| StoreError::BadLocation(location.to_owned()))
    }

    fn failed(
        &self,
        action: &'static str,
        location: &str,
        error: object_store::Error,
    ) -> StoreError {
        if let object_store::Error::NotFound { .. } = error {
            return StoreError::NotFound {
                location: location.to_owned(),
                store: self.name.clone(),
            };
        }
        StoreError::Backend {
            action,
            location: location.to_owned(),
            store: self.name.clone(),
            source: Box::new(error),
        }
    }
}

/// Whether `endpoint` is `http://` to this host, the only place plain HTTP is allowed.
fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An upload in progress; aborted in the background if dropped before it completed.
struct Upload {
    writer: Option<WriteMultipart>,
}

impl Drop for Upload {
    fn drop(&mut self) {
        if let (Some(writer), Ok(runtime)) =
            (self.writer.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                if let Err(e) = writer.abort().await {
                    tracing::warn!("aborting an abandoned snapshot upload failed: {e}");
                }
            });
        }
    }
}

#[async_trait]
impl ArchiveStore for S3Store {
    async fn put(&self, location: &str, mut bytes: ByteStream) -> StoreResult<u64> {
        let key = self.key(location)?;
        let upload = self
            .store
            .put_multipart(&key)
            .await
            .map_err(|e| self.failed("writing", location, e))?;
        let mut upload = Upload {
            writer: Some(WriteMultipart::new(upload)),
        };
        let mut written = 0;
        while let Some(chunk) = bytes.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(source) => {
                    if let Some(writer) = upload.writer.take() {
                        let _ = writer.abort().await;
                    }
                    return Err(StoreError::SourceFailed {
                        location: location.to_owned(),
                        source,
                    });
                }
            };
            let writer = upload
                .writer
                .as_mut()
                .expect("the upload is open until it ends");
            writer
                .wait_for_capacity(CONCURRENT_PARTS)
                .await
                .map_err(|e| self.failed("writing", location, e))?;
            written += chunk.len() as u64;
            writer.put(chunk);
        }
        let writer = upload
            .writer
            .take()
            .expect("the upload is open until it ends");
        writer
            .finish()
            .await
            .map_err(|e| self.failed("publishing", location, e))?;
        Ok(written)
    }

    async fn get(&self, location: &str) -> StoreResult<ByteStream> {
        let key = self.key(location)?;
        let object = self
            .store
            .get(&key)
            .await
            .map_err(|e| self.failed("reading", location, e))?;
        Ok(object.into_stream().map_err(io::Error::other).boxed())
    }

    async fn delete(&self, location: &str) -> StoreResult<bool> {
        let key = self.key(location)?;
        match self.store.head(&key).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(self.failed("deleting", location, e)),
        }
        self.store
            .delete(&key)
            .await
            .map_err(|e| self.failed("deleting", location, e))?;
        Ok(true)
    }

    /// Nothing to do: an interrupted upload never completed, so no object exists for it, and
    /// the upload itself was aborted (or is reclaimed by the bucket's lifecycle rule for
    /// incomplete multipart uploads when the agent died mid-way).
    async fn cleanup(&self) -> StoreResult<usize> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_loopback_endpoints_only() {
        assert!(is_loopback_http("http://127.0.0.1:9000"));
        assert!(is_loopback_http("http://localhost:9000/"));
        assert!(is_loopback_http("http://[::1]:9000"));
        assert!(!is_loopback_http("http://10.0.0.5:9000"));
        assert!(!is_loopback_http("https://127.0.0.1:9000"));
        assert!(!is_loopback_http(""));
    }
}
