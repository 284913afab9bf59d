//! Which of an App's Instances count: the live ones (owned by it and not on their way out) and,
//! among them, the ready ones.

use minicloud_manifests::{App, Instance};

use crate::object::{is_deleting, is_owned_by};

/// Whether an Instance serves: running and passing its checks.
pub fn is_ready(instance: &Instance) -> bool {
    instance.status.as_ref().is_some_and(|s| s.ready)
}

/// The App's Instances that are not on their way out.
pub fn live_instances<'a>(app: &App, instances: &'a [Instance]) -> Vec<&'a Instance> {
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    instances
        .iter()
        .filter(|i| is_owned_by(&i.metadata, uid) && !is_deleting(&i.metadata))
        .collect()
}
