//! Adding and removing one finalizer on any kind, as a compare-and-swap on the version read:
//! a lost race is the next reconcile's to redo from a fresh read.

use crate::client::{ApiClient, ClientError};
use crate::object::Object;

/// Whether `object` holds `finalizer`.
pub fn holds<T: Object>(object: &T, finalizer: &str) -> bool {
    object.meta().finalizers.iter().any(|f| f == finalizer)
}

/// Adds `finalizer` to `object` unless it holds it already.
pub async fn add<T: Object>(
    client: &ApiClient,
    object: &T,
    finalizer: &str,
) -> Result<(), ClientError> {
    if holds(object, finalizer) {
        return Ok(());
    }
    let mut finalizers = object.meta().finalizers.clone();
    finalizers.push(finalizer.to_owned());
    client.set_finalizers(object, &finalizers).await
}

/// Removes `finalizer` from `object`, keeping any other; an object already gone is fine.
pub async fn remove<T: Object>(
    client: &ApiClient,
    object: &T,
    finalizer: &str,
) -> Result<(), ClientError> {
    let rest: Vec<String> = object
        .meta()
        .finalizers
        .iter()
        .filter(|f| *f != finalizer)
        .cloned()
        .collect();
    match client.set_finalizers(object, &rest).await {
        Err(error) if !error.is_not_found() => Err(error),
        _ => Ok(()),
    }
}
