//! Snapshot: a point-in-time archive of a volume.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_kind;
use crate::meta::Condition;

object_kind!(
    /// A point-in-time archive of a Volume; a Volume's `fromSnapshot` restores it.
    Snapshot, tag: SnapshotKind, spec: SnapshotSpec, status: SnapshotStatus
);

/// What to archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotSpec {
    /// The Volume to archive, in the same tenant.
    pub volume: String,
}

/// Progress of a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SnapshotPhase {
    /// Not taken yet.
    #[default]
    Pending,
    /// The archive is complete and can be restored.
    Ready,
    /// Taking the archive failed.
    Failed,
}

/// Observed state of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotStatus {
    /// Progress.
    #[serde(default)]
    pub phase: SnapshotPhase,
    /// Size of the archive in bytes.
    #[serde(default)]
    pub size_bytes: u64,
    /// When the archive was completed (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
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
