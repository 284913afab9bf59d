//! Observed state: what minicloud manages on this node, assembled from the engine's listings,
//! the exit codes the event follower remembered and what the prober found.

use std::sync::Arc;

use minicloud_proto::v1::{ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume};

use crate::events::EventHub;
use crate::health::Health;
use crate::health::table::HealthReport;
use crate::labels;
use crate::runtime::{ContainerInfo, NetworkInfo, Runtime, RuntimeError, VolumeInfo};

/// Takes snapshots of the node's managed objects.
#[derive(Clone)]
pub struct Observer {
    runtime: Arc<dyn Runtime>,
    node: String,
    hub: EventHub,
    health: Health,
}

impl Observer {
    /// An observer of `runtime` reporting as `node`, with readiness from `health`.
    pub fn new(runtime: Arc<dyn Runtime>, node: String, hub: EventHub, health: Health) -> Observer {
        Observer {
            runtime,
            node,
            hub,
            health,
        }
    }

    /// The event follower this observer reads exit codes from.
    pub fn hub(&self) -> &EventHub {
        &self.hub
    }

    /// Everything minicloud manages on this node, now.
    pub async fn snapshot(&self) -> Result<ObservedState, RuntimeError> {
        let containers = self.runtime.list_containers().await?;
        let networks = self.runtime.list_networks().await?;
        let volumes = self.runtime.list_volumes().await?;
        Ok(observed_state(
            &self.node,
            containers,
            networks,
            volumes,
            |id| self.hub.last_exit_code(id),
            |c| self.health.report(c),
        ))
    }
}

/// Assembles a snapshot. Containers count when labelled with this node (several agents may
/// share one engine); networks and volumes are per engine, so every managed one counts.
pub fn observed_state(
    node: &str,
    containers: Vec<ContainerInfo>,
    networks: Vec<NetworkInfo>,
    volumes: Vec<VolumeInfo>,
    last_die: impl Fn(&str) -> Option<i32>,
    health: impl Fn(&ContainerInfo) -> HealthReport,
) -> ObservedState {
    let containers = containers
        .into_iter()
        .filter(|c| labels::is_managed(&c.labels))
        .filter(|c| c.labels.get(labels::NODE).is_some_and(|n| n == node))
        .map(|c| {
            let health = health(&c);
            observed_container(c, &last_die, health)
        })
        .collect();
    ObservedState {
        node: node.to_owned(),
        containers,
        networks: networks
            .into_iter()
            .filter(|n| labels::is_managed(&n.labels))
            .map(|n| ObservedNetwork {
                id: n.id,
                name: n.name,
                labels: n.labels.into_iter().collect(),
            })
            .collect(),
        volumes: volumes
            .into_iter()
            .filter(|v| labels::is_managed(&v.labels))
            .map(|v| ObservedVolume {
                name: v.name,
                labels: v.labels.into_iter().collect(),
                ..ObservedVolume::default()
            })
            .collect(),
        volume_mechanism: None,
    }
}

fn observed_container(
    c: ContainerInfo,
    last_die: &impl Fn(&str) -> Option<i32>,
    health: HealthReport,
) -> ObservedContainer {
    let tenant_network = c
        .labels
        .get(labels::TENANT)
        .map(|tenant| labels::network_name(tenant));
    let ip = tenant_network
        .and_then(|name| c.networks.get(&name).cloned())
        .unwrap_or_default();
    let exited = c.state != "running" && !c.started_at.is_empty();
    let last_exit_code = last_die(&c.id).or(if exited { c.exit_code } else { None });
    ObservedContainer {
        id: c.id,
        name: c.name,
        labels: c.labels.into_iter().collect(),
        state: c.state,
        last_exit_code,
        restart_count: c.restart_count.saturating_add(health.restarts),
        ip,
        started_at: c.started_at,
        finished_at: c.finished_at,
        ready: health.ready,
        last_probe: health.last_probe,
        consecutive_failures: health.consecutive_failures,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use minicloud_proto::v1::ProbeResult;

    use super::*;

    fn container(id: &str, node: &str, state: &str) -> ContainerInfo {
        let mut labels = labels::tenant_labels(node, "acme");
        labels.insert(labels::INSTANCE.into(), format!("web-{id}"));
        ContainerInfo {
            id: id.into(),
            name: format!("mc-acme-web-{id}"),
            labels,
            state: state.into(),
            exit_code: Some(7),
            restart_count: 2,
            networks: BTreeMap::from([
                ("bridge".to_owned(), "172.17.0.2".to_owned()),
                ("mc-acme".to_owned(), "10.1.0.5".to_owned()),
            ]),
            started_at: "2024-01-01T00:00:00Z".into(),
            finished_at: String::new(),
        }
    }

    #[test]
    fn a_container_reports_its_tenant_network_ip_state_and_restarts() {
        let state = observed_state(
            "n1",
            vec![container("a", "n1", "running")],
            vec![],
            vec![],
            |_| None,
            |_| HealthReport::default(),
        );
        let c = &state.containers[0];
        assert_eq!(
            (c.id.as_str(), c.state.as_str(), c.ip.as_str()),
            ("a", "running", "10.1.0.5")
        );
        assert_eq!(c.restart_count, 2);
        assert_eq!(c.last_exit_code, None);
        assert_eq!(c.labels["minicloud.instance"], "web-a");
    }

    #[test]
    fn readiness_the_latest_probe_and_the_agents_restarts_come_from_the_prober() {
        let probe = ProbeResult {
            time: "2024-01-01T00:00:05Z".into(),
            ok: false,
            message: "HTTP 503".into(),
        };
        let report = HealthReport {
            ready: false,
            last_probe: Some(probe.clone()),
            consecutive_failures: 2,
            restarts: 3,
        };
        let containers = vec![container("a", "n1", "running")];
        let state = observed_state(
            "n1",
            containers,
            vec![],
            vec![],
            |_| None,
            |c| {
                assert_eq!(c.id, "a");
                report.clone()
            },
        );
        let c = &state.containers[0];
        assert!(!c.ready);
        assert_eq!(c.last_probe, Some(probe));
        assert_eq!(c.consecutive_failures, 2);
        assert_eq!(c.restart_count, 5, "two by Docker, three by the agent");
    }

    #[test]
    fn the_exit_code_comes_from_the_last_die_event_else_from_a_stopped_container() {
        let containers = vec![
            container("a", "n1", "running"),
            container("b", "n1", "exited"),
        ];
        let last_die = |id: &str| (id == "a").then_some(3);
        let state = observed_state("n1", containers, vec![], vec![], last_die, |_| {
            HealthReport::default()
        });
        let codes: Vec<_> = state.containers.iter().map(|c| c.last_exit_code).collect();
        assert_eq!(codes, [Some(3), Some(7)]);
    }

    #[test]
    fn other_nodes_containers_and_unmanaged_objects_are_left_out() {
        let mut unmanaged = container("c", "n1", "running");
        unmanaged.labels.remove(labels::MANAGED);
        let containers = vec![
            container("a", "n1", "running"),
            container("b", "n2", "running"),
            unmanaged,
        ];
        let networks = vec![
            NetworkInfo {
                id: "1".into(),
                name: "mc-acme".into(),
                labels: labels::tenant_labels("n2", "acme"),
            },
            NetworkInfo {
                id: "2".into(),
                name: "other".into(),
                labels: BTreeMap::new(),
            },
        ];
        let volumes = vec![VolumeInfo {
            name: "plain".into(),
            labels: BTreeMap::new(),
        }];
        let state = observed_state(
            "n1",
            containers,
            networks,
            volumes,
            |_| None,
            |_| HealthReport::default(),
        );
        let ids: Vec<_> = state.containers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        assert_eq!(state.networks.len(), 1);
        assert!(state.volumes.is_empty());
        assert_eq!(state.node, "n1");
    }
}
