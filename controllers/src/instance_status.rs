//! Read-modify-write of an Instance's status, which two controllers share (the scheduler
//! writes `Scheduled`, the node sync everything it observes): each change is computed from a
//! fresh read and written as a compare-and-swap, retried on conflict, and skipped when nothing
//! changed.

use minicloud_manifests::{Instance, InstanceStatus};

use crate::client::{ApiClient, ClientError};
use crate::object::ObjectKey;

/// Attempts before a conflict is reported.
const ATTEMPTS: usize = 4;

/// Replaces the status of the Instance at `key` with `change(instance)`, when that differs
/// from its current status. A missing Instance is left alone.
pub async fn update(
    client: &ApiClient,
    key: &ObjectKey,
    change: impl Fn(&Instance) -> InstanceStatus,
) -> Result<(), ClientError> {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let Some(mut instance) = client.get_opt::<Instance>(key).await? else {
            return Ok(());
        };
        let status = change(&instance);
        if instance.status.as_ref() == Some(&status) {
            return Ok(());
        }
        instance.status = Some(status);
        match client.update_status(&instance).await {
            Err(error) if error.is_conflict() => last = Some(error),
            Err(error) if error.is_not_found() => return Ok(()),
            other => return other.map(drop),
        }
    }
    Err(last.unwrap_or_else(|| ClientError::Conflict(format!("instance {key} kept changing"))))
}
