//! What should exist on a node, from the API's objects: the node's live Instances (with their
//! container spec hash), the Volumes bound to the node (with their size, owner group and the
//! archive a new one is filled from), which Volumes exist at all, and the deleted Instances
//! whose containers are draining. Instances whose volumes are missing, elsewhere or being
//! restored, or that would mount a ReadWriteOnce volume read-write while another instance
//! does, and Volumes whose source Snapshot is not Ready, are held back with a message.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use minicloud_manifests::{Instance, Snapshot, Volume};

use super::plan::{Desired, DesiredInstance, VolumeId};
use crate::hash::stable_hash;
use crate::object::is_deleting;
use crate::storage::{exclusive_conflict, mount_problem, provision};
use crate::time;

/// What node sync wants on a node, and what it holds back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DesiredState {
    /// What should exist.
    pub desired: Desired,
    /// Instances held back (by uid), with why.
    pub held_instances: HashMap<String, String>,
    /// Volumes bound to the node held back, with why.
    pub held_volumes: BTreeMap<VolumeId, String>,
}

/// The desired state of `node` given every Instance, Volume and Snapshot, and the instance
/// observed mounting each volume read-write.
pub fn desired_state(
    node: &str,
    instances: &[Instance],
    volumes: &[Volume],
    snapshots: &[Snapshot],
    writers: &BTreeMap<VolumeId, String>,
) -> DesiredState {
    let mut writers = writers.clone();
    let mut state = DesiredState {
        desired: Desired {
            node: node.into(),
            known_volumes: volumes.iter().map(volume_id).collect::<BTreeSet<_>>(),
            ..Desired::default()
        },
        ..DesiredState::default()
    };
    let bound = volumes.iter().filter(|v| {
        v.status.as_ref().and_then(|s| s.node.as_deref()) == Some(node) && !is_deleting(&v.metadata)
    });
    for volume in bound {
        match provision(volume, snapshots) {
            Ok(wanted) => drop(state.desired.volumes.insert(volume_id(volume), wanted)),
            Err(why) => drop(state.held_volumes.insert(volume_id(volume), why)),
        }
    }
    let ours = instances
        .iter()
        .filter(|i| i.spec.node.as_deref() == Some(node));
    for instance in ours.clone().filter(|i| is_deleting(&i.metadata)) {
        let marked = instance.metadata.deletion_timestamp.as_deref();
        if let Some(marked) = marked.and_then(time::parse) {
            let uid = instance.metadata.uid.clone().unwrap_or_default();
            state.desired.draining.insert(uid, marked);
        }
    }
    for instance in ours.filter(|i| !is_deleting(&i.metadata)) {
        let tenant = instance.metadata.tenant.clone().unwrap_or_default();
        let held = mount_problem(instance, node, volumes).or_else(|| {
            let held_volume = instance
                .spec
                .container
                .volumes
                .iter()
                .find_map(|m| state.held_volumes.get(&(tenant.clone(), m.name.clone())))?;
            Some(format!("its volume is not Ready: {held_volume}"))
        });
        let held = held.or_else(|| exclusive_conflict(instance, volumes, &mut writers));
        match held {
            Some(why) => drop(
                state
                    .held_instances
                    .insert(instance.metadata.uid.clone().unwrap_or_default(), why),
            ),
            None => state
                .desired
                .instances
                .push(desired_instance(instance, tenant)),
        }
    }
    state
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

/// The (tenant, name) of a Volume.
pub fn volume_id(volume: &Volume) -> VolumeId {
    let tenant = volume.metadata.tenant.clone().unwrap_or_default();
    (tenant, volume.metadata.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn inst(name: &str, node: &str, mounts: &[&str]) -> Instance {
        let container = fixtures::mounting(fixtures::container("hello:1"), mounts);
        let mut instance = fixtures::instance(name, "web", "web-1", Some(node), container);
        instance.metadata.uid = Some(format!("uid-{name}"));
        instance
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
        let state = desired_state("node-a", &instances, &[], &[], &BTreeMap::new());
        let names: Vec<&str> = state
            .desired
            .instances
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(names, ["here"]);
        assert!(state.held_instances.is_empty());
        assert_eq!(state.desired.instances[0].spec_hash.len(), 16);
        assert!(state.desired.draining.contains_key("uid-going"));
    }

    #[test]
    fn every_volume_bound_to_the_node_is_desired_mounted_or_not() {
        let volumes = [
            fixtures::bound_volume("data", "node-a"),
            fixtures::bound_volume("elsewhere", "node-b"),
            fixtures::volume("unbound"),
        ];
        let state = desired_state("node-a", &[], &volumes, &[], &BTreeMap::new());
        let id = ("acme".to_string(), "data".to_string());
        let ids: Vec<&VolumeId> = state.desired.volumes.keys().collect();
        assert_eq!(ids, [&id]);
        assert_eq!(state.desired.volumes[&id].size_bytes, 1 << 30);
        assert_eq!(state.desired.known_volumes.len(), 3);
    }

    #[test]
    fn a_deleting_volume_is_not_ensured_but_stays_known() {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.metadata.deletion_timestamp = Some("2024-01-01T00:00:00Z".into());
        let state = desired_state("node-a", &[], &[volume], &[], &BTreeMap::new());
        assert!(state.desired.volumes.is_empty());
        assert_eq!(state.desired.known_volumes.len(), 1);
    }

    #[test]
    fn an_instance_mounting_a_missing_volume_is_held_back_with_a_message() {
        let state = desired_state(
            "node-a",
            &[inst("a", "node-a", &["data"])],
            &[],
            &[],
            &BTreeMap::new(),
        );
        assert!(state.desired.instances.is_empty());
        assert_eq!(
            state.held_instances["uid-a"],
            "Volume \"data\" does not exist in tenant \"acme\"; create it"
        );
    }

    #[test]
    fn a_volume_waiting_for_its_snapshot_holds_back_its_instances() {
        let mut volume = fixtures::volume("data");
        volume.status = Some(minicloud_manifests::VolumeStatus {
            node: Some("node-a".into()),
            ..Default::default()
        });
        volume.spec.from_snapshot = Some("nightly".into());
        let state = desired_state(
            "node-a",
            &[inst("a", "node-a", &["data"])],
            &[volume],
            &[],
            &BTreeMap::new(),
        );
        assert!(state.desired.volumes.is_empty());
        let held = &state.held_volumes[&("acme".into(), "data".into())];
        assert!(held.contains("waits for Snapshot \"nightly\""), "{held}");
        assert_eq!(
            state.held_instances["uid-a"],
            format!("its volume is not Ready: {held}")
        );
    }
}
