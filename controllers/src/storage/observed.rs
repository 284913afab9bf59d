//! The part of a Volume's status its node's observed state decides, a pure function — node
//! sync is its one writer: `mechanism`, `sizeBytes` (the provisioned size, raised once a plan
//! grew it), `usedBytes`, `mountedBy` (container ids turned into App and Instance through the
//! containers' labels) and the `Ready` condition: `Provisioned`, `Growing`, `Provisioning` or
//! `WaitingForSnapshot`. Every other field is left as it was.

use minicloud_manifests::{Bytes, Volume, VolumeStatus, VolumeUser};
use minicloud_proto::v1::{ObservedContainer, ObservedVolume, VolumeMechanism};

use crate::condition::{self, Decided};
use crate::labels::docker;

/// What node sync saw of one volume.
#[derive(Clone, Copy, Debug, Default)]
pub struct Seen<'a> {
    /// The volume as the agent reports it; `None` when it does not exist there.
    pub volume: Option<&'a ObservedVolume>,
    /// How the node enforces volume sizes.
    pub mechanism: Option<&'a VolumeMechanism>,
    /// Every container on the node, to name the volume's users.
    pub containers: &'a [ObservedContainer],
    /// Why node sync holds the volume back, if it does.
    pub held: Option<&'a str>,
    /// The size the last plan ensured it at, when it ensured it.
    pub ensured: Option<u64>,
}

/// `volume`'s status with the observed fields replaced by what `seen` shows, at `now`.
pub fn observed_status(volume: &Volume, seen: &Seen, now: &str) -> VolumeStatus {
    let mut status = volume.status.clone().unwrap_or_default();
    let node = status.node.clone().unwrap_or_default();
    if let Some(mechanism) = seen.mechanism {
        status.mechanism = mechanism.name.clone();
    }
    let decided = match (seen.held, seen.volume) {
        (Some(held), _) => Decided::no("Ready", "WaitingForSnapshot", held),
        (None, None) => {
            status.mounted_by.clear();
            Decided::no(
                "Ready",
                "Provisioning",
                format!("being created on node {node}"),
            )
        }
        (None, Some(observed)) => {
            if let Some(ensured) = seen.ensured {
                status.size_bytes = status.size_bytes.max(ensured);
            }
            status.used_bytes = observed.used_bytes;
            status.mounted_by = users(observed, seen.containers);
            ready(volume, &status, &node)
        }
    };
    condition::set(&mut status.conditions, decided, now);
    status
}

fn ready(volume: &Volume, status: &VolumeStatus, node: &str) -> Decided {
    let wanted = volume.spec.size.get();
    if status.size_bytes < wanted {
        let message = format!(
            "growing online from {} to {} on node {node}",
            Bytes::new(status.size_bytes),
            Bytes::new(wanted)
        );
        return Decided::yes("Ready", "Growing", message);
    }
    let mechanism = match status.mechanism.as_str() {
        "" => "provisioned".to_owned(),
        name => format!("provisioned ({name})"),
    };
    Decided::yes(
        "Ready",
        "Provisioned",
        format!("{mechanism} on node {node}"),
    )
}

/// The Instances whose containers mount the volume, by their containers' labels.
fn users(observed: &ObservedVolume, containers: &[ObservedContainer]) -> Vec<VolumeUser> {
    let mut users: Vec<VolumeUser> = observed
        .mounted_by
        .iter()
        .filter_map(|mount| {
            let container = containers.iter().find(|c| c.id == mount.container_id)?;
            let label = |key: &str| container.labels.get(key).cloned().unwrap_or_default();
            Some(VolumeUser {
                app: label(docker::APP),
                instance: label(docker::INSTANCE),
                read_only: mount.read_only,
            })
        })
        .collect();
    users.sort_by(|a, b| a.instance.cmp(&b.instance));
    users.dedup();
    users
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use minicloud_manifests::ConditionStatus;
    use minicloud_proto::v1::VolumeMountedBy;

    use super::*;
    use crate::fixtures;

    fn observed(used: u64, mounts: &[(&str, bool)]) -> ObservedVolume {
        ObservedVolume {
            name: "data".into(),
            capacity_bytes: 1 << 30,
            used_bytes: used,
            mounted_by: mounts
                .iter()
                .map(|(id, read_only)| VolumeMountedBy {
                    container_id: (*id).into(),
                    read_only: *read_only,
                })
                .collect(),
            ..ObservedVolume::default()
        }
    }

    fn container(id: &str, instance: &str) -> ObservedContainer {
        ObservedContainer {
            id: id.into(),
            labels: HashMap::from([
                (docker::APP.into(), "web".into()),
                (docker::INSTANCE.into(), instance.into()),
            ]),
            ..ObservedContainer::default()
        }
    }

    fn ready_of(status: &VolumeStatus) -> (ConditionStatus, String, String) {
        let c = condition::find(&status.conditions, "Ready").unwrap();
        (c.status, c.reason.clone(), c.message.clone())
    }

    #[test]
    fn an_observed_volume_is_provisioned_with_its_usage_and_users() {
        let volume = fixtures::bound_volume("data", "node-a");
        let mechanism = VolumeMechanism {
            name: "loop-ext4".into(),
            detail: String::new(),
        };
        let containers = [container("c2", "web-2"), container("c1", "web-1")];
        let seen = Seen {
            volume: Some(&observed(
                4096,
                &[("c2", true), ("c1", false), ("gone", false)],
            )),
            mechanism: Some(&mechanism),
            containers: &containers,
            ..Seen::default()
        };
        let status = observed_status(&volume, &seen, "t");
        assert_eq!(
            (status.mechanism.as_str(), status.used_bytes),
            ("loop-ext4", 4096)
        );
        let users: Vec<(&str, bool)> = status
            .mounted_by
            .iter()
            .map(|u| (u.instance.as_str(), u.read_only))
            .collect();
        assert_eq!(users, [("web-1", false), ("web-2", true)]);
        assert_eq!(
            ready_of(&status),
            (
                ConditionStatus::True,
                "Provisioned".into(),
                "provisioned (loop-ext4) on node node-a".into()
            )
        );
    }

    #[test]
    fn a_larger_spec_reads_growing_until_a_plan_ensured_the_new_size() {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.spec.size = Bytes::gibibytes(2);
        let seen_volume = observed(0, &[]);
        let seen = Seen {
            volume: Some(&seen_volume),
            ..Seen::default()
        };
        let growing = observed_status(&volume, &seen, "t");
        assert_eq!(
            ready_of(&growing),
            (
                ConditionStatus::True,
                "Growing".into(),
                "growing online from 1Gi to 2Gi on node node-a".into()
            )
        );
        let grown = Seen {
            ensured: Some(2 << 30),
            ..seen
        };
        let status = observed_status(&volume, &grown, "t");
        assert_eq!(status.size_bytes, 2 << 30);
        assert_eq!(ready_of(&status).1, "Provisioned");
    }

    #[test]
    fn a_missing_or_held_volume_is_not_ready_and_recomputing_changes_nothing() {
        let mut volume = fixtures::volume("data");
        volume.status = Some(VolumeStatus {
            node: Some("node-a".into()),
            ..VolumeStatus::default()
        });
        let status = observed_status(&volume, &Seen::default(), "t1");
        assert_eq!(
            ready_of(&status),
            (
                ConditionStatus::False,
                "Provisioning".into(),
                "being created on node node-a".into()
            )
        );
        volume.status = Some(status.clone());
        assert_eq!(observed_status(&volume, &Seen::default(), "t2"), status);
        let held = Seen {
            held: Some("waits for Snapshot"),
            ..Seen::default()
        };
        assert_eq!(
            ready_of(&observed_status(&volume, &held, "t3")).1,
            "WaitingForSnapshot"
        );
    }
}
