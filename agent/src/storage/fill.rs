//! Filling a new volume from a snapshot archive: the seam between the volume executor and the
//! snapshot store. The executor calls a [`Filler`] while the new volume is still staged — mounted,
//! empty, not yet a Docker volume — so a volume that exists is always complete.

use std::path::Path;

use async_trait::async_trait;
use minicloud_proto::v1::SnapshotArchive;

/// Why a fill failed; any error the snapshot store has, kept as the cause.
pub type FillError = Box<dyn std::error::Error + Send + Sync>;

/// Writes a snapshot archive's content into a new volume.
#[async_trait]
pub trait Filler: Send + Sync + 'static {
    /// Writes the content of `archive` (verifying its SHA-256 first) into `data`: the new
    /// volume's data directory, mounted and empty, owned by 65534:fs_group with mode 2775. An
    /// error leaves no volume behind; the next EnsureVolume starts again from a new image.
    async fn fill(&self, archive: &SnapshotArchive, data: &Path) -> Result<(), FillError>;
}

/// The filler of an agent that has no snapshot store: every fill fails, saying so.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSnapshotStore;

/// What [`NoSnapshotStore`] answers.
#[derive(Debug, thiserror::Error)]
#[error(
    "this agent has no snapshot store to read archive {location} from; run an agent built \
     with snapshot support, or create the volume without fromSnapshot"
)]
pub struct NoSnapshotStoreError {
    /// The archive asked for.
    pub location: String,
}

#[async_trait]
impl Filler for NoSnapshotStore {
    async fn fill(&self, archive: &SnapshotArchive, _data: &Path) -> Result<(), FillError> {
        Err(Box::new(NoSnapshotStoreError {
            location: archive.location.clone(),
        }))
    }
}
