//! Volume: persistent storage of a fixed size, with optional scheduled backups.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_kind;
use crate::meta::Condition;
use crate::quantity::Bytes;

object_kind!(
    /// A persistent volume, mounted by Apps of the same tenant.
    Volume, tag: VolumeKind, spec: VolumeSpec, status: VolumeStatus
);

/// The desired volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeSpec {
    /// The size, enforced as a hard limit.
    pub size: Bytes,
    /// Scheduled snapshots and their retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupPolicy>,
    /// Create (or overwrite) the volume's content from this Snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_snapshot: Option<String>,
}

/// When to snapshot a volume and how many snapshots to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupPolicy {
    /// A 5-field cron schedule in UTC (`0 3 * * *`: daily at 03:00).
    pub schedule: String,
    /// How many scheduled snapshots to keep; older ones are deleted.
    pub keep: u32,
}

/// Observed state of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeStatus {
    /// The node holding the volume's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Bytes currently used.
    #[serde(default)]
    pub used_bytes: u64,
    /// The most recent Snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<String>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
