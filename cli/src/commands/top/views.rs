//! The four views of `mini top` as rows, from one usage report: pure, so each sum and sort is
//! tested without a server.

use std::collections::BTreeMap;

use minicloud_manifests::Cpu;
use minicloud_proto::v1::{InstanceUsage, NodeUsage, TopReport};
use serde::Serialize;

use crate::output::units;

/// What `mini top` shows a row for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// One row per App.
    #[default]
    Apps,
    /// One row per instance.
    Instances,
    /// One row per tenant, with its quota.
    Tenants,
    /// One row per node (admins).
    Nodes,
}

/// What to sort rows by (largest first; names ascending).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum SortBy {
    /// CPU used.
    #[default]
    Cpu,
    /// Memory used.
    Memory,
    /// Name.
    Name,
}

/// One row of the apps, instances or tenants view: the measured use of a group of instances
/// against the sum of their limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    /// The tenant.
    pub tenant: String,
    /// The group's name: an App, an Instance, or the tenant again.
    pub name: String,
    /// The App (instances view), the node (instances view) or empty.
    pub app: String,
    /// Where the instance runs (instances view only).
    pub node: String,
    /// How many instances were measured.
    pub instances: u32,
    /// CPU used, millicores.
    pub cpu_millicores: u64,
    /// The sum of their CPU limits.
    pub cpu_limit_millicores: u64,
    /// Memory used, bytes.
    pub memory_bytes: u64,
    /// The sum of their memory limits.
    pub memory_limit_bytes: u64,
    /// Bytes received and sent since start.
    pub network_rx_bytes: u64,
    /// Bytes sent since start.
    pub network_tx_bytes: u64,
    /// Processes now.
    pub pids: u64,
    /// Restarts.
    pub restarts: u32,
}

impl UsageRow {
    fn add(&mut self, sample: &InstanceUsage) {
        self.instances += 1;
        self.cpu_millicores += sample.cpu_millicores.unwrap_or(0);
        self.cpu_limit_millicores += sample.cpu_limit_millicores;
        self.memory_bytes += sample.memory_bytes;
        self.memory_limit_bytes += sample.memory_limit_bytes;
        self.network_rx_bytes += sample.network_rx_bytes;
        self.network_tx_bytes += sample.network_tx_bytes;
        self.pids += sample.pids;
        self.restarts += sample.restarts;
    }
}

/// One row per instance.
pub fn instances(samples: &[InstanceUsage], sort: SortBy) -> Vec<UsageRow> {
    let mut rows: Vec<UsageRow> = samples
        .iter()
        .map(|s| {
            let mut row = UsageRow {
                tenant: s.tenant.clone(),
                name: s.instance.clone(),
                app: s.app.clone(),
                node: s.node.clone(),
                ..UsageRow::default()
            };
            row.add(s);
            row
        })
        .collect();
    sort_rows(&mut rows, sort);
    rows
}

/// One row per App, its instances summed.
pub fn apps(samples: &[InstanceUsage], sort: SortBy) -> Vec<UsageRow> {
    grouped(samples, sort, |s| (s.tenant.clone(), s.app.clone()))
}

/// One row per tenant, its instances summed.
pub fn tenants(samples: &[InstanceUsage], sort: SortBy) -> Vec<UsageRow> {
    grouped(samples, sort, |s| (s.tenant.clone(), s.tenant.clone()))
}

fn grouped(
    samples: &[InstanceUsage],
    sort: SortBy,
    key: impl Fn(&InstanceUsage) -> (String, String),
) -> Vec<UsageRow> {
    let mut groups: BTreeMap<(String, String), UsageRow> = BTreeMap::new();
    for sample in samples {
        let (tenant, name) = key(sample);
        groups
            .entry((tenant.clone(), name.clone()))
            .or_insert_with(|| UsageRow {
                tenant,
                name,
                ..UsageRow::default()
            })
            .add(sample);
    }
    let mut rows: Vec<UsageRow> = groups.into_values().collect();
    sort_rows(&mut rows, sort);
    rows
}

fn sort_rows(rows: &mut [UsageRow], sort: SortBy) {
    match sort {
        SortBy::Cpu => rows.sort_by_key(|r| std::cmp::Reverse(r.cpu_millicores)),
        SortBy::Memory => rows.sort_by_key(|r| std::cmp::Reverse(r.memory_bytes)),
        SortBy::Name => rows.sort_by(|a, b| (&a.tenant, &a.name).cmp(&(&b.tenant, &b.name))),
    }
}

/// Nodes sorted as asked.
pub fn nodes(nodes: &[NodeUsage], sort: SortBy) -> Vec<NodeUsage> {
    let mut rows = nodes.to_vec();
    match sort {
        SortBy::Cpu => rows.sort_by_key(|r| std::cmp::Reverse(r.cpu_used_millicores)),
        SortBy::Memory => rows.sort_by_key(|r| std::cmp::Reverse(r.memory_used_bytes)),
        SortBy::Name => rows.sort_by(|a, b| a.node.cmp(&b.node)),
    }
    rows
}

/// CPU for people: `250m`, `1.5` cores shown as `1500m`, as limits are written.
pub fn cpu(millicores: u64) -> String {
    Cpu::from_millis(millicores).to_string()
}

/// `used` as a share of `limit`: `42%`, or `-` without a limit.
pub fn share(used: u64, limit: u64) -> String {
    if limit == 0 {
        "-".to_owned()
    } else {
        format!("{}%", (u128::from(used) * 100 / u128::from(limit)))
    }
}

/// Bytes for people, as every table shows them.
pub fn bytes(bytes: u64) -> String {
    units::bytes(bytes)
}

/// The rows of `view` (nodes have rows of their own: [`nodes`]).
pub fn rows_of(report: &TopReport, view: View, sort: SortBy) -> Vec<UsageRow> {
    match view {
        View::Apps => apps(&report.instances, sort),
        View::Instances => instances(&report.instances, sort),
        View::Tenants | View::Nodes => tenants(&report.instances, sort),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        tenant: &str,
        app: &str,
        instance: &str,
        cpu: Option<u64>,
        memory: u64,
    ) -> InstanceUsage {
        InstanceUsage {
            tenant: tenant.into(),
            app: app.into(),
            instance: instance.into(),
            cpu_millicores: cpu,
            cpu_limit_millicores: 500,
            memory_bytes: memory,
            memory_limit_bytes: 256 << 20,
            restarts: 1,
            ..InstanceUsage::default()
        }
    }

    #[test]
    fn apps_and_tenants_sum_their_instances_and_sort_by_what_is_asked() {
        let samples = vec![
            sample("acme", "web", "web-1", Some(100), 10),
            sample("acme", "web", "web-2", Some(300), 10),
            sample("acme", "db", "db-1", Some(50), 500),
            sample("zeta", "web", "web-1", None, 1),
        ];
        let by_cpu = apps(&samples, SortBy::Cpu);
        assert_eq!(by_cpu[0].name, "web");
        assert_eq!((by_cpu[0].instances, by_cpu[0].cpu_millicores), (2, 400));
        assert_eq!(by_cpu[0].cpu_limit_millicores, 1000);
        assert_eq!(by_cpu[0].restarts, 2);
        assert_eq!(
            by_cpu.len(),
            3,
            "the same app name in two tenants is two rows"
        );
        assert_eq!(apps(&samples, SortBy::Memory)[0].name, "db");
        let tenants = tenants(&samples, SortBy::Name);
        assert_eq!(tenants.len(), 2);
        assert_eq!(
            (tenants[0].name.as_str(), tenants[0].instances),
            ("acme", 3)
        );
        assert_eq!(
            tenants[1].cpu_millicores, 0,
            "an instance read once counts no CPU yet"
        );
    }

    #[test]
    fn shares_and_cpu_read_like_limits() {
        assert_eq!(share(128, 256), "50%");
        assert_eq!(share(5, 0), "-");
        assert_eq!(cpu(1000), "1");
        assert_eq!(cpu(250), "250m");
    }
}
