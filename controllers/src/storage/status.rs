//! Read-modify-writes of Volume and Snapshot status: each change is computed from a fresh read
//! and written as a compare-and-swap, retried on conflict, skipped when nothing changed. Every
//! writer changes only the fields it owns, so concurrent writers never lose each other's.

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{Snapshot, SnapshotStatus, Volume, VolumeStatus};

use crate::client::{ApiClient, ClientError};
use crate::object::ObjectKey;

/// Replaces the status of the Volume at `key` with `change(volume)` when that differs; returns
/// the Volume as it is now (`None` when it is gone).
pub async fn modify_volume_status(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&Volume) -> VolumeStatus + Sync,
) -> Result<Option<Volume>, ClientError> {
    let change = &change;
    ReadModifyWrite::new(format!("Volume {key}"), "given its new status")
        .advice("the next reconcile writes it again")
        .run(|| async move {
            let Some(mut volume) = client.get_opt::<Volume>(key).await? else {
                return Ok(None);
            };
            let status = change(&volume);
            if volume.status.as_ref() == Some(&status) {
                return Ok(Some(volume));
            }
            volume.status = Some(status);
            match client.update_status(&volume).await {
                Err(error) if error.is_not_found() => Ok(None),
                other => other.map(Some),
            }
        })
        .await
}

/// Replaces the status of the Snapshot at `key` with `change(snapshot)` when that differs;
/// returns the Snapshot as it is now (`None` when it is gone).
pub async fn modify_snapshot_status(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&Snapshot) -> SnapshotStatus + Sync,
) -> Result<Option<Snapshot>, ClientError> {
    let change = &change;
    ReadModifyWrite::new(format!("Snapshot {key}"), "given its new status")
        .advice("the next reconcile writes it again")
        .run(|| async move {
            let Some(mut snapshot) = client.get_opt::<Snapshot>(key).await? else {
                return Ok(None);
            };
            let status = change(&snapshot);
            if snapshot.status.as_ref() == Some(&status) {
                return Ok(Some(snapshot));
            }
            snapshot.status = Some(status);
            match client.update_status(&snapshot).await {
                Err(error) if error.is_not_found() => Ok(None),
                other => other.map(Some),
            }
        })
        .await
}
