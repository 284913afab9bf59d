//! The scheduler's decision, a pure function of (Nodes, Instances, Volumes, now): each unbound
//! Instance goes to a Ready node with room for its cpu and memory — the node of its volumes,
//! once they are bound and Ready — preferring the node with the fewest replicas of its App,
//! then the most free memory; one that fits nowhere gets a message saying why each node
//! refused it, or what its volumes wait for.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{Bytes, ConditionStatus, Cpu, Instance, Node, Volume};

use crate::condition;
use crate::object::{ObjectKey, is_deleting};
use crate::storage::volume_node;
use crate::time;

/// A node whose agent has not reported for this long is not Ready.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(40);

/// Where an unbound Instance goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Bind it to this node.
    Bind(String),
    /// It fits nowhere, for these reasons.
    Unschedulable(String),
}

/// What is left on one node.
#[derive(Clone, Debug)]
struct Room {
    name: String,
    refusal: Option<String>,
    cpu: u64,
    memory: u64,
    containers: u64,
    apps: BTreeMap<(Option<String>, String), usize>,
}

/// Decides a placement for every unbound, non-deleting Instance, oldest first.
pub fn schedule(
    nodes: &[Node],
    instances: &[Instance],
    volumes: &[Volume],
    now: SystemTime,
) -> Vec<(ObjectKey, Placement)> {
    let mut rooms: Vec<Room> = nodes.iter().map(|n| room(n, now)).collect();
    for instance in instances {
        if let Some(room) = rooms
            .iter_mut()
            .find(|r| Some(&r.name) == instance.spec.node.as_ref())
        {
            room.take(instance);
        }
    }
    let mut pending: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.spec.node.is_none() && !is_deleting(&i.metadata))
        .collect();
    pending.sort_by_key(|i| {
        (
            i.metadata.creation_timestamp.clone(),
            i.metadata.name.clone(),
        )
    });
    pending
        .into_iter()
        .map(|instance| {
            let placement = match volume_node(instance, volumes) {
                Ok(node) => place(&mut rooms, instance, node.as_deref()),
                Err(waiting) => Placement::Unschedulable(waiting),
            };
            (ObjectKey::of(instance), placement)
        })
        .collect()
}

/// The best room for `instance`, on `only` when its volumes are there.
fn place(rooms: &mut [Room], instance: &Instance, only: Option<&str>) -> Placement {
    let app = app_of(instance);
    let best = rooms
        .iter_mut()
        .filter(|r| only.is_none_or(|node| r.name == node))
        .filter(|r| r.refusal(instance).is_none())
        .min_by_key(|r| {
            (
                r.apps.get(&app).copied().unwrap_or(0),
                Reverse(r.memory),
                r.name.clone(),
            )
        });
    if let Some(room) = best {
        room.take(instance);
        return Placement::Bind(room.name.clone());
    }
    let reasons: Vec<String> = rooms
        .iter()
        .filter(|r| only.is_none_or(|node| r.name == node))
        .filter_map(|r| r.refusal(instance))
        .collect();
    if let (Some(node), true) = (only, reasons.is_empty()) {
        return Placement::Unschedulable(format!(
            "its volumes are on node {node}, which is not registered"
        ));
    }
    Placement::Unschedulable(match reasons.is_empty() {
        true => "no nodes are registered; start an agent to add one".into(),
        false => format!("0/{} nodes can run it: {}", rooms.len(), reasons.join("; ")),
    })
}

/// A node's free room before any Instance is counted, and why it takes none at all.
fn room(node: &Node, now: SystemTime) -> Room {
    let status = node.status.clone().unwrap_or_default();
    let allocatable = status.allocatable.clone().unwrap_or_default();
    Room {
        name: node.metadata.name.clone(),
        refusal: not_ready(node, now),
        cpu: allocatable.cpu.millis(),
        memory: allocatable.memory.get(),
        containers: u64::from(allocatable.containers),
        apps: BTreeMap::new(),
    }
}

/// Why a node takes no Instances at all, if it does not.
pub fn not_ready(node: &Node, now: SystemTime) -> Option<String> {
    let name = &node.metadata.name;
    let status = node.status.clone().unwrap_or_default();
    if node.spec.unschedulable {
        return Some(format!("{name} is cordoned"));
    }
    if status.allocatable.is_none() {
        return Some(format!("{name} has not reported its capacity"));
    }
    let ready = condition::find(&status.conditions, "Ready");
    if let Some(c) = ready.filter(|c| c.status != ConditionStatus::True) {
        return Some(format!("{name} is not ready ({})", c.message));
    }
    let age = status
        .heartbeat_time
        .as_deref()
        .and_then(|t| time::age(t, now));
    match age {
        Some(age) if age <= HEARTBEAT_TIMEOUT => None,
        Some(age) => Some(format!(
            "{name} is not ready (no heartbeat for {} s)",
            age.as_secs()
        )),
        None => Some(format!("{name} is not ready (no heartbeat yet)")),
    }
}

impl Room {
    /// Why this node cannot take `instance` now, if it cannot.
    fn refusal(&self, instance: &Instance) -> Option<String> {
        if let Some(refusal) = &self.refusal {
            return Some(refusal.clone());
        }
        let (cpu, memory) = requests(instance);
        let name = &self.name;
        if self.containers == 0 {
            Some(format!("{name} has no room for another container"))
        } else if self.memory < memory {
            let (free, need) = (Bytes::new(self.memory), Bytes::new(memory));
            Some(format!("{name} has {free} memory free, needs {need}"))
        } else if self.cpu < cpu {
            let (free, need) = (Cpu::from_millis(self.cpu), Cpu::from_millis(cpu));
            Some(format!("{name} has {free} cpu free, needs {need}"))
        } else {
            None
        }
    }

    /// Counts `instance` against this node.
    fn take(&mut self, instance: &Instance) {
        let (cpu, memory) = requests(instance);
        self.cpu = self.cpu.saturating_sub(cpu);
        self.memory = self.memory.saturating_sub(memory);
        self.containers = self.containers.saturating_sub(1);
        *self.apps.entry(app_of(instance)).or_default() += 1;
    }
}

fn requests(instance: &Instance) -> (u64, u64) {
    let resources = &instance.spec.container.resources;
    (resources.cpu.millis(), resources.memory.get())
}

fn app_of(instance: &Instance) -> (Option<String>, String) {
    (instance.metadata.tenant.clone(), instance.spec.app.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use minicloud_manifests::{NodeCapacity, NodeSpec, NodeStatus, ObjectMeta};

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn node(name: &str, cpu_millis: u64, memory_mi: u64) -> Node {
        let mut node = Node::new(ObjectMeta::named(name, None), NodeSpec::default());
        node.status = Some(NodeStatus {
            allocatable: Some(NodeCapacity {
                cpu: Cpu::from_millis(cpu_millis),
                memory: Bytes::mebibytes(memory_mi),
                containers: 100,
            }),
            heartbeat_time: Some(time::format(now() - Duration::from_secs(5))),
            ..NodeStatus::default()
        });
        node
    }

    fn inst(name: &str, app: &str, node: Option<&str>, memory_mi: u64) -> Instance {
        let container = fixtures::limited(
            fixtures::container("hello:1"),
            Cpu::from_millis(250),
            Bytes::mebibytes(memory_mi),
        );
        let release = format!("{app}-1");
        let mut instance = fixtures::instance(name, app, &release, node, container);
        instance.metadata.creation_timestamp = Some(format!("2024-01-01T00:00:00Z{name}"));
        instance
    }

    fn bound(placements: &[(ObjectKey, Placement)]) -> Vec<(&str, &str)> {
        placements
            .iter()
            .map(|(key, p)| match p {
                Placement::Bind(node) => (key.name.as_str(), node.as_str()),
                Placement::Unschedulable(_) => (key.name.as_str(), "-"),
            })
            .collect()
    }

    #[test]
    fn replicas_of_an_app_spread_across_nodes() {
        let nodes = [node("a", 4000, 1024), node("b", 4000, 1024)];
        let instances = [
            inst("w1", "web", None, 128),
            inst("w2", "web", None, 128),
            inst("w3", "web", None, 128),
        ];
        let placements = schedule(&nodes, &instances, &[], now());
        assert_eq!(bound(&placements), [("w1", "a"), ("w2", "b"), ("w3", "a")]);
    }

    #[test]
    fn among_equally_used_nodes_the_one_with_most_free_memory_wins() {
        let nodes = [node("a", 4000, 512), node("b", 4000, 1024)];
        let instances = [inst("w1", "web", None, 128)];
        assert_eq!(
            bound(&schedule(&nodes, &instances, &[], now())),
            [("w1", "b")]
        );
    }

    #[test]
    fn bound_instances_use_up_their_nodes_room() {
        let nodes = [node("a", 4000, 256), node("b", 4000, 256)];
        let instances = [
            inst("db", "db", Some("a"), 200),
            inst("w1", "web", None, 128),
        ];
        assert_eq!(
            bound(&schedule(&nodes, &instances, &[], now())),
            [("w1", "b")]
        );
    }

    #[test]
    fn an_instance_that_fits_nowhere_says_why_for_each_node() {
        let nodes = [node("node-a", 4000, 64)];
        let placements = schedule(&nodes, &[inst("w1", "web", None, 128)], &[], now());
        assert_eq!(
            placements[0].1,
            Placement::Unschedulable(
                "0/1 nodes can run it: node-a has 64Mi memory free, needs 128Mi".into()
            )
        );
    }

    #[test]
    fn nodes_without_a_recent_heartbeat_or_cordoned_take_nothing() {
        let mut stale = node("stale", 4000, 1024);
        let status = stale.status.as_mut().unwrap();
        status.heartbeat_time = Some(time::format(now() - Duration::from_secs(90)));
        let mut cordoned = node("cordoned", 4000, 1024);
        cordoned.spec.unschedulable = true;
        let placements = schedule(
            &[stale, cordoned],
            &[inst("w1", "web", None, 128)],
            &[],
            now(),
        );
        let Placement::Unschedulable(message) = &placements[0].1 else {
            panic!("expected no placement, got {:?}", placements[0].1)
        };
        assert_eq!(
            message,
            "0/2 nodes can run it: stale is not ready (no heartbeat for 90 s); cordoned is cordoned"
        );
    }

    #[test]
    fn without_nodes_the_message_says_to_add_one() {
        let placements = schedule(&[], &[inst("w1", "web", None, 128)], &[], now());
        assert!(
            matches!(&placements[0].1, Placement::Unschedulable(m) if m.starts_with("no nodes"))
        );
    }

    #[test]
    fn cpu_is_a_limit_too() {
        let placements = schedule(
            &[node("a", 100, 1024)],
            &[inst("w1", "web", None, 128)],
            &[],
            now(),
        );
        assert_eq!(
            placements[0].1,
            Placement::Unschedulable(
                "0/1 nodes can run it: a has 100m cpu free, needs 250m".into()
            )
        );
    }

    #[test]
    fn bound_and_deleting_instances_are_not_placed() {
        let mut going = inst("w2", "web", None, 128);
        going.metadata.deletion_timestamp = Some("2024-01-01T00:00:00Z".into());
        let instances = [inst("w1", "web", Some("a"), 128), going];
        assert!(schedule(&[node("a", 4000, 1024)], &instances, &[], now()).is_empty());
    }

    #[test]
    fn an_instance_mounting_a_volume_goes_to_the_volumes_node_or_waits_for_it() {
        let nodes = [node("a", 4000, 1024), node("b", 4000, 4096)];
        let mut instance = inst("w1", "web", None, 128);
        instance.spec.container = fixtures::mounting(instance.spec.container.clone(), &["data"]);
        let volumes = [fixtures::bound_volume("data", "a")];
        let placements = schedule(&nodes, &[instance.clone()], &volumes, now());
        assert_eq!(
            bound(&placements),
            [("w1", "a")],
            "not b, though it has more memory free"
        );
        let mut pending = volumes[0].clone();
        pending.status.as_mut().unwrap().phase = minicloud_manifests::VolumePhase::Pending;
        let placements = schedule(&nodes, &[instance], &[pending], now());
        assert_eq!(
            placements[0].1,
            Placement::Unschedulable(
                "waiting for Volume \"data\" to be Ready (it is Pending)".into()
            )
        );
    }
}
