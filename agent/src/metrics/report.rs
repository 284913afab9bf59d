//! A sampling round as the `Metrics` RPC answers it, and the ingress's traffic beside it.

use std::time::{SystemTime, UNIX_EPOCH};

use minicloud_proto::v1::{IngressTraffic, InstanceUsage, NodeMetrics};

use super::sampler::NodeSample;
use crate::ingress::AppTraffic;

/// One App's ingress traffic on the wire.
pub fn ingress_traffic(traffic: AppTraffic) -> IngressTraffic {
    IngressTraffic {
        tenant: traffic.tenant,
        app: traffic.app,
        requests: traffic.requests,
        response_bytes: traffic.response_bytes,
    }
}

/// `sample` of `node` on the wire; the limits and restarts are the API server's to add.
pub fn node_metrics(node: &str, sample: &NodeSample) -> NodeMetrics {
    let millis = |at: SystemTime| {
        at.duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    };
    let sampled_at_millis = sample.sampled_at.map_or(0, millis);
    NodeMetrics {
        node: node.to_owned(),
        sampled_at_millis,
        interval_millis: sample.interval.as_millis() as u64,
        took_millis: sample.took.as_millis() as u64,
        instances: sample
            .instances
            .iter()
            .map(|i| InstanceUsage {
                tenant: i.tenant.clone(),
                app: i.app.clone(),
                instance: i.instance.clone(),
                node: node.to_owned(),
                container_id: i.container_id.clone(),
                cpu_millicores: i.cpu_millicores,
                cpu_usage_nanos: i.stats.cpu_usage_nanos,
                memory_bytes: i.stats.memory_working_set_bytes,
                memory_limit_bytes: i.stats.memory_limit_bytes,
                network_rx_bytes: i.stats.network_rx_bytes,
                network_tx_bytes: i.stats.network_tx_bytes,
                block_read_bytes: i.stats.block_read_bytes,
                block_write_bytes: i.stats.block_write_bytes,
                pids: i.stats.pids,
                sampled_at_millis: millis(i.stats.read_at),
                ..InstanceUsage::default()
            })
            .collect(),
        ..NodeMetrics::default()
    }
}
