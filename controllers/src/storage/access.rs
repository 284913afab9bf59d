//! Access modes, pure functions: a `ReadWriteOnce` volume is mounted read-write by one
//! instance at a time. Node sync holds back an instance that would mount it read-write while
//! another one does (or is about to), and an App mounting one read-write rolls out by
//! stopping the old instance before starting the new one. `ReadWriteMany` has no limit.

use std::collections::BTreeMap;

use minicloud_manifests::{AccessMode, App, Instance, Volume};
use minicloud_proto::v1::ObservedState;

use crate::labels::docker;
use crate::nodesync::{VolumeId, volume_of};

/// The first `ReadWriteOnce` Volume `app` mounts read-write, by name.
pub fn exclusive_volume(app: &App, volumes: &[Volume]) -> Option<String> {
    app.spec
        .volumes
        .iter()
        .filter(|m| !m.read_only)
        .find(|m| {
            volumes.iter().any(|v| {
                v.metadata.name == m.name
                    && v.metadata.tenant == app.metadata.tenant
                    && v.spec.access_mode == AccessMode::ReadWriteOnce
            })
        })
        .map(|m| m.name.clone())
}

/// The instance (by name) whose container mounts each volume read-write on the node.
pub fn read_write_users(observed: &ObservedState) -> BTreeMap<VolumeId, String> {
    let mut users = BTreeMap::new();
    for volume in &observed.volumes {
        let Some(id) = volume_of(volume) else {
            continue;
        };
        let writer = volume
            .mounted_by
            .iter()
            .filter(|m| !m.read_only)
            .find_map(|m| {
                let container = observed
                    .containers
                    .iter()
                    .find(|c| c.id == m.container_id)?;
                container.labels.get(docker::INSTANCE).cloned()
            });
        if let Some(writer) = writer {
            users.insert(id, writer);
        }
    }
    users
}

/// Why `instance` must wait to mount a `ReadWriteOnce` volume read-write, given the instance
/// mounting each read-write (`writers`, which gains `instance` for the volumes it may take).
pub fn exclusive_conflict(
    instance: &Instance,
    volumes: &[Volume],
    writers: &mut BTreeMap<VolumeId, String>,
) -> Option<String> {
    let tenant = instance.metadata.tenant.clone().unwrap_or_default();
    let name = &instance.metadata.name;
    let wanted: Vec<VolumeId> = instance
        .spec
        .container
        .volumes
        .iter()
        .filter(|m| !m.read_only)
        .filter(|m| {
            volumes.iter().any(|v| {
                v.metadata.name == m.name
                    && v.metadata.tenant.as_deref() == Some(tenant.as_str())
                    && v.spec.access_mode == AccessMode::ReadWriteOnce
            })
        })
        .map(|m| (tenant.clone(), m.name.clone()))
        .collect();
    for id in &wanted {
        if let Some(other) = writers.get(id).filter(|other| *other != name) {
            return Some(format!(
                "waiting for instance {other} to stop: Volume {:?} is ReadWriteOnce and {other} \
                 mounts it read-write; set accessMode: ReadWriteMany to share it",
                id.1
            ));
        }
    }
    for id in wanted {
        writers.insert(id, name.clone());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use minicloud_proto::v1::{ObservedContainer, ObservedVolume, VolumeMountedBy};

    use super::*;
    use crate::fixtures;

    fn inst(name: &str) -> Instance {
        let container = fixtures::mounting(fixtures::container("hello:1"), &["data"]);
        fixtures::instance(name, "web", "web-r1", Some("node-a"), container)
    }

    fn shared(mode: AccessMode) -> Vec<Volume> {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.spec.access_mode = mode;
        vec![volume]
    }

    #[test]
    fn a_second_writer_of_a_read_write_once_volume_waits_for_the_first() {
        let volumes = shared(AccessMode::ReadWriteOnce);
        let mut writers = BTreeMap::from([(("acme".into(), "data".into()), "web-old".into())]);
        assert_eq!(
            exclusive_conflict(&inst("web-new"), &volumes, &mut writers).unwrap(),
            "waiting for instance web-old to stop: Volume \"data\" is ReadWriteOnce and web-old \
             mounts it read-write; set accessMode: ReadWriteMany to share it"
        );
        assert_eq!(
            exclusive_conflict(&inst("web-old"), &volumes, &mut writers),
            None
        );
    }

    #[test]
    fn of_two_new_writers_only_the_first_may_start() {
        let volumes = shared(AccessMode::ReadWriteOnce);
        let mut writers = BTreeMap::new();
        assert_eq!(
            exclusive_conflict(&inst("web-a"), &volumes, &mut writers),
            None
        );
        assert!(exclusive_conflict(&inst("web-b"), &volumes, &mut writers).is_some());
    }

    #[test]
    fn read_write_many_and_read_only_mounts_have_no_limit() {
        let mut writers = BTreeMap::from([(("acme".into(), "data".into()), "web-old".into())]);
        let many = shared(AccessMode::ReadWriteMany);
        assert_eq!(
            exclusive_conflict(&inst("web-new"), &many, &mut writers),
            None
        );
        let mut reader = inst("web-reader");
        reader.spec.container.volumes[0].read_only = true;
        let once = shared(AccessMode::ReadWriteOnce);
        assert_eq!(exclusive_conflict(&reader, &once, &mut writers), None);
    }

    #[test]
    fn the_observed_writer_is_named_by_its_containers_labels() {
        let observed = ObservedState {
            containers: vec![ObservedContainer {
                id: "c1".into(),
                labels: HashMap::from([(docker::INSTANCE.into(), "web-1".into())]),
                ..ObservedContainer::default()
            }],
            volumes: vec![ObservedVolume {
                name: "data".into(),
                labels: HashMap::from([(docker::TENANT.into(), "acme".into())]),
                mounted_by: vec![VolumeMountedBy {
                    container_id: "c1".into(),
                    read_only: false,
                }],
                ..ObservedVolume::default()
            }],
            ..ObservedState::default()
        };
        let writers = read_write_users(&observed);
        assert_eq!(writers[&("acme".to_string(), "data".to_string())], "web-1");
    }

    #[test]
    fn an_app_mounting_a_read_write_once_volume_read_write_is_exclusive() {
        let mut app = fixtures::app("hello:1", 1);
        app.spec.volumes = fixtures::mounting(fixtures::container("x"), &["data"]).volumes;
        assert_eq!(
            exclusive_volume(&app, &shared(AccessMode::ReadWriteOnce)).as_deref(),
            Some("data")
        );
        assert_eq!(
            exclusive_volume(&app, &shared(AccessMode::ReadWriteMany)),
            None
        );
    }
}
