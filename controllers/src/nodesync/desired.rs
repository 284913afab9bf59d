//! What should exist on a node, from the API's objects: the node's live Instances (with their
//! container spec hash), the Volumes they mount, which Volumes exist at all, and the deleted
//! Instances whose containers are draining. Instances that
//! mount a missing Volume are held back with a message instead.

use std::collections::{BTreeSet, HashMap};

use minicloud_manifests::{Instance, Volume};

use super::plan::{Desired, DesiredInstance, VolumeId};
use crate::hash::stable_hash;
use crate::object::is_deleting;
use crate::time;

/// The desired state of `node`, and the Instances held back (by uid) with why.
pub fn desired_state(
    node: &str,
    instances: &[Instance],
    volumes: &[Volume],
) -> (Desired, HashMap<String, String>) {
    let known: BTreeSet<VolumeId> = volumes.iter().map(volume_id).collect();
    let mut desired = Desired {
        node: node.into(),
        known_volumes: known.clone(),
        ..Desired::default()
    };
    let mut held = HashMap::new();
    let deleted = instances
        .iter()
        .filter(|i| i.spec.node.as_deref() == Some(node) && is_deleting(&i.metadata));
    for instance in deleted {
        let marked = instance.metadata.deletion_timestamp.as_deref();
        if let Some(marked) = marked.and_then(time::parse) {
            let uid = instance.metadata.uid.clone().unwrap_or_default();
            desired.draining.insert(uid, marked);
        }
    }
    let live = instances
        .iter()
        .filter(|i| i.spec.node.as_deref() == Some(node) && !is_deleting(&i.metadata));
    for instance in live {
        let tenant = instance.metadata.tenant.clone().unwrap_or_default();
        let mounts: Vec<VolumeId> = instance
            .spec
            .container
            .volumes
            .iter()
            .map(|m| (tenant.clone(), m.name.clone()))
            .collect();
        if let Some((_, missing)) = mounts.iter().find(|id| !known.contains(*id)) {
            let message =
                format!("Volume {missing:?} does not exist in tenant {tenant:?}; create it");
            held.insert(instance.metadata.uid.clone().unwrap_or_default(), message);
            continue;
        }
        for id in mounts {
            let size = volumes
                .iter()
                .find(|v| volume_id(v) == id)
                .map_or(0, |v| v.spec.size.get());
            desired.volumes.insert(id, size);
        }
        desired.instances.push(desired_instance(instance, tenant));
    }
    (desired, held)
}

fn desired_instance(instance: &Instance, tenant: String) -> DesiredInstance {
    DesiredInstance {
        tenant,
        app: instance.spec.app.clone(),
        name: instance.metadata.name.clone(),
        uid: instance.metadata.uid.clone().unwrap_or_default(),
        release: instance.spec.release.clone(),
        spec_hash: stable_hash(&instance.spec.container),
        container: instance.spec.container.clone(),
    }
}

fn volume_id(volume: &Volume) -> VolumeId {
    let tenant = volume.metadata.tenant.clone().unwrap_or_default();
    (tenant, volume.metadata.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use minicloud_manifests::{Bytes, ObjectMeta, VolumeSpec};

    fn inst(name: &str, node: &str, mounts: &[&str]) -> Instance {
        let container = fixtures::mounting(fixtures::container("hello:1"), mounts);
        let mut instance = fixtures::instance(name, "web", "web-1", Some(node), container);
        instance.metadata.uid = Some(format!("uid-{name}"));
        instance
    }

    fn volume(name: &str) -> Volume {
        let spec = VolumeSpec {
            size: Bytes::gibibytes(1),
            from_snapshot: None,
            ..VolumeSpec::new(Bytes::gibibytes(1))
        };
        Volume::new(ObjectMeta::named(name, Some("acme")), spec)
    }

    #[test]
    fn only_live_instances_bound_to_the_node_are_desired() {
        let mut going = inst("going", "node-a", &[]);
        going.metadata.deletion_timestamp = Some("2024-01-01T00:00:00Z".into());
        let instances = [
            inst("here", "node-a", &[]),
            inst("there", "node-b", &[]),
            going,
        ];
        let (desired, held) = desired_state("node-a", &instances, &[]);
        let names: Vec<&str> = desired.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["here"]);
        assert!(held.is_empty());
        assert_eq!(desired.instances[0].spec_hash.len(), 16);
    }

    #[test]
    fn mounted_volumes_are_desired_with_their_size() {
        let (desired, _) = desired_state(
            "node-a",
            &[inst("a", "node-a", &["data"])],
            &[volume("data")],
        );
        let id = ("acme".to_string(), "data".to_string());
        assert_eq!(desired.volumes.get(&id), Some(&(1 << 30)));
        assert!(desired.known_volumes.contains(&id));
    }

    #[test]
    fn an_instance_mounting_a_missing_volume_is_held_back_with_a_message() {
        let (desired, held) = desired_state("node-a", &[inst("a", "node-a", &["data"])], &[]);
        assert!(desired.instances.is_empty());
        assert_eq!(
            held["uid-a"],
            "Volume \"data\" does not exist in tenant \"acme\"; create it"
        );
    }
}
