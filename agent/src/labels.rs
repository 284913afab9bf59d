//! The Docker labels (the keys are part of the `NodeAgent` contract, in `minicloud_proto`) and
//! object names minicloud uses. An object without [`MANAGED`]` = true` is never listed or
//! touched.

use std::collections::BTreeMap;

pub use minicloud_proto::labels::*;

/// The prefix of every Docker object name minicloud chooses.
pub const NAME_PREFIX: &str = "mc-";

/// The name of a tenant's network: `mc-<tenant>`.
pub fn network_name(tenant: &str) -> String {
    format!("{NAME_PREFIX}{tenant}")
}

/// The name of a tenant volume: `mc-<tenant>-<volume>`.
pub fn volume_name(tenant: &str, volume: &str) -> String {
    format!("{NAME_PREFIX}{tenant}-{volume}")
}

/// The name of an instance's container: `mc-<tenant>-<instance>`.
pub fn container_name(tenant: &str, instance: &str) -> String {
    format!("{NAME_PREFIX}{tenant}-{instance}")
}

/// Whether labels mark an object as managed by minicloud.
pub fn is_managed(labels: &BTreeMap<String, String>) -> bool {
    labels.get(MANAGED).is_some_and(|v| v == "true")
}

/// The labels of a tenant-scoped object (network or volume) created on `node`.
pub fn tenant_labels(node: &str, tenant: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED.to_owned(), "true".to_owned()),
        (NODE.to_owned(), node.to_owned()),
        (TENANT.to_owned(), tenant.to_owned()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_prefix_tenant_and_object() {
        assert_eq!(network_name("acme"), "mc-acme");
        assert_eq!(volume_name("acme", "data"), "mc-acme-data");
        assert_eq!(container_name("acme", "web-1"), "mc-acme-web-1");
    }

    #[test]
    fn only_managed_true_counts_as_managed() {
        let mut labels = tenant_labels("n1", "acme");
        assert!(is_managed(&labels));
        labels.insert(MANAGED.into(), "yes".into());
        assert!(!is_managed(&labels));
        assert!(!is_managed(&BTreeMap::new()));
    }
}
