//! The snapshot side of a volume created from a snapshot: the executor's [`Filler`] that
//! unpacks and verifies an archive from this node's store into the staged new volume.

use std::path::Path;

use async_trait::async_trait;
use minicloud_proto::v1::SnapshotArchive;
use tokio_util::sync::CancellationToken;

use super::Snapshots;
use super::progress::Progress;
use super::restore;
use crate::storage::fill::{FillError, Filler};

/// Fills new volumes from the snapshot store.
#[derive(Debug, Clone)]
pub struct StoreFiller {
    snapshots: Snapshots,
}

impl StoreFiller {
    /// A filler reading archives through `snapshots`.
    pub fn new(snapshots: Snapshots) -> StoreFiller {
        StoreFiller { snapshots }
    }
}

#[async_trait]
impl Filler for StoreFiller {
    async fn fill(&self, archive: &SnapshotArchive, data: &Path) -> Result<(), FillError> {
        // An EnsureVolume has no one to report progress to, and is not cancelled: a failed
        // fill leaves no volume and the next plan starts again.
        let progress = Progress::discarded();
        let cancel = CancellationToken::new();
        restore::fill(&self.snapshots, archive, data, &progress, &cancel).await?;
        Ok(())
    }
}
