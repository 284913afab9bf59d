//! Where an Instance that mounts volumes may run, pure functions of (Instance, Volumes): the
//! scheduler binds it to its volumes' node once every one of them is bound and Ready, and node
//! sync holds back an Instance whose volume is elsewhere, missing, or being restored.

use minicloud_manifests::{Instance, Volume, VolumePhase};

/// The Volumes `instance` mounts, by name, each with the Volume if it exists.
fn mounted<'a>(
    instance: &'a Instance,
    volumes: &'a [Volume],
) -> Vec<(&'a str, Option<&'a Volume>)> {
    let tenant = instance.metadata.tenant.as_deref();
    instance
        .spec
        .container
        .volumes
        .iter()
        .map(|mount| {
            let volume = volumes
                .iter()
                .find(|v| v.metadata.name == mount.name && v.metadata.tenant.as_deref() == tenant);
            (mount.name.as_str(), volume)
        })
        .collect()
}

fn missing(name: &str, instance: &Instance) -> String {
    let tenant = instance.metadata.tenant.as_deref().unwrap_or_default();
    format!("Volume {name:?} does not exist in tenant {tenant:?}; create it")
}

/// The node `instance` must run on for its volumes (`None`: it mounts none), or why it cannot
/// be placed yet.
pub fn volume_node(instance: &Instance, volumes: &[Volume]) -> Result<Option<String>, String> {
    let mut node: Option<(&str, String)> = None;
    for (name, volume) in mounted(instance, volumes) {
        let volume = volume.ok_or_else(|| missing(name, instance))?;
        let status = volume.status.clone().unwrap_or_default();
        let Some(bound) = status.node else {
            return Err(format!(
                "waiting for Volume {name:?} to be bound to a node{}",
                detail(&status.message)
            ));
        };
        if status.phase != VolumePhase::Ready {
            return Err(format!(
                "waiting for Volume {name:?} to be Ready (it is {:?}){}",
                status.phase,
                detail(&status.message)
            ));
        }
        match &node {
            Some((first, other)) if *other != bound => {
                return Err(format!(
                    "it mounts Volumes {first:?} (on {other}) and {name:?} (on {bound}), which are \
                     on different nodes; mount volumes of one node only"
                ));
            }
            Some(_) => {}
            None => node = Some((name, bound)),
        }
    }
    Ok(node.map(|(_, node)| node))
}

fn detail(message: &str) -> String {
    match message {
        "" => String::new(),
        message => format!(": {message}"),
    }
}

/// Why node sync on `node` must not run `instance` now, if it must not: a volume it mounts is
/// missing, on another node, or being restored.
pub fn mount_problem(instance: &Instance, node: &str, volumes: &[Volume]) -> Option<String> {
    for (name, volume) in mounted(instance, volumes) {
        let Some(volume) = volume else {
            return Some(missing(name, instance));
        };
        let status = volume.status.clone().unwrap_or_default();
        match status.node.as_deref() {
            None => return Some(format!("Volume {name:?} is not bound to a node yet")),
            Some(bound) if bound != node => {
                return Some(format!(
                    "Volume {name:?} is on node {bound}, not {node}; delete the Instance for it to \
                     be placed again"
                ));
            }
            Some(_) => {}
        }
        if status.phase == VolumePhase::Restoring {
            let from = volume
                .spec
                .restore
                .as_ref()
                .map(|r| r.snapshot.as_str())
                .unwrap_or("?");
            return Some(format!(
                "stopped while Volume {name:?} is restored from Snapshot {from:?}; it starts again \
                 once the restore is done"
            ));
        }
    }
    None
}

/// The names of the Instances (of `volume`'s tenant) whose container mounts `volume`, sorted.
pub fn instances_mounting(volume: &Volume, instances: &[Instance]) -> Vec<String> {
    let mut names: Vec<String> = instances
        .iter()
        .filter(|i| i.metadata.tenant == volume.metadata.tenant)
        .filter(|i| {
            i.spec
                .container
                .volumes
                .iter()
                .any(|m| m.name == volume.metadata.name)
        })
        .map(|i| i.metadata.name.clone())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use minicloud_manifests::RestoreRequest;

    use super::*;
    use crate::fixtures;

    fn inst(mounts: &[&str]) -> Instance {
        let container = fixtures::mounting(fixtures::container("hello:1"), mounts);
        fixtures::instance("web-1", "web", "web-r1", None, container)
    }

    #[test]
    fn an_instance_without_volumes_may_go_anywhere() {
        assert_eq!(volume_node(&inst(&[]), &[]), Ok(None));
    }

    #[test]
    fn an_instance_goes_to_its_ready_volumes_node() {
        let volumes = [fixtures::bound_volume("data", "node-b")];
        assert_eq!(
            volume_node(&inst(&["data"]), &volumes),
            Ok(Some("node-b".into()))
        );
    }

    #[test]
    fn an_instance_waits_for_a_missing_unbound_or_pending_volume() {
        let inst = inst(&["data"]);
        assert_eq!(
            volume_node(&inst, &[]).unwrap_err(),
            "Volume \"data\" does not exist in tenant \"acme\"; create it"
        );
        let mut unbound = fixtures::volume("data");
        unbound.status = Some(minicloud_manifests::VolumeStatus {
            message: "no nodes are registered; start an agent to add one".into(),
            ..Default::default()
        });
        assert_eq!(
            volume_node(&inst, &[unbound]).unwrap_err(),
            "waiting for Volume \"data\" to be bound to a node: no nodes are registered; start an \
             agent to add one"
        );
        let mut pending = fixtures::bound_volume("data", "node-a");
        pending.status.as_mut().unwrap().phase = VolumePhase::Pending;
        assert_eq!(
            volume_node(&inst, &[pending]).unwrap_err(),
            "waiting for Volume \"data\" to be Ready (it is Pending)"
        );
    }

    #[test]
    fn volumes_on_two_nodes_cannot_be_mounted_together() {
        let volumes = [
            fixtures::bound_volume("data", "node-a"),
            fixtures::bound_volume("logs", "node-b"),
        ];
        assert!(
            volume_node(&inst(&["data", "logs"]), &volumes)
                .unwrap_err()
                .contains("which are on different nodes")
        );
    }

    #[test]
    fn node_sync_stops_instances_of_a_restoring_volume_and_of_other_nodes() {
        let inst = inst(&["data"]);
        let mut volume = fixtures::bound_volume("data", "node-a");
        assert_eq!(mount_problem(&inst, "node-a", &[volume.clone()]), None);
        assert_eq!(
            mount_problem(&inst, "node-b", &[volume.clone()]).unwrap(),
            "Volume \"data\" is on node node-a, not node-b; delete the Instance for it to be \
             placed again"
        );
        volume.status.as_mut().unwrap().phase = VolumePhase::Restoring;
        volume.spec.restore = Some(RestoreRequest {
            snapshot: "nightly".into(),
            requested_at: "2024-01-02T00:00:00Z".into(),
        });
        assert_eq!(
            mount_problem(&inst, "node-a", &[volume]).unwrap(),
            "stopped while Volume \"data\" is restored from Snapshot \"nightly\"; it starts again \
             once the restore is done"
        );
    }
}
