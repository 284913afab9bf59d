//! Pure joins of agent samples with the objects they measure: an instance's sample with its
//! limits and restarts, a node's samples with its capacity and the limits placed on it.

use std::collections::HashMap;

use minicloud_manifests::ResolvedResources;
use minicloud_proto::v1::{InstanceUsage, NodeUsage};
use serde_json::Value;

/// The limits and restarts of an Instance object, and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFacts {
    /// Its container, when one runs.
    pub container_id: Option<String>,
    /// Its node, once scheduled.
    pub node: Option<String>,
    /// CPU limit, millicores.
    pub cpu_limit_millicores: u64,
    /// Memory limit, bytes.
    pub memory_limit_bytes: u64,
    /// How often its container restarted.
    pub restarts: u32,
}

impl InstanceFacts {
    /// What an Instance object says of itself.
    pub fn of(instance: &Value) -> InstanceFacts {
        let text = |pointer: &str| {
            instance
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let resources = instance
            .pointer("/spec/container/resources")
            .cloned()
            .and_then(|v| serde_json::from_value::<ResolvedResources>(v).ok());
        InstanceFacts {
            container_id: text("/status/containerId"),
            node: text("/spec/node"),
            cpu_limit_millicores: resources.map_or(0, |r| r.cpu.millis()),
            memory_limit_bytes: resources.map_or(0, |r| r.memory.get()),
            restarts: instance
                .pointer("/status/restarts")
                .and_then(Value::as_u64)
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }
}

/// `sample` completed with what its Instance object says.
pub fn with_facts(mut sample: InstanceUsage, facts: &InstanceFacts) -> InstanceUsage {
    sample.cpu_limit_millicores = facts.cpu_limit_millicores;
    if facts.memory_limit_bytes > 0 {
        sample.memory_limit_bytes = facts.memory_limit_bytes;
    }
    sample.restarts = facts.restarts;
    sample
}

/// A node's row: its capacity (from the Node object), what the instances placed on it may use
/// (`placed`), and what the sampled ones use.
pub fn node_usage(node: &Value, placed: &[&InstanceFacts], sampled: &[InstanceUsage]) -> NodeUsage {
    let capacity = |field: &str| node.pointer(&format!("/status/capacity/{field}")).cloned();
    let cpu = capacity("cpu")
        .and_then(|v| serde_json::from_value::<minicloud_manifests::Cpu>(v).ok())
        .map_or(0, |c| c.millis());
    let memory = capacity("memory")
        .and_then(|v| serde_json::from_value::<minicloud_manifests::Bytes>(v).ok())
        .map_or(0, |b| b.get());
    NodeUsage {
        node: node
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        cpu_capacity_millicores: cpu,
        memory_capacity_bytes: memory,
        cpu_allocated_millicores: placed.iter().map(|f| f.cpu_limit_millicores).sum(),
        memory_allocated_bytes: placed.iter().map(|f| f.memory_limit_bytes).sum(),
        cpu_used_millicores: sampled.iter().filter_map(|s| s.cpu_millicores).sum(),
        memory_used_bytes: sampled.iter().map(|s| s.memory_bytes).sum(),
        instances: u32::try_from(sampled.len()).unwrap_or(u32::MAX),
        ..NodeUsage::default()
    }
}

/// Samples by container id, for joining.
pub fn by_container(samples: Vec<InstanceUsage>) -> HashMap<String, InstanceUsage> {
    samples
        .into_iter()
        .map(|s| (s.container_id.clone(), s))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn instance(container: &str, node: &str, cpu: &str, memory: &str) -> Value {
        json!({
            "metadata": {"name": "web-1"},
            "spec": {"node": node, "container": {"resources": {"cpu": cpu, "memory": memory, "pids": 256}}},
            "status": {"containerId": container, "restarts": 2},
        })
    }

    #[test]
    fn an_instance_sample_gets_its_limits_and_restarts() {
        let facts = InstanceFacts::of(&instance("c1", "n1", "500m", "256Mi"));
        assert_eq!(facts.container_id.as_deref(), Some("c1"));
        assert_eq!(facts.cpu_limit_millicores, 500);
        assert_eq!(facts.memory_limit_bytes, 256 << 20);
        let sample = InstanceUsage {
            container_id: "c1".into(),
            memory_limit_bytes: 8 << 30,
            cpu_millicores: Some(120),
            ..InstanceUsage::default()
        };
        let joined = with_facts(sample, &facts);
        assert_eq!(joined.restarts, 2);
        assert_eq!(joined.memory_limit_bytes, 256 << 20);
        assert_eq!(joined.cpu_limit_millicores, 500);
    }

    #[test]
    fn a_node_row_adds_up_limits_placed_and_use_sampled() {
        let node = json!({
            "metadata": {"name": "n1"},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "containers": 100}},
        });
        let (a, b) = (
            InstanceFacts::of(&instance("a", "n1", "500m", "256Mi")),
            InstanceFacts::of(&instance("b", "n1", "1", "1Gi")),
        );
        let sampled = vec![
            InstanceUsage {
                cpu_millicores: Some(300),
                memory_bytes: 100,
                ..InstanceUsage::default()
            },
            InstanceUsage {
                cpu_millicores: None,
                memory_bytes: 50,
                ..InstanceUsage::default()
            },
        ];
        let row = node_usage(&node, &[&a, &b], &sampled);
        assert_eq!(row.node, "n1");
        assert_eq!(
            (row.cpu_capacity_millicores, row.memory_capacity_bytes),
            (2000, 4 << 30)
        );
        assert_eq!(row.cpu_allocated_millicores, 1500);
        assert_eq!(row.memory_allocated_bytes, (256 << 20) + (1 << 30));
        assert_eq!((row.cpu_used_millicores, row.memory_used_bytes), (300, 150));
        assert_eq!(row.instances, 2);
    }
}
