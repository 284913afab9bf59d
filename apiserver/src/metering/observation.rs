//! What one metering round sees, per tenant, made from the objects and the agents' answers:
//! the running instances with their limits, the volumes with their sizes, each container's CPU
//! counter and each node's ingress totals per App. Pure: built from values, so the integration
//! can be tested with plain ones.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use minicloud_manifests::Bytes;
use minicloud_proto::v1::NodeMetrics;
use serde_json::Value;

use crate::usage::InstanceFacts;

/// An instance whose container runs: what its limits allocate while it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunningInstance {
    /// Its App.
    pub app: String,
    /// When the Instance was created, Unix milliseconds: nothing is counted before.
    pub created_millis: i64,
    /// CPU limit, millicores.
    pub cpu_millicores: u64,
    /// Memory limit, bytes.
    pub memory_bytes: u64,
}

/// A volume and the storage it takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeSize {
    /// The App mounting it, `""` when none does.
    pub app: String,
    /// When the Volume was created, Unix milliseconds.
    pub created_millis: i64,
    /// Its size, bytes.
    pub size_bytes: u64,
}

/// One container's counters as its agent last read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuReading {
    /// The container.
    pub container_id: String,
    /// Its App.
    pub app: String,
    /// CPU time used since it started, nanoseconds.
    pub cpu_nanos: u64,
    /// Its memory working set, bytes.
    pub working_set_bytes: u64,
    /// When it was read, Unix milliseconds.
    pub at_millis: i64,
    /// When its Instance was created, if known: its use is not spread before then.
    pub since_millis: Option<i64>,
}

/// One node's ingress totals for one App, as its agent answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrafficReading {
    /// The node.
    pub node: String,
    /// The start of its ingress the totals count from.
    pub epoch: u64,
    /// The App.
    pub app: String,
    /// Requests since that start.
    pub requests: u64,
    /// Response body bytes since that start.
    pub bytes: u64,
}

/// Everything one round sees of one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantView {
    /// Instances whose containers run.
    pub running: Vec<RunningInstance>,
    /// Volumes.
    pub volumes: Vec<VolumeSize>,
    /// Container readings.
    pub readings: Vec<CpuReading>,
    /// Ingress totals.
    pub traffic: Vec<TrafficReading>,
    /// The nodes whose agents answered this round: the ingress totals of the others are
    /// remembered until they answer again.
    pub answered_nodes: BTreeSet<String>,
    /// Containers some Instance of the tenant names: their counters are remembered even in a
    /// round without a reading (an agent not answering), so they are never counted twice.
    pub named_containers: BTreeSet<String>,
}

/// Every tenant's view, from all Instances and Volumes and the answers of the agents.
pub fn views(
    instances: &[Value],
    volumes: &[Value],
    answers: &[NodeMetrics],
) -> BTreeMap<String, TenantView> {
    let mut views: BTreeMap<String, TenantView> = BTreeMap::new();
    let mut created_by_container = HashMap::new();
    for instance in instances {
        let Some(tenant) = text(instance, "/metadata/tenant") else {
            continue;
        };
        let view = views.entry(tenant.to_owned()).or_default();
        let facts = InstanceFacts::of(instance);
        let created_millis = created(instance);
        if let Some(id) = &facts.container_id {
            view.named_containers.insert(id.clone());
            created_by_container.insert(id.clone(), created_millis);
        }
        if text(instance, "/status/phase") == Some("Running") && facts.container_id.is_some() {
            view.running.push(RunningInstance {
                app: text(instance, "/spec/app").unwrap_or_default().to_owned(),
                created_millis,
                cpu_millicores: facts.cpu_limit_millicores,
                memory_bytes: facts.memory_limit_bytes,
            });
        }
    }
    for volume in volumes {
        let Some(tenant) = text(volume, "/metadata/tenant") else {
            continue;
        };
        let size_bytes = volume
            .pointer("/spec/size")
            .cloned()
            .and_then(|size| serde_json::from_value::<Bytes>(size).ok())
            .map_or(0, |size| size.get());
        views
            .entry(tenant.to_owned())
            .or_default()
            .volumes
            .push(VolumeSize {
                app: text(volume, "/status/mountedBy/0/app")
                    .unwrap_or_default()
                    .to_owned(),
                created_millis: created(volume),
                size_bytes,
            });
    }
    let samples = answers.iter().flat_map(|answer| &answer.instances);
    for sample in samples.filter(|s| s.sampled_at_millis > 0) {
        views
            .entry(sample.tenant.clone())
            .or_default()
            .readings
            .push(CpuReading {
                container_id: sample.container_id.clone(),
                app: sample.app.clone(),
                cpu_nanos: sample.cpu_usage_nanos,
                working_set_bytes: sample.memory_bytes,
                at_millis: sample.sampled_at_millis,
                since_millis: created_by_container.get(&sample.container_id).copied(),
            });
    }
    for answer in answers {
        for traffic in &answer.ingress {
            views
                .entry(traffic.tenant.clone())
                .or_default()
                .traffic
                .push(TrafficReading {
                    node: answer.node.clone(),
                    epoch: answer.ingress_epoch,
                    app: traffic.app.clone(),
                    requests: traffic.requests,
                    bytes: traffic.response_bytes,
                });
        }
    }
    let answered: BTreeSet<String> = answers.iter().map(|a| a.node.clone()).collect();
    for view in views.values_mut() {
        view.answered_nodes.clone_from(&answered);
    }
    views
}

fn text<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

/// An object's creation time, Unix milliseconds; 0 (the epoch, so it bounds nothing) when it
/// has none.
fn created(object: &Value) -> i64 {
    text(object, "/metadata/creationTimestamp")
        .and_then(|stamp| humantime::parse_rfc3339_weak(stamp).ok())
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use minicloud_proto::v1::{IngressTraffic, InstanceUsage};
    use serde_json::json;

    use super::*;

    fn instance(name: &str, phase: &str, container: &str) -> Value {
        json!({
            "metadata": {"name": name, "tenant": "acme", "creationTimestamp": "2026-12-03T10:00:00Z"},
            "spec": {"app": "web", "container": {"resources": {"cpu": "250m", "memory": "64Mi", "pids": 256}}},
            "status": {"phase": phase, "containerId": container},
        })
    }

    #[test]
    fn running_instances_carry_their_limits_and_creation() {
        let seen = views(
            &[
                instance("web-1", "Running", "c1"),
                instance("web-2", "Pending", "c2"),
            ],
            &[],
            &[],
        );
        let acme = &seen["acme"];
        assert_eq!(
            acme.running,
            vec![RunningInstance {
                app: "web".into(),
                created_millis: 1_796_292_000_000,
                cpu_millicores: 250,
                memory_bytes: 64 << 20,
            }]
        );
        assert_eq!(
            acme.named_containers,
            BTreeSet::from(["c1".into(), "c2".into()])
        );
    }

    #[test]
    fn a_volume_counts_its_size_for_the_app_mounting_it() {
        let volume = json!({
            "metadata": {"name": "data", "tenant": "acme", "creationTimestamp": "2026-12-03T10:00:00Z"},
            "spec": {"size": "1Gi"},
            "status": {"mountedBy": [{"app": "db", "instance": "db-1"}]},
        });
        let seen = views(&[], &[volume], &[]);
        assert_eq!(seen["acme"].volumes[0].app, "db");
        assert_eq!(seen["acme"].volumes[0].size_bytes, 1 << 30);
    }

    #[test]
    fn a_reading_knows_when_its_instance_was_created() {
        let sample = InstanceUsage {
            tenant: "acme".into(),
            app: "web".into(),
            container_id: "c1".into(),
            cpu_usage_nanos: 9,
            memory_bytes: 7,
            sampled_at_millis: 1_796_292_500_000,
            ..InstanceUsage::default()
        };
        let unread = InstanceUsage {
            sampled_at_millis: 0,
            ..sample.clone()
        };
        let answer = NodeMetrics {
            node: "n1".into(),
            instances: vec![sample, unread],
            ..NodeMetrics::default()
        };
        let seen = views(&[instance("web-1", "Running", "c1")], &[], &[answer]);
        assert_eq!(seen["acme"].readings.len(), 1);
        assert_eq!(
            seen["acme"].readings[0].since_millis,
            Some(1_796_292_000_000)
        );
    }

    #[test]
    fn ingress_totals_name_their_node_and_its_ingress_start() {
        let answer = NodeMetrics {
            node: "n1".into(),
            ingress_epoch: 77,
            ingress: vec![IngressTraffic {
                tenant: "acme".into(),
                app: "web".into(),
                requests: 5,
                response_bytes: 500,
            }],
            ..NodeMetrics::default()
        };
        let seen = views(&[], &[], &[answer]);
        assert_eq!(
            seen["acme"].traffic,
            vec![TrafficReading {
                node: "n1".into(),
                epoch: 77,
                app: "web".into(),
                requests: 5,
                bytes: 500,
            }]
        );
        assert_eq!(
            seen["acme"].answered_nodes,
            BTreeSet::from(["n1".to_owned()])
        );
    }
}
