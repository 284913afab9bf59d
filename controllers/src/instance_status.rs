//! Read-modify-write of an Instance's status, which two controllers share (the scheduler
//! writes `Scheduled`, the node sync everything it observes): each change is computed from a
//! fresh read and written as a compare-and-swap, retried on conflict, and skipped when nothing
//! changed.

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{Instance, InstanceStatus};

use crate::client::{ApiClient, ClientError};
use crate::object::ObjectKey;

/// Replaces the status of the Instance at `key` with `change(instance)`, when that differs
/// from its current status. A missing Instance is left alone.
pub async fn update(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&Instance) -> InstanceStatus + Sync,
) -> Result<(), ClientError> {
    let change = &change;
    ReadModifyWrite::new(format!("instance {key}"), "given its new status")
        .advice("the next reconcile writes it again")
        .run(|| async move {
            let Some(mut instance) = client.get_opt::<Instance>(key).await? else {
                return Ok(());
            };
            let status = change(&instance);
            if instance.status.as_ref() == Some(&status) {
                return Ok(());
            }
            instance.status = Some(status);
            match client.update_status(&instance).await {
                Err(error) if error.is_not_found() => Ok(()),
                other => other.map(drop),
            }
        })
        .await
}
