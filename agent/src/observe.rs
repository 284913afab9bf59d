//! Observed state: what minicloud manages on this node, assembled from the engine's listings,
//! the exit codes the event follower remembered, what the prober found, and each volume's
//! size and use (one statvfs each) with the containers mounting it.

use std::sync::Arc;

use minicloud_proto::v1::{
    ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume, VolumeMechanism,
    VolumeMountedBy,
};

use crate::events::EventHub;
use crate::health::Health;
use crate::health::table::HealthReport;
use crate::labels;
use crate::runtime::{ContainerInfo, NetworkInfo, Runtime, RuntimeError, VolumeInfo};
use crate::storage::mechanism::Mechanism;
use crate::storage::volumes::Volumes;

/// Takes snapshots of the node's managed objects.
#[derive(Clone)]
pub struct Observer {
    runtime: Arc<dyn Runtime>,
    node: String,
    hub: EventHub,
    health: Health,
    volumes: Arc<Volumes>,
}

impl Observer {
    /// An observer of `runtime` reporting as `node`, with readiness from `health`; it reports
    /// no volume mechanism until [`Observer::with_volumes`].
    pub fn new(runtime: Arc<dyn Runtime>, node: String, hub: EventHub, health: Health) -> Observer {
        let volumes = Volumes::unavailable("this agent was started without a storage directory");
        Observer {
            runtime,
            node,
            hub,
            health,
            volumes: Arc::new(volumes),
        }
    }

    /// The observer measuring the node's volumes with `volumes`.
    pub fn with_volumes(mut self, volumes: Arc<Volumes>) -> Observer {
        self.volumes = volumes;
        self
    }

    /// The node's volumes.
    pub fn volumes(&self) -> &Arc<Volumes> {
        &self.volumes
    }

    /// The prober this observer reads readiness from.
    pub fn health(&self) -> &Health {
        &self.health
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
        let mut state = observed_state(
            &self.node,
            containers,
            networks,
            volumes,
            |id| self.hub.last_exit_code(id),
            |c| self.health.report(c),
            |v| self.usage(v),
        );
        state.volume_mechanism = Some(volume_mechanism(self.volumes.mechanism()));
        Ok(state)
    }

    /// The size and use of a Docker volume's image, when it is one of this node's and mounted.
    fn usage(&self, volume: &VolumeInfo) -> Option<(u64, u64)> {
        let tenant = volume.labels.get(labels::TENANT)?;
        let name = volume.labels.get(labels::VOLUME)?;
        self.volumes.usage(tenant, name)
    }
}

/// The mechanism as the contract reports it.
pub fn volume_mechanism(mechanism: &Mechanism) -> VolumeMechanism {
    VolumeMechanism {
        name: mechanism.name().to_owned(),
        detail: mechanism.detail(),
    }
}

/// Assembles a snapshot. Containers count when labelled with this node (several agents may
/// share one engine); networks and volumes are per engine, so every managed one counts, with
/// the size and use `usage` finds and every managed container that mounts it. The volume
/// mechanism is left for the caller.
pub fn observed_state(
    node: &str,
    containers: Vec<ContainerInfo>,
    networks: Vec<NetworkInfo>,
    volumes: Vec<VolumeInfo>,
    last_die: impl Fn(&str) -> Option<i32>,
    health: impl Fn(&ContainerInfo) -> HealthReport,
    usage: impl Fn(&VolumeInfo) -> Option<(u64, u64)>,
) -> ObservedState {
    let volumes = volumes
        .into_iter()
        .filter(|v| labels::is_managed(&v.labels))
        .map(|v| observed_volume(v, &containers, &usage))
        .collect();
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
        volumes,
        volume_mechanism: None,
    }
}

fn observed_volume(
    v: VolumeInfo,
    containers: &[ContainerInfo],
    usage: &impl Fn(&VolumeInfo) -> Option<(u64, u64)>,
) -> ObservedVolume {
    let (capacity_bytes, used_bytes) = usage(&v).unwrap_or_default();
    let mounted_by = containers
        .iter()
        .filter(|c| labels::is_managed(&c.labels))
        .flat_map(|c| {
            c.mounts
                .iter()
                .filter(|m| m.volume == v.name)
                .map(|m| VolumeMountedBy {
                    container_id: c.id.clone(),
                    read_only: m.read_only,
                })
        })
        .collect();
    ObservedVolume {
        name: v.name,
        labels: v.labels.into_iter().collect(),
        capacity_bytes,
        used_bytes,
        mounted_by,
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
        health_alert: health.alert,
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
            mounts: Vec::new(),
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
            |_| None,
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
            ..ProbeResult::default()
        };
        let report = HealthReport {
            ready: false,
            last_probe: Some(probe.clone()),
            consecutive_failures: 2,
            restarts: 3,
            alert: None,
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
            |_| None,
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
        let state = observed_state(
            "n1",
            containers,
            vec![],
            vec![],
            last_die,
            |_| HealthReport::default(),
            |_| None,
        );
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
            |_| None,
        );
        let ids: Vec<_> = state.containers.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        assert_eq!(state.networks.len(), 1);
        assert!(state.volumes.is_empty());
        assert_eq!(state.node, "n1");
    }

    #[test]
    fn a_volume_reports_its_size_use_and_the_containers_mounting_it() {
        use crate::runtime::Mount;
        let mount = |volume: &str, read_only| Mount {
            volume: volume.into(),
            target: "/data".into(),
            read_only,
        };
        let mut writer = container("a", "n1", "running");
        writer.mounts = vec![mount("mc-acme-data", false)];
        let mut reader = container("b", "n2", "running");
        reader.mounts = vec![mount("mc-acme-data", true), mount("mc-acme-logs", false)];
        let mut labels = labels::tenant_labels("n1", "acme");
        labels.insert(labels::VOLUME.into(), "data".into());
        let volumes = vec![VolumeInfo {
            name: "mc-acme-data".into(),
            labels,
        }];
        let state = observed_state(
            "n1",
            vec![writer, reader],
            vec![],
            volumes,
            |_| None,
            |_| HealthReport::default(),
            |v| (v.labels[labels::VOLUME] == "data").then_some((100, 40)),
        );
        let volume = &state.volumes[0];
        assert_eq!((volume.capacity_bytes, volume.used_bytes), (100, 40));
        let mounted: Vec<_> = volume
            .mounted_by
            .iter()
            .map(|m| (m.container_id.as_str(), m.read_only))
            .collect();
        assert_eq!(mounted, [("a", false), ("b", true)]);
    }
}
