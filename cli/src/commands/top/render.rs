//! `mini top` as text: a title line saying how fresh the sample is, then the view's table; or
//! the same rows as JSON.

use std::time::{SystemTime, UNIX_EPOCH};

use minicloud_manifests::Tenant;
use minicloud_proto::v1::TopReport;
use serde_json::{Value, json};

use super::views::{self, SortBy, UsageRow, View, bytes, cpu, rows_of, share};
use crate::output::table;

/// `mini top apps · tenant acme · sampled 3s ago, every 10s`.
pub fn title(report: &TopReport, view: View, tenant: &str) -> String {
    let view = format!("{view:?}").to_lowercase();
    let scope = if tenant == "*" {
        "every tenant".to_owned()
    } else {
        format!("tenant {tenant}")
    };
    let newest = report
        .instances
        .iter()
        .map(|i| i.sampled_at_millis)
        .chain(report.nodes.iter().map(|n| n.sampled_at_millis))
        .max()
        .unwrap_or(0);
    let freshness = if newest == 0 {
        "no sample yet".to_owned()
    } else {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        format!("sampled {}s ago", (now - newest).max(0) / 1000)
    };
    let every = match report.interval_millis {
        0 => String::new(),
        millis => format!(", every {}s", millis / 1000),
    };
    format!("mini top {view} · {scope} · {freshness}{every}")
}

/// The view's table.
pub fn table(report: &TopReport, view: View, sort: SortBy, quotas: &[Tenant]) -> String {
    match view {
        View::Nodes => nodes(report, sort),
        View::Tenants => tenants(&rows_of(report, view, sort), quotas),
        View::Apps | View::Instances => usage(&rows_of(report, view, sort), view),
    }
}

fn usage(rows: &[UsageRow], view: View) -> String {
    let every_tenant = rows.iter().any(|r| r.tenant != rows[0].tenant);
    let mut header: Vec<&str> = Vec::new();
    if every_tenant {
        header.push("TENANT");
    }
    header.extend(match view {
        View::Instances => vec!["INSTANCE", "APP", "NODE"],
        _ => vec!["APP", "INSTANCES"],
    });
    header.extend([
        "CPU", "CPU%", "MEMORY", "MEM%", "NET-RX", "NET-TX", "PIDS", "RESTARTS",
    ]);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = Vec::new();
            if every_tenant {
                row.push(r.tenant.clone());
            }
            match view {
                View::Instances => row.extend([r.name.clone(), r.app.clone(), r.node.clone()]),
                _ => row.extend([r.name.clone(), r.instances.to_string()]),
            }
            row.extend([
                cpu(r.cpu_millicores),
                share(r.cpu_millicores, r.cpu_limit_millicores),
                bytes(r.memory_bytes),
                share(r.memory_bytes, r.memory_limit_bytes),
                bytes(r.network_rx_bytes),
                bytes(r.network_tx_bytes),
                r.pids.to_string(),
                r.restarts.to_string(),
            ]);
            row
        })
        .collect();
    let header: Vec<String> = header.into_iter().map(String::from).collect();
    table::render(&header, &cells)
}

fn tenants(rows: &[UsageRow], quotas: &[Tenant]) -> String {
    let header = [
        "TENANT",
        "INSTANCES",
        "CPU",
        "CPU-ALLOC",
        "CPU-QUOTA",
        "MEMORY",
        "MEM-ALLOC",
        "MEM-QUOTA",
    ]
    .map(String::from);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let tenant = quotas.iter().find(|t| t.metadata.name == r.tenant);
            let allocated = tenant.and_then(|t| t.status.as_ref()).map(|s| &s.usage);
            let quota = tenant.map(|t| &t.spec.quota);
            let or_unlimited = |value: Option<String>| value.unwrap_or_else(|| "unlimited".into());
            vec![
                r.tenant.clone(),
                r.instances.to_string(),
                cpu(r.cpu_millicores),
                allocated.map_or("-".into(), |u| u.cpu.to_string()),
                or_unlimited(quota.and_then(|q| q.cpu).map(|c| c.to_string())),
                bytes(r.memory_bytes),
                allocated.map_or("-".into(), |u| bytes(u.memory.get())),
                or_unlimited(quota.and_then(|q| q.memory).map(|m| bytes(m.get()))),
            ]
        })
        .collect();
    table::render(&header, &cells)
}

fn nodes(report: &TopReport, sort: SortBy) -> String {
    let header = [
        "NODE",
        "INSTANCES",
        "CPU",
        "CPU-ALLOC",
        "CPU-CAP",
        "MEMORY",
        "MEM-ALLOC",
        "MEM-CAP",
        "SAMPLE",
    ]
    .map(String::from);
    let cells: Vec<Vec<String>> = views::nodes(&report.nodes, sort)
        .iter()
        .map(|n| {
            vec![
                n.node.clone(),
                n.instances.to_string(),
                cpu(n.cpu_used_millicores),
                cpu(n.cpu_allocated_millicores),
                cpu(n.cpu_capacity_millicores),
                bytes(n.memory_used_bytes),
                bytes(n.memory_allocated_bytes),
                bytes(n.memory_capacity_bytes),
                if n.unavailable.is_empty() {
                    "ok".to_owned()
                } else {
                    format!("unavailable: {}", n.unavailable)
                },
            ]
        })
        .collect();
    table::render(&header, &cells)
}

/// The view's rows as one JSON document (compact when it is one of a stream).
pub fn json(report: &TopReport, view: View, sort: SortBy, quotas: &[Tenant], live: bool) -> String {
    let document: Value = match view {
        View::Nodes => {
            json!({"nodes": views::nodes(&report.nodes, sort).iter().map(node_json).collect::<Vec<_>>()})
        }
        _ => {
            let rows = rows_of(report, view, sort);
            let mut document = json!({ "rows": rows });
            if view == View::Tenants {
                document["tenants"] = serde_json::to_value(quotas).unwrap_or(Value::Null);
            }
            document
        }
    };
    let mut document = document;
    document["view"] = json!(format!("{view:?}").to_lowercase());
    document["intervalMillis"] = json!(report.interval_millis);
    if live {
        format!("{document}\n")
    } else {
        format!("{document:#}\n")
    }
}

fn node_json(n: &minicloud_proto::v1::NodeUsage) -> Value {
    json!({
        "node": n.node,
        "instances": n.instances,
        "cpuUsedMillicores": n.cpu_used_millicores,
        "cpuAllocatedMillicores": n.cpu_allocated_millicores,
        "cpuCapacityMillicores": n.cpu_capacity_millicores,
        "memoryUsedBytes": n.memory_used_bytes,
        "memoryAllocatedBytes": n.memory_allocated_bytes,
        "memoryCapacityBytes": n.memory_capacity_bytes,
        "unavailable": n.unavailable,
        "sampledAtMillis": n.sampled_at_millis,
    })
}

#[cfg(test)]
mod tests {
    use minicloud_proto::v1::InstanceUsage;

    use super::*;

    #[test]
    fn the_apps_table_shows_use_against_limits() {
        let report = TopReport {
            instances: vec![InstanceUsage {
                tenant: "acme".into(),
                app: "web".into(),
                instance: "web-1".into(),
                cpu_millicores: Some(250),
                cpu_limit_millicores: 500,
                memory_bytes: 64 << 20,
                memory_limit_bytes: 256 << 20,
                network_rx_bytes: 2048,
                pids: 3,
                ..InstanceUsage::default()
            }],
            ..TopReport::default()
        };
        assert_eq!(
            table(&report, View::Apps, SortBy::Cpu, &[]),
            "APP   INSTANCES   CPU    CPU%   MEMORY   MEM%   NET-RX   NET-TX   PIDS   RESTARTS\n\
             web   1           250m   50%    64Mi     25%    2Ki      0        3      0\n"
        );
    }
}
