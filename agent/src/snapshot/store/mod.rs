//! The snapshot store: where archives are kept, behind one small trait with a local-directory
//! and an S3-compatible implementation. An archive becomes visible at its location only once
//! it is complete; a failed or cancelled write leaves nothing there.

mod contract;
pub mod local;
pub mod s3;
mod url;

use std::sync::Arc;

pub use self::contract::{ArchiveStore, ByteStream, StoreError, StoreResult, check_location};
pub use self::local::LocalStore;
pub use self::s3::S3Store;
pub use self::url::SnapshotStoreUrl;

/// The node's snapshot store, cheap to clone.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    inner: Arc<dyn ArchiveStore>,
}

impl SnapshotStore {
    /// The store `url` names: `file:///path`, an absolute path, or `s3://bucket/prefix` (the
    /// endpoint, region and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID
    /// and AWS_SECRET_ACCESS_KEY).
    pub fn from_url(url: &str) -> StoreResult<SnapshotStore> {
        SnapshotStore::open(&url.parse()?)
    }

    /// The store `url` names.
    pub fn open(url: &SnapshotStoreUrl) -> StoreResult<SnapshotStore> {
        let inner: Arc<dyn ArchiveStore> = match url {
            SnapshotStoreUrl::Local(root) => Arc::new(LocalStore::new(root.clone())),
            SnapshotStoreUrl::S3 { bucket, prefix } => Arc::new(S3Store::from_env(bucket, prefix)?),
        };
        Ok(SnapshotStore { inner })
    }

    /// A store over any implementation.
    pub fn new(inner: Arc<dyn ArchiveStore>) -> SnapshotStore {
        SnapshotStore { inner }
    }
}

impl std::ops::Deref for SnapshotStore {
    type Target = dyn ArchiveStore;

    fn deref(&self) -> &Self::Target {
        &*self.inner
    }
}
