//! Which node holds a Volume's data, a pure function of (Volume, Nodes, the Volumes already
//! bound, now): a bound Volume stays where its data is; an unbound one goes to a schedulable
//! Ready node, the one holding the fewest volumes (then by name), so several nodes share them.

use std::time::SystemTime;

use minicloud_manifests::{Node, Volume};

use crate::scheduler::not_ready;

/// Where a Volume's data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Bound already, to this node.
    Bound(String),
    /// Bind it to this node now.
    Bind(String),
    /// No node can take it yet, for this reason.
    Wait(String),
}

/// The binding of `volume` among `nodes`, given every Volume (to count what each node holds).
pub fn bind(volume: &Volume, nodes: &[Node], volumes: &[Volume], now: SystemTime) -> Binding {
    if let Some(node) = volume.status.as_ref().and_then(|s| s.node.clone()) {
        return Binding::Bound(node);
    }
    let held = |node: &Node| {
        volumes
            .iter()
            .filter(|v| {
                v.status.as_ref().and_then(|s| s.node.as_deref()) == Some(&node.metadata.name)
            })
            .count()
    };
    let refusals: Vec<String> = nodes.iter().filter_map(|n| not_ready(n, now)).collect();
    let best = nodes
        .iter()
        .filter(|n| not_ready(n, now).is_none())
        .min_by_key(|n| (held(n), n.metadata.name.clone()));
    match best {
        Some(node) => Binding::Bind(node.metadata.name.clone()),
        None if nodes.is_empty() => {
            Binding::Wait("no nodes are registered; start an agent to add one".into())
        }
        None => Binding::Wait(format!(
            "no node can hold it: {}; the volume is bound once one is Ready",
            refusals.join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::fixtures;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn an_unbound_volume_goes_to_the_one_ready_node() {
        let nodes = [fixtures::ready_node("node-a", now())];
        let volume = fixtures::volume("data");
        assert_eq!(
            bind(&volume, &nodes, &[], now()),
            Binding::Bind("node-a".into())
        );
    }

    #[test]
    fn a_bound_volume_stays_where_its_data_is_even_on_a_cordoned_node() {
        let mut node = fixtures::ready_node("node-a", now());
        node.spec.unschedulable = true;
        let volume = fixtures::bound_volume("data", "node-a");
        assert_eq!(
            bind(&volume, &[node], &[], now()),
            Binding::Bound("node-a".into())
        );
    }

    #[test]
    fn of_several_nodes_the_one_holding_fewest_volumes_takes_it() {
        let nodes = [
            fixtures::ready_node("node-a", now()),
            fixtures::ready_node("node-b", now()),
        ];
        let others = [fixtures::bound_volume("logs", "node-a")];
        let volume = fixtures::volume("data");
        assert_eq!(
            bind(&volume, &nodes, &others, now()),
            Binding::Bind("node-b".into())
        );
    }

    #[test]
    fn without_a_ready_node_it_waits_saying_why() {
        let mut node = fixtures::ready_node("node-a", now());
        node.spec.unschedulable = true;
        let volume = fixtures::volume("data");
        assert_eq!(
            bind(&volume, &[node], &[], now()),
            Binding::Wait(
                "no node can hold it: node-a is cordoned; the volume is bound once one is Ready"
                    .into()
            )
        );
        assert_eq!(
            bind(&volume, &[], &[], now()),
            Binding::Wait("no nodes are registered; start an agent to add one".into())
        );
    }
}
