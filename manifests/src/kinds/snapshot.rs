//! Snapshot: a point-in-time, compressed and checksummed archive of a volume, kept in the
//! snapshot store.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_kind;
use crate::meta::Condition;

object_kind!(
    /// A point-in-time archive of a Volume; a Volume's `fromSnapshot` or `restore` restores it.
    Snapshot, tag: SnapshotKind, spec: SnapshotSpec, status: SnapshotStatus
);

/// What to archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotSpec {
    /// The Volume to archive, in the same tenant; it must exist when the Snapshot is created,
    /// and cannot change afterwards.
    pub volume: String,
    /// Why it is taken: only `Scheduled` snapshots are pruned by the volume's retention.
    #[serde(default, skip_serializing_if = "SnapshotOrigin::is_default")]
    pub origin: SnapshotOrigin,
}

/// Why a snapshot was taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SnapshotOrigin {
    /// Asked for (`mini snapshot create`, or applied).
    #[default]
    Manual,
    /// By the volume's schedule.
    Scheduled,
    /// The final snapshot of a Volume deleted with `reclaimPolicy: Snapshot`.
    Final,
}

impl SnapshotOrigin {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Progress of a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SnapshotPhase {
    /// Not taken yet.
    #[default]
    Pending,
    /// Being written to the snapshot store; not restorable yet.
    Taking,
    /// The archive is complete, checksummed and can be restored.
    Ready,
    /// Taking the archive failed; the message says why.
    Failed,
}

/// Observed state of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotStatus {
    /// Progress.
    #[serde(default)]
    pub phase: SnapshotPhase,
    /// The node that took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Where the archive is in the snapshot store; set once Ready.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// Size of the compressed archive in bytes.
    #[serde(default)]
    pub size_bytes: u64,
    /// Bytes of file content archived.
    #[serde(default)]
    pub content_bytes: u64,
    /// Bytes archived so far, while Taking.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub progress_bytes: u64,
    /// SHA-256 of the archive, hex; verified before a restore uses it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// How long the volume's writers were held (filesystem frozen) for the point-in-time copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_millis: Option<u64>,
    /// When taking it started (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When the archive was completed (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// How many times taking it was started.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub attempts: u32,
    /// A human-readable note, such as why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

fn is_zero_u32(value: &u32) -> bool {
    *value == 0
}
