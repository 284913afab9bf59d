//! Read-modify-writes of Volume and Snapshot status: each change is computed from a fresh read
//! and written as a compare-and-swap, retried on conflict, skipped when nothing changed. Every
//! writer changes only the fields it owns, so concurrent writers never lose each other's.

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{Snapshot, SnapshotStatus, Volume, VolumeStatus};

use crate::client::{ApiClient, ClientError};
use crate::object::{Object, ObjectKey};

/// An object whose status one of the storage controllers writes.
pub trait WithStatus: Object {
    /// Its status type.
    type Status: PartialEq + Send + Sync;
    /// The status it has.
    fn status(&self) -> Option<&Self::Status>;
    /// Replaces its status.
    fn set_status(&mut self, status: Self::Status);
}

macro_rules! with_status {
    ($($ty:ty => $status:ty),* $(,)?) => {
        $(impl WithStatus for $ty {
            type Status = $status;
            fn status(&self) -> Option<&$status> {
                self.status.as_ref()
            }
            fn set_status(&mut self, status: $status) {
                self.status = Some(status);
            }
        })*
    };
}

with_status!(Volume => VolumeStatus, Snapshot => SnapshotStatus);

/// Replaces the status of the object at `key` with `change(object)` when that differs; returns
/// the object as it is now (`None` when it is gone).
pub async fn modify_status<T: WithStatus>(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&T) -> T::Status + Sync,
) -> Result<Option<T>, ClientError> {
    let change = &change;
    ReadModifyWrite::new(
        format!("{} {key}", <T as Object>::KIND),
        "given its new status",
    )
    .advice("the next reconcile writes it again")
    .run(|| async move {
        let Some(mut object) = client.get_opt::<T>(key).await? else {
            return Ok(None);
        };
        let status = change(&object);
        if object.status() == Some(&status) {
            return Ok(Some(object));
        }
        object.set_status(status);
        match client.update_status(&object).await {
            Err(error) if error.is_not_found() => Ok(None),
            other => other.map(Some),
        }
    })
    .await
}

/// [`modify_status`] of a Volume.
pub async fn modify_volume_status(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&Volume) -> VolumeStatus + Sync,
) -> Result<Option<Volume>, ClientError> {
    modify_status(client, key, change).await
}

/// [`modify_status`] of a Snapshot.
pub async fn modify_snapshot_status(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&Snapshot) -> SnapshotStatus + Sync,
) -> Result<Option<Snapshot>, ClientError> {
    modify_status(client, key, change).await
}
