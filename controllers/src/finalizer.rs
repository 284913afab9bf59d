//! The container finalizer on Instances: a deleting Instance stays until its container is gone,
//! and whichever controller knows that lets it go.

use minicloud_manifests::Instance;

use crate::client::{ApiClient, ClientError};
use crate::labels::CONTAINER_FINALIZER;

/// Whether `instance` still holds the container finalizer.
pub fn holds_container_finalizer(instance: &Instance) -> bool {
    instance
        .metadata
        .finalizers
        .iter()
        .any(|f| f == CONTAINER_FINALIZER)
}

/// Removes the container finalizer, keeping any other; an Instance already gone is fine.
pub async fn release_container_finalizer(
    client: &ApiClient,
    instance: &Instance,
) -> Result<(), ClientError> {
    let rest: Vec<String> = instance
        .metadata
        .finalizers
        .iter()
        .filter(|f| *f != CONTAINER_FINALIZER)
        .cloned()
        .collect();
    match client.set_finalizers(instance, &rest).await {
        Err(error) if !error.is_not_found() => Err(error),
        _ => Ok(()),
    }
}
