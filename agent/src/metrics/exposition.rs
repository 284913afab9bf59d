//! The latest sampling round as Prometheus series, built at scrape time by a collector: an
//! instance that is gone leaves no stale series behind. Labels are the node, tenant, App and
//! Instance names — bounded, and nothing secret.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;

use super::sampler::{InstanceSample, Sampler};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    node: String,
    tenant: String,
    app: String,
    instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
}

/// The per-instance resource series of one node's sampler.
#[derive(Debug)]
pub struct SampleCollector {
    sampler: Sampler,
    node: String,
}

impl SampleCollector {
    /// The series of `sampler`'s rounds on `node`.
    pub fn new(sampler: Sampler, node: String) -> SampleCollector {
        SampleCollector { sampler, node }
    }
}

/// What one per-instance series reads from a sample, and how it is typed.
type Series = (
    &'static str,
    &'static str,
    MetricType,
    fn(&InstanceSample) -> Option<f64>,
);

const SERIES: &[Series] = &[
    (
        "instance_cpu_millicores",
        "CPU used over the last sampling interval, in thousandths of a core.",
        MetricType::Gauge,
        |i| i.cpu_millicores.map(|m| m as f64),
    ),
    (
        "instance_cpu_seconds",
        "CPU time used since the container started.",
        MetricType::Counter,
        |i| Some(i.stats.cpu_usage_nanos as f64 / 1e9),
    ),
    (
        "instance_memory_working_set_bytes",
        "Memory in use without the page cache the kernel can drop.",
        MetricType::Gauge,
        |i| Some(i.stats.memory_working_set_bytes as f64),
    ),
    (
        "instance_memory_limit_bytes",
        "The container's memory limit.",
        MetricType::Gauge,
        |i| Some(i.stats.memory_limit_bytes as f64),
    ),
    (
        "instance_network_receive_bytes",
        "Bytes received since the container started.",
        MetricType::Counter,
        |i| Some(i.stats.network_rx_bytes as f64),
    ),
    (
        "instance_network_transmit_bytes",
        "Bytes sent since the container started.",
        MetricType::Counter,
        |i| Some(i.stats.network_tx_bytes as f64),
    ),
    (
        "instance_block_read_bytes",
        "Bytes read from block devices since the container started.",
        MetricType::Counter,
        |i| Some(i.stats.block_read_bytes as f64),
    ),
    (
        "instance_block_write_bytes",
        "Bytes written to block devices since the container started.",
        MetricType::Counter,
        |i| Some(i.stats.block_write_bytes as f64),
    ),
    (
        "instance_pids",
        "Processes and threads running in the container.",
        MetricType::Gauge,
        |i| Some(i.stats.pids as f64),
    ),
];

impl Collector for SampleCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let round = self.sampler.latest();
        for (name, help, kind, read) in SERIES {
            let mut family = encoder.encode_descriptor(name, help, None, *kind)?;
            for sample in &round.instances {
                let Some(value) = read(sample) else { continue };
                let labels = InstanceLabels {
                    node: self.node.clone(),
                    tenant: sample.tenant.clone(),
                    app: sample.app.clone(),
                    instance: sample.instance.clone(),
                };
                let mut metric = family.encode_family(&labels)?;
                match kind {
                    MetricType::Counter => {
                        metric.encode_counter::<NodeLabels, f64, f64>(&value, None)?
                    }
                    _ => metric.encode_gauge(&value)?,
                }
            }
        }
        let node = NodeLabels {
            node: self.node.clone(),
        };
        let mut took = encoder.encode_descriptor(
            "agent_sample_duration_seconds",
            "How long the last sampling round over the node's containers took.",
            None,
            MetricType::Gauge,
        )?;
        took.encode_family(&node)?
            .encode_gauge(&round.took.as_secs_f64())?;
        let mut sampled = encoder.encode_descriptor(
            "agent_sampled_instances",
            "Instances read in the last sampling round.",
            None,
            MetricType::Gauge,
        )?;
        sampled
            .encode_family(&node)?
            .encode_gauge(&(round.instances.len() as u64))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use minicloud_common::metrics::Metrics;

    use super::*;
    use crate::labels;
    use crate::runtime::fake::FakeRuntime;
    use crate::runtime::{ContainerInfo, ContainerStats};

    #[tokio::test]
    async fn every_sampled_instance_has_its_series_with_tenant_and_app_labels() {
        let fake = FakeRuntime::new();
        fake.insert_container(ContainerInfo {
            id: "c1".into(),
            state: "running".into(),
            labels: BTreeMap::from([
                (labels::MANAGED.to_owned(), "true".to_owned()),
                (labels::NODE.to_owned(), "n1".to_owned()),
                (labels::TENANT.to_owned(), "acme".to_owned()),
                (labels::APP.to_owned(), "web".to_owned()),
                (labels::INSTANCE.to_owned(), "web-1".to_owned()),
            ]),
            ..ContainerInfo::default()
        });
        fake.set_stats(
            "c1",
            ContainerStats {
                read_at: SystemTime::now(),
                cpu_usage_nanos: 2_500_000_000,
                memory_working_set_bytes: 64 << 20,
                memory_limit_bytes: 256 << 20,
                network_rx_bytes: 10,
                network_tx_bytes: 20,
                block_read_bytes: 30,
                block_write_bytes: 40,
                pids: 3,
            },
        );
        let mut sampler = Sampler::spawn(Arc::new(fake), "n1".into(), Duration::from_secs(60));
        sampler.next().await;
        let metrics = Metrics::default();
        let collector = SampleCollector::new(sampler, "n1".into());
        metrics.register(|registry| registry.register_collector(Box::new(collector)));
        let text = metrics.encode();
        let labels = r#"{node="n1",tenant="acme",app="web",instance="web-1"}"#;
        for line in [
            format!("minicloud_instance_cpu_seconds_total{labels} 2.5"),
            format!("minicloud_instance_memory_working_set_bytes{labels} 67108864.0"),
            format!("minicloud_instance_network_receive_bytes_total{labels} 10.0"),
            format!("minicloud_instance_pids{labels} 3.0"),
            r#"minicloud_agent_sampled_instances{node="n1"} 1"#.to_owned(),
        ] {
            assert!(text.contains(&line), "{line} missing from:\n{text}");
        }
        assert!(
            !text.contains("minicloud_instance_cpu_millicores{"),
            "no rate before a second reading:\n{text}"
        );
    }
}
