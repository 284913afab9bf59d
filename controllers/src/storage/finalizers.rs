//! Adding and removing one finalizer on any kind. Adding is a compare-and-swap on the version
//! read (a lost race is the next reconcile's to redo); removing reads afresh and retries, so
//! that a status write in between never makes a finished release run again.

use minicloud_common::read_modify_write::ReadModifyWrite;

use crate::client::{ApiClient, ClientError};
use crate::object::{Object, ObjectKey};

/// Whether `object` holds `finalizer`.
pub fn holds<T: Object>(object: &T, finalizer: &str) -> bool {
    object.meta().finalizers.iter().any(|f| f == finalizer)
}

/// Adds `finalizer` to `object` unless it holds it already; returns whether it was added
/// (the object then has a new version: read it again before a compare-and-swap).
pub async fn add<T: Object>(
    client: &ApiClient,
    object: &T,
    finalizer: &str,
) -> Result<bool, ClientError> {
    if holds(object, finalizer) {
        return Ok(false);
    }
    let mut finalizers = object.meta().finalizers.clone();
    finalizers.push(finalizer.to_owned());
    client.set_finalizers(object, &finalizers).await?;
    Ok(true)
}

/// Removes `finalizer` from `object` (read afresh), keeping any other; an object already gone
/// is fine.
pub async fn remove<T: Object>(
    client: &ApiClient,
    object: &T,
    finalizer: &str,
) -> Result<(), ClientError> {
    let key = &ObjectKey::of(object);
    ReadModifyWrite::new(format!("{} {key}", T::KIND.as_str()), "released")
        .advice("the next reconcile releases it again")
        .run(|| async move {
            let Some(fresh) = client.get_opt::<T>(key).await? else {
                return Ok(());
            };
            if !holds(&fresh, finalizer) {
                return Ok(());
            }
            let rest: Vec<String> = fresh
                .meta()
                .finalizers
                .iter()
                .filter(|f| *f != finalizer)
                .cloned()
                .collect();
            match client.set_finalizers(&fresh, &rest).await {
                Err(error) if error.is_not_found() => Ok(()),
                other => other,
            }
        })
        .await
}
