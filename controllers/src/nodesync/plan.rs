//! The node sync's decision, a pure function of (desired, observed, now) → the agent operations
//! that close the gap, each start with the env its Secret values come from. Only objects carrying `minicloud.managed=true` (and, when they name one,
//! this node) are ever considered; anything else on the host is invisible here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use minicloud_manifests::{ContainerSpec, EnvVar};
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{
    EnsureNetwork, EnsureVolume, ObservedContainer, ObservedState, ObservedVolume, RemoveInstance,
    RemoveNetwork, RemoveVolume, SnapshotArchive, StartInstance,
};

use crate::labels::docker;
use crate::time;

/// Seconds a removed container gets between SIGTERM and SIGKILL.
pub const GRACE_SECONDS: u32 = 10;
/// How long an exited container is left to Docker's own restart policy before it is started
/// again by a plan.
pub const RESTART_DELAY: Duration = Duration::from_secs(10);

/// How long the running container of a deleted Instance keeps serving before it is stopped
/// (counted from the Instance's deletion mark, which has whole seconds): every ingress follows
/// the same deletion through its own watch and stops routing to the container meanwhile, so no
/// request is sent to a container on its way out.
pub const DRAIN_DELAY: Duration = Duration::from_secs(3);

/// An Instance that should run on the node.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredInstance {
    /// Its tenant.
    pub tenant: String,
    /// Its App.
    pub app: String,
    /// Its name.
    pub name: String,
    /// Its uid: what ties a container to it.
    pub uid: String,
    /// Its Release.
    pub release: String,
    /// The container to run.
    pub container: ContainerSpec,
    /// The stable hash of `container`.
    pub spec_hash: String,
}

/// One operation of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// What the agent is asked to do.
    pub op: Op,
    /// For a start, its container's env: the Secret values the start's `secret_env` needs are
    /// read from the references in it (see `secret_env`). Empty for other operations.
    pub env: Vec<EnvVar>,
}

impl From<Op> for Step {
    fn from(op: Op) -> Step {
        Step {
            op,
            env: Vec::new(),
        }
    }
}

/// A tenant volume (tenant, name).
pub type VolumeId = (String, String);

/// A Volume bound to the node, as it should exist there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DesiredVolume {
    /// Its size in bytes (`spec.size`).
    pub size_bytes: u64,
    /// The size it was last ensured at (`status.sizeBytes`): below `size_bytes`, the volume
    /// is ensured again, which grows it online.
    pub provisioned_bytes: u64,
    /// The group owning its root directory.
    pub fs_group: u32,
    /// The archive a new volume is filled from.
    pub from_snapshot: Option<SnapshotArchive>,
}

/// What should exist on one node.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Desired {
    /// The node's name.
    pub node: String,
    /// Instances to run.
    pub instances: Vec<DesiredInstance>,
    /// Volumes bound to the node.
    pub volumes: BTreeMap<VolumeId, DesiredVolume>,
    /// Every Volume object that exists, anywhere: a managed volume not among them is an orphan.
    pub known_volumes: BTreeSet<VolumeId>,
    /// Deleted Instances on the node (by uid), with when they were marked for deletion: their
    /// containers are stopped only [`DRAIN_DELAY`] after that.
    pub draining: BTreeMap<String, SystemTime>,
}

/// The operations taking `observed` to `desired`: removals, then networks and volumes, then
/// starts, then networks and volumes left unused.
pub fn plan(desired: &Desired, observed: &ObservedState, now: SystemTime) -> Vec<Step> {
    let containers: Vec<&ObservedContainer> = observed
        .containers
        .iter()
        .filter(|c| is_ours(&c.labels, &desired.node))
        .collect();
    let (starts, removes) = instance_ops(desired, &containers, now);
    let mut steps: Vec<Step> = removes.into_iter().map(Step::from).collect();
    steps.extend(
        ensure_storage(desired, observed)
            .into_iter()
            .map(Step::from),
    );
    steps.extend(starts);
    let unused = remove_unused_storage(desired, observed, &containers);
    steps.extend(unused.into_iter().map(Step::from));
    steps
}

/// Whether minicloud manages the object on `node`.
fn is_ours(labels: &std::collections::HashMap<String, String>, node: &str) -> bool {
    labels.get(docker::MANAGED).is_some_and(|v| v == "true")
        && labels.get(docker::NODE).is_none_or(|n| n == node)
}

/// The Volume an observed Docker volume is: its tenant label and its `minicloud.volume` label
/// (the Docker name, which also carries the tenant, when that label is absent).
pub fn volume_of(volume: &ObservedVolume) -> Option<VolumeId> {
    let tenant = label(&volume.labels, docker::TENANT)?;
    let name = label(&volume.labels, docker::VOLUME).unwrap_or(&volume.name);
    Some((tenant.to_owned(), name.to_owned()))
}

fn label<'a>(labels: &'a std::collections::HashMap<String, String>, key: &str) -> Option<&'a str> {
    labels.get(key).map(String::as_str)
}

/// Starts for desired instances without a good container; removals for every other container.
fn instance_ops(
    desired: &Desired,
    containers: &[&ObservedContainer],
    now: SystemTime,
) -> (Vec<Step>, Vec<Op>) {
    let (mut starts, mut removes) = (Vec::new(), Vec::new());
    let mut kept = BTreeSet::new();
    for instance in &desired.instances {
        let mine: Vec<&ObservedContainer> = containers
            .iter()
            .copied()
            .filter(|c| label(&c.labels, docker::INSTANCE_UID) == Some(instance.uid.as_str()))
            .collect();
        let keeper = mine.iter().copied().max_by_key(|c| rank(c, instance));
        let start_needed = match keeper {
            None => true,
            Some(c) if !is_current(c, instance) => true,
            Some(c) => !is_live(c) && !waits_for_docker(c, now),
        };
        if start_needed {
            starts.push(start(instance));
        }
        kept.extend(keeper.map(|c| c.id.clone()));
    }
    let leftovers = containers.iter().filter(|c| !kept.contains(&c.id));
    for container in leftovers.filter(|c| drain_left(desired, c, now).is_none()) {
        removes.push(Op::RemoveInstance(RemoveInstance {
            container_id: container.id.clone(),
            grace_seconds: GRACE_SECONDS,
        }));
    }
    (starts, removes)
}

/// How long `container` still drains before it may be stopped; `None` when it may go now (it
/// does not run, or belongs to no deleted Instance, or has drained).
pub fn drain_left(
    desired: &Desired,
    container: &ObservedContainer,
    now: SystemTime,
) -> Option<Duration> {
    let uid = label(&container.labels, docker::INSTANCE_UID)?;
    let marked = desired.draining.get(uid)?;
    let drained = now.duration_since(*marked).unwrap_or_default();
    let left = DRAIN_DELAY.saturating_sub(drained);
    (container.state == "running" && !left.is_zero()).then_some(left)
}

/// Which of an instance's containers to keep: the current spec first, then a live one.
fn rank(container: &ObservedContainer, instance: &DesiredInstance) -> (bool, bool, String) {
    let current = is_current(container, instance);
    (current, is_live(container), container.started_at.clone())
}

/// Whether the container was made from the instance's current spec.
fn is_current(container: &ObservedContainer, instance: &DesiredInstance) -> bool {
    label(&container.labels, docker::SPEC_HASH) == Some(instance.spec_hash.as_str())
}

/// Running, or on its way (Docker restarting it, or removing it).
fn is_live(container: &ObservedContainer) -> bool {
    matches!(
        container.state.as_str(),
        "running" | "restarting" | "removing"
    )
}

/// An exited container that stopped only moments ago is left to Docker's restart policy.
fn waits_for_docker(container: &ObservedContainer, now: SystemTime) -> bool {
    matches!(container.state.as_str(), "exited" | "dead")
        && time::age(&container.finished_at, now).is_some_and(|age| age < RESTART_DELAY)
}

fn start(instance: &DesiredInstance) -> Step {
    let op = Op::StartInstance(StartInstance {
        tenant: instance.tenant.clone(),
        app: instance.app.clone(),
        instance: instance.name.clone(),
        instance_uid: instance.uid.clone(),
        release: instance.release.clone(),
        container_json: serde_json::to_string(&instance.container)
            .expect("container specs always serialize"),
        secret_env: Default::default(),
        spec_hash: instance.spec_hash.clone(),
    });
    Step {
        op,
        env: instance.container.env.clone(),
    }
}

/// Networks of the tenants with desired instances, where missing; volumes bound to the node,
/// where missing or smaller than their spec.
fn ensure_storage(desired: &Desired, observed: &ObservedState) -> Vec<Op> {
    let networks: BTreeSet<&str> = observed
        .networks
        .iter()
        .filter(|n| is_ours(&n.labels, &desired.node))
        .filter_map(|n| label(&n.labels, docker::TENANT))
        .collect();
    let volumes: BTreeSet<VolumeId> = observed
        .volumes
        .iter()
        .filter(|v| is_ours(&v.labels, &desired.node))
        .filter_map(volume_of)
        .collect();
    let tenants: BTreeSet<&str> = desired
        .instances
        .iter()
        .map(|i| i.tenant.as_str())
        .collect();
    let mut ops: Vec<Op> = tenants
        .into_iter()
        .filter(|t| !networks.contains(t))
        .map(|tenant| {
            Op::EnsureNetwork(EnsureNetwork {
                tenant: tenant.into(),
            })
        })
        .collect();
    for ((tenant, name), volume) in &desired.volumes {
        let exists = volumes.contains(&(tenant.clone(), name.clone()));
        if !exists || volume.provisioned_bytes < volume.size_bytes {
            ops.push(Op::EnsureVolume(EnsureVolume {
                tenant: tenant.clone(),
                name: name.clone(),
                size_bytes: volume.size_bytes,
                fs_group: volume.fs_group,
                from_snapshot: volume.from_snapshot.clone(),
            }));
        }
    }
    ops
}

/// Networks of tenants with nothing left on the node, and volumes whose Volume object is gone
/// (once their tenant has no container here).
fn remove_unused_storage(
    desired: &Desired,
    observed: &ObservedState,
    containers: &[&ObservedContainer],
) -> Vec<Op> {
    let busy: BTreeSet<&str> = desired
        .instances
        .iter()
        .map(|i| i.tenant.as_str())
        .chain(
            containers
                .iter()
                .filter_map(|c| label(&c.labels, docker::TENANT)),
        )
        .collect();
    let networks = observed
        .networks
        .iter()
        .filter(|n| is_ours(&n.labels, &desired.node))
        .filter_map(|n| label(&n.labels, docker::TENANT))
        .filter(|tenant| !busy.contains(tenant))
        .map(|tenant| {
            Op::RemoveNetwork(RemoveNetwork {
                tenant: tenant.into(),
            })
        });
    let volumes = observed
        .volumes
        .iter()
        .filter(|v| is_ours(&v.labels, &desired.node))
        .filter_map(volume_of)
        .filter(|id| !busy.contains(id.0.as_str()) && !desired.known_volumes.contains(id))
        .map(|(tenant, name)| {
            Op::RemoveVolume(RemoveVolume {
                tenant,
                name,
                keep_data: false,
            })
        });
    networks.chain(volumes).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::fixtures;
    use minicloud_proto::v1::ObservedNetwork;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn desired(instances: Vec<DesiredInstance>) -> Desired {
        Desired {
            node: "node-a".into(),
            instances,
            ..Desired::default()
        }
    }

    fn inst(tenant: &str, uid: &str, hash: &str) -> DesiredInstance {
        DesiredInstance {
            tenant: tenant.into(),
            app: "web".into(),
            name: format!("web-{uid}"),
            uid: uid.into(),
            release: "web-1".into(),
            container: fixtures::container("hello:1"),
            spec_hash: hash.into(),
        }
    }

    fn managed(tenant: &str) -> HashMap<String, String> {
        HashMap::from([
            (docker::MANAGED.into(), "true".into()),
            (docker::NODE.into(), "node-a".into()),
            (docker::TENANT.into(), tenant.into()),
        ])
    }

    fn container(id: &str, tenant: &str, uid: &str, hash: &str, state: &str) -> ObservedContainer {
        let mut labels = managed(tenant);
        labels.insert(docker::INSTANCE_UID.into(), uid.into());
        labels.insert(docker::SPEC_HASH.into(), hash.into());
        ObservedContainer {
            id: id.into(),
            labels,
            state: state.into(),
            ..ObservedContainer::default()
        }
    }

    fn network(tenant: &str) -> ObservedNetwork {
        ObservedNetwork {
            id: format!("net-{tenant}"),
            name: format!("minicloud-{tenant}"),
            labels: managed(tenant),
        }
    }

    fn observed(
        containers: Vec<ObservedContainer>,
        networks: Vec<ObservedNetwork>,
    ) -> ObservedState {
        ObservedState {
            node: "node-a".into(),
            containers,
            networks,
            volumes: Vec::new(),
            volume_mechanism: None,
        }
    }

    /// The plan in short: `start:<uid>`, `remove:<id>`, `network:<tenant>`, `-network:<tenant>`…
    fn short(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|step| match &step.op {
                Op::StartInstance(s) => format!("start:{}", s.instance_uid),
                Op::RemoveInstance(r) => format!("remove:{}", r.container_id),
                Op::EnsureNetwork(n) => format!("network:{}", n.tenant),
                Op::RemoveNetwork(n) => format!("-network:{}", n.tenant),
                Op::EnsureVolume(v) => format!("volume:{}/{}", v.tenant, v.name),
                Op::RemoveVolume(v) => format!("-volume:{}/{}", v.tenant, v.name),
            })
            .collect()
    }

    #[test]
    fn a_missing_container_is_started_after_its_tenant_network_is_ensured() {
        let ops = plan(
            &desired(vec![inst("acme", "u1", "h1")]),
            &observed(vec![], vec![]),
            now(),
        );
        assert_eq!(short(&ops), ["network:acme", "start:u1"]);
        let Op::StartInstance(start) = &ops[1].op else {
            unreachable!()
        };
        assert_eq!(
            (start.spec_hash.as_str(), start.instance.as_str()),
            ("h1", "web-u1")
        );
        assert!(start.container_json.contains("hello:1"));
    }

    #[test]
    fn a_start_carries_its_containers_env_and_other_operations_none() {
        let mut instance = inst("acme", "u1", "h1");
        instance.container.env = vec![
            fixtures::literal_var("GREETING", "hi"),
            fixtures::secret_var("DB_PASSWORD", "db", "password"),
        ];
        let steps = plan(
            &desired(vec![instance.clone()]),
            &observed(vec![], vec![]),
            now(),
        );
        assert_eq!(short(&steps), ["network:acme", "start:u1"]);
        assert!(steps[0].env.is_empty());
        assert_eq!(steps[1].env, instance.container.env);
    }

    #[test]
    fn a_running_container_of_the_current_spec_needs_nothing() {
        let state = observed(
            vec![container("c1", "acme", "u1", "h1", "running")],
            vec![network("acme")],
        );
        assert!(plan(&desired(vec![inst("acme", "u1", "h1")]), &state, now()).is_empty());
    }

    #[test]
    fn a_changed_spec_hash_starts_the_instance_again_for_the_agent_to_replace() {
        let state = observed(
            vec![container("c1", "acme", "u1", "old", "running")],
            vec![network("acme")],
        );
        let ops = plan(&desired(vec![inst("acme", "u1", "new")]), &state, now());
        assert_eq!(short(&ops), ["start:u1"]);
    }

    #[test]
    fn a_container_of_no_desired_instance_is_removed_and_then_its_network() {
        let state = observed(
            vec![container("c1", "acme", "gone", "h1", "running")],
            vec![network("acme")],
        );
        let ops = plan(&desired(vec![]), &state, now());
        assert_eq!(short(&ops), ["remove:c1"]);
        assert_eq!(
            short(&plan(
                &desired(vec![]),
                &observed(vec![], vec![network("acme")]),
                now()
            )),
            ["-network:acme"]
        );
    }

    #[test]
    fn a_deleted_instances_running_container_drains_before_it_is_removed() {
        let state = observed(
            vec![
                container("c1", "acme", "going", "h1", "running"),
                container("c2", "acme", "crashed", "h1", "exited"),
            ],
            vec![network("acme")],
        );
        let mut wanted = desired(vec![]);
        let marked = now() - Duration::from_secs(1);
        wanted.draining.insert("going".into(), marked);
        wanted.draining.insert("crashed".into(), marked);
        assert_eq!(short(&plan(&wanted, &state, now())), ["remove:c2"]);
        assert_eq!(
            drain_left(&wanted, &state.containers[0], now()),
            Some(DRAIN_DELAY - Duration::from_secs(1))
        );
        let later = marked + DRAIN_DELAY;
        assert_eq!(
            short(&plan(&wanted, &state, later)),
            ["remove:c1", "remove:c2"]
        );
        assert_eq!(drain_left(&wanted, &state.containers[0], later), None);
    }

    #[test]
    fn objects_without_the_managed_label_or_of_another_node_are_never_touched() {
        let mut foreign = container("mine-not", "acme", "u9", "h", "running");
        foreign.labels.remove(docker::MANAGED);
        let mut elsewhere = container("other-node", "acme", "u8", "h", "running");
        elsewhere
            .labels
            .insert(docker::NODE.into(), "node-b".into());
        let mut unmanaged_net = network("acme");
        unmanaged_net
            .labels
            .insert(docker::MANAGED.into(), "false".into());
        let state = observed(vec![foreign, elsewhere], vec![unmanaged_net]);
        assert!(plan(&desired(vec![]), &state, now()).is_empty());
    }

    #[test]
    fn a_managed_container_without_an_instance_label_is_an_orphan() {
        let mut orphan = container("c7", "acme", "x", "h", "exited");
        orphan.labels.remove(docker::INSTANCE_UID);
        let ops = plan(&desired(vec![]), &observed(vec![orphan], vec![]), now());
        assert_eq!(short(&ops), ["remove:c7"]);
    }

    #[test]
    fn of_duplicate_containers_the_current_running_one_is_kept() {
        let state = observed(
            vec![
                container("old", "acme", "u1", "h0", "running"),
                container("good", "acme", "u1", "h1", "running"),
                container("dead", "acme", "u1", "h1", "exited"),
            ],
            vec![network("acme")],
        );
        let ops = plan(&desired(vec![inst("acme", "u1", "h1")]), &state, now());
        assert_eq!(short(&ops), ["remove:old", "remove:dead"]);
    }

    #[test]
    fn an_exited_container_is_left_to_docker_briefly_then_started() {
        let mut exited = container("c1", "acme", "u1", "h1", "exited");
        exited.finished_at = time::format(now() - Duration::from_secs(2));
        let state = observed(vec![exited.clone()], vec![network("acme")]);
        let want = desired(vec![inst("acme", "u1", "h1")]);
        assert!(plan(&want, &state, now()).is_empty());
        let later = now() + RESTART_DELAY;
        assert_eq!(short(&plan(&want, &state, later)), ["start:u1"]);
    }

    #[test]
    fn mounted_volumes_are_ensured_and_orphaned_ones_removed() {
        let mut want = desired(vec![inst("acme", "u1", "h1")]);
        let data = DesiredVolume {
            size_bytes: 1 << 30,
            fs_group: 65534,
            ..DesiredVolume::default()
        };
        want.volumes.insert(("acme".into(), "data".into()), data);
        want.known_volumes.insert(("acme".into(), "data".into()));
        want.known_volumes.insert(("beta".into(), "kept".into()));
        let volume = |tenant: &str, name: &str| ObservedVolume {
            name: name.into(),
            labels: managed(tenant),
            ..ObservedVolume::default()
        };
        let mut state = observed(vec![], vec![network("acme")]);
        state.volumes = vec![volume("beta", "kept"), volume("beta", "stale")];
        let ops = plan(&want, &state, now());
        assert_eq!(
            short(&ops),
            ["volume:acme/data", "start:u1", "-volume:beta/stale"]
        );
    }

    #[test]
    fn a_volume_smaller_than_its_spec_is_ensured_again_to_grow_it_and_carries_its_source() {
        let mut want = desired(vec![]);
        let archive = SnapshotArchive {
            location: "acme/data/uid-s".into(),
            sha256: "ab".into(),
        };
        let grown = DesiredVolume {
            size_bytes: 2 << 30,
            provisioned_bytes: 1 << 30,
            fs_group: 1000,
            from_snapshot: Some(archive.clone()),
        };
        want.volumes.insert(("acme".into(), "data".into()), grown);
        want.known_volumes.insert(("acme".into(), "data".into()));
        let mut state = observed(vec![], vec![]);
        state.volumes = vec![ObservedVolume {
            name: "data".into(),
            labels: managed("acme"),
            ..ObservedVolume::default()
        }];
        let ops = plan(&want, &state, now());
        let Op::EnsureVolume(ensure) = &ops[0].op else {
            unreachable!("{ops:?}")
        };
        assert_eq!((ensure.size_bytes, ensure.fs_group), (2 << 30, 1000));
        assert_eq!(ensure.from_snapshot, Some(archive));
        want.volumes
            .values_mut()
            .for_each(|v| v.provisioned_bytes = 2 << 30);
        assert!(plan(&want, &state, now()).is_empty());
    }

    #[test]
    fn an_observed_volume_is_named_by_its_volume_label_before_its_docker_name() {
        let mut labels = managed("acme");
        labels.insert(docker::VOLUME.into(), "data".into());
        let docker_named = ObservedVolume {
            name: "mc-acme-data".into(),
            labels,
            ..ObservedVolume::default()
        };
        assert_eq!(
            volume_of(&docker_named),
            Some(("acme".into(), "data".into()))
        );
    }

    #[test]
    fn removals_come_before_starts() {
        let state = observed(
            vec![container("c0", "acme", "gone", "h", "running")],
            vec![network("acme")],
        );
        let ops = plan(&desired(vec![inst("acme", "u1", "h1")]), &state, now());
        assert_eq!(short(&ops), ["remove:c0", "start:u1"]);
    }
}
