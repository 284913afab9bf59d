//! Volume snapshots: point-in-time archives of a volume taken with its writers held only for
//! a copy of its image, kept in the node's snapshot store, and restored through a staging
//! filesystem that replaces the volume only once the archive's SHA-256 matched.
//!
//! - [`store`]: where archives are kept (a local directory or an S3-compatible bucket).
//! - [`archive`]: the format (tar + zstd + SHA-256) and its blocking packer and unpacker.
//! - [`take`] and [`restore`]: the two operations ([`fill`] plugs restores into new
//!   volumes); [`freeze`], [`copy`], [`scratch`] and
//!   [`in_use`] the steps they are made of.

pub mod archive;
pub mod copy;
pub mod fill;
pub mod freeze;
pub mod in_use;
pub mod progress;
pub mod restore;
pub mod scratch;
pub mod store;
pub mod take;

use std::io;
use std::path::PathBuf;

pub use self::in_use::VolumeUsers;
pub use self::store::{SnapshotStore, SnapshotStoreUrl, StoreError};
use crate::storage::host::HostError;
use crate::storage::layout::Layout;

/// What failed while taking or restoring a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The volume's filesystem is not mounted on this node.
    #[error(
        "volume {tenant}/{volume} is not attached on this node (nothing is mounted on {mount}); \
         ensure the volume on this node first"
    )]
    NotAttached {
        /// The tenant.
        tenant: String,
        /// The volume.
        volume: String,
        /// Where it should be mounted.
        mount: PathBuf,
    },
    /// A host command failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The snapshot store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A step on the host's files failed.
    #[error("{step} failed: {source}")]
    Io {
        /// What was being done, with the path.
        step: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The archive's bytes are not the ones its SHA-256 promises.
    #[error("archive {location} is damaged: SHA-256 {got}, expected {want}; nothing was changed")]
    Damaged {
        /// The archive's location.
        location: String,
        /// What was read.
        got: String,
        /// What the snapshot recorded.
        want: String,
    },
    /// Running containers mount the volume, so it cannot be replaced under them.
    #[error(
        "volume {tenant}/{volume} is in use by running containers ({users}); stop them (scale \
         the Apps using it to 0) and restore again; nothing was changed"
    )]
    InUse {
        /// The tenant.
        tenant: String,
        /// The volume.
        volume: String,
        /// The containers, comma-separated.
        users: String,
    },
    /// The caller went away before the work was done; nothing was published or changed.
    #[error("{0} was cancelled; nothing was published or changed")]
    Cancelled(&'static str),
}

impl SnapshotError {
    /// An [`SnapshotError::Io`] for `step`.
    pub fn io(step: impl Into<String>) -> impl FnOnce(io::Error) -> SnapshotError {
        let step = step.into();
        move |source| SnapshotError::Io { step, source }
    }

    /// The gRPC status a caller sees: the one place snapshot errors become codes.
    pub fn to_status(&self) -> tonic::Status {
        let message = self.to_string();
        match self {
            SnapshotError::Store(StoreError::NotFound { .. }) => tonic::Status::not_found(message),
            SnapshotError::Store(StoreError::BadLocation(_)) => {
                tonic::Status::invalid_argument(message)
            }
            SnapshotError::Damaged { .. } => tonic::Status::data_loss(message),
            SnapshotError::Cancelled(_) => tonic::Status::cancelled(message),
            SnapshotError::Store(StoreError::Backend { .. }) => tonic::Status::unavailable(message),
            _ => tonic::Status::failed_precondition(message),
        }
    }
}

/// The result of a snapshot operation.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

/// What snapshots work with: the node's volumes and its snapshot store.
#[derive(Debug, Clone)]
pub struct Snapshots {
    /// Where the volumes are.
    pub layout: Layout,
    /// Where archives go.
    pub store: SnapshotStore,
}

impl Snapshots {
    /// Snapshots of the volumes in `layout`, archived into `store`.
    pub fn new(layout: Layout, store: SnapshotStore) -> Snapshots {
        Snapshots { layout, store }
    }

    /// Removes what interrupted snapshots and restores left: a volume still frozen is thawed,
    /// partial archives in the store and scratch images (unmounted first) are removed. Call
    /// once at startup, before serving.
    pub async fn cleanup(&self) -> Result<usize> {
        let thawed = freeze::thaw_left_frozen(&self.layout.volumes()).await;
        if thawed > 0 {
            tracing::warn!(thawed, "thawed volumes an interrupted snapshot left frozen");
        }
        let partials = self.store.cleanup().await?;
        let root = self.layout.root();
        let scratch = scratch::cleanup(root)
            .await
            .map_err(SnapshotError::io(format!(
                "removing leftover scratch space under {}",
                scratch::root(root).display()
            )))?;
        Ok(partials + scratch)
    }
}
