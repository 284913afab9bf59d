//! Volume: persistent storage of a fixed size, enforced by the kernel, with scheduled snapshots,
//! restore and a policy for what deletion does to the data.

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
    /// The size, a hard limit: a write past it fails with "No space left on device". Between
    /// 16Mi (room for its filesystem) and 16Ti; counted in the tenant's `storage` quota. It may
    /// grow (online, while mounted); it never shrinks.
    pub size: Bytes,
    /// Who may mount it read-write at once.
    #[serde(default, skip_serializing_if = "AccessMode::is_default")]
    pub access_mode: AccessMode,
    /// What deleting the Volume does to its data.
    #[serde(default, skip_serializing_if = "ReclaimPolicy::is_default")]
    pub reclaim_policy: ReclaimPolicy,
    /// Snapshots taken on a schedule, and which of them to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<SnapshotSchedule>,
    /// Fill the new volume from this Snapshot (of the same tenant, not being deleted) before
    /// anything mounts it. Fixed when the volume is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_snapshot: Option<String>,
    /// Replace the volume's content in place with a Snapshot's (`mini volume restore`): the
    /// instances mounting it are stopped, the content restored, and the instances started
    /// again. A new `requestedAt` asks for another restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreRequest>,
    /// Ownership of the volume's root directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<VolumeSecurityContext>,
}

impl VolumeSpec {
    /// A volume of `size` with every other field at its default.
    pub fn new(size: Bytes) -> Self {
        Self {
            size,
            access_mode: AccessMode::default(),
            reclaim_policy: ReclaimPolicy::default(),
            snapshots: None,
            from_snapshot: None,
            restore: None,
            security_context: None,
        }
    }
}

/// Who may mount a volume read-write at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AccessMode {
    /// One instance read-write (any number read-only): a rollout of an App mounting it
    /// read-write stops the old instance before it starts the new one.
    #[default]
    ReadWriteOnce,
    /// Any number of instances on its node read-write; the apps coordinate their writes.
    ReadWriteMany,
}

impl AccessMode {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// What deleting a Volume does to its data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ReclaimPolicy {
    /// The data is deleted with the Volume.
    #[default]
    Delete,
    /// The data stays on its node; a new Volume of the same name and tenant takes it up again.
    Retain,
    /// A final Snapshot is taken (and kept, outside retention), then the data is deleted.
    Snapshot,
}

impl ReclaimPolicy {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// When to snapshot a volume and which scheduled snapshots to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotSchedule {
    /// A cron schedule: 5 fields (`0 */6 * * *`: every six hours), or 6 with seconds first
    /// (`*/30 * * * * *`: every 30 seconds).
    pub schedule: String,
    /// The IANA time zone the schedule is read in (`Europe/Berlin`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Which scheduled snapshots to keep; a snapshot kept by any rule stays. With no rule at
    /// all (`keep` absent or empty) the newest 7 are kept: `keep: {last: 7}`.
    #[serde(default)]
    pub keep: KeepPolicy,
}

/// Retention of scheduled snapshots, in the style of restic and borg: the newest `last`, the
/// newest of each of the last `daily` days, and the newest of each of the last `weekly` ISO
/// weeks. Snapshots taken on demand or at deletion are never pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeepPolicy {
    /// The newest this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<u32>,
    /// The newest of each of this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<u32>,
    /// The newest of each of this many weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<u32>,
}

/// A request to restore a volume's content in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreRequest {
    /// The Snapshot to restore, of the same tenant and not being deleted when the request is
    /// made.
    pub snapshot: String,
    /// When the restore was asked for (RFC 3339, like `2026-12-03T12:00:00Z`); identifies the
    /// request.
    pub requested_at: String,
}

/// Ownership of a volume's root directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeSecurityContext {
    /// The group owning the root directory (setgid, group-writable); every container mounting
    /// the volume runs with this supplementary group, so its user can write whatever its uid.
    /// 65534 (`nogroup`) when absent; never 0 (root's group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs_group: Option<u32>,
}

/// Where a volume is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum VolumePhase {
    /// Not provisioned yet.
    #[default]
    Pending,
    /// Provisioned (and filled from its snapshot, if any): instances may mount it.
    Ready,
    /// Its content is being replaced from a snapshot; nothing mounts it meanwhile.
    Restoring,
    /// Provisioning or restoring failed; the message says why.
    Failed,
    /// Deleted; its reclaim policy is being carried out.
    Releasing,
}

/// An instance that has a volume mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeUser {
    /// The App.
    pub app: String,
    /// The Instance.
    pub instance: String,
    /// Whether it is mounted read-only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

/// Something that happened to a volume, as `mini describe volume` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeEvent {
    /// When (RFC 3339, UTC).
    pub time: String,
    /// A machine-readable PascalCase reason (`Restored`, `InstancesStopped`).
    pub reason: String,
    /// A human-readable account.
    pub message: String,
}

/// Most events a volume's status keeps, newest last.
pub const VOLUME_EVENTS_KEPT: usize = 20;

/// Observed state of a volume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeStatus {
    /// Where it is in its life.
    #[serde(default)]
    pub phase: VolumePhase,
    /// The node holding the volume's data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// How the size limit is enforced on its node (`loop-ext4`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mechanism: String,
    /// The provisioned size in bytes.
    #[serde(default)]
    pub size_bytes: u64,
    /// Bytes in use, as its filesystem reports them (measured, refreshed while it exists).
    #[serde(default)]
    pub used_bytes: u64,
    /// The instances that have it mounted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounted_by: Vec<VolumeUser>,
    /// The last restore carried out (from `fromSnapshot` or `restore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored: Option<RestoreRequest>,
    /// The most recent Ready Snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_snapshot: Option<String>,
    /// The schedule time of the latest scheduled snapshot made (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scheduled_at: Option<String>,
    /// When the schedule fires next (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_snapshot_at: Option<String>,
    /// Why it is not Ready, when it is not.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// What happened to it lately, newest last (at most [`VOLUME_EVENTS_KEPT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<VolumeEvent>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
