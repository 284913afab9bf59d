//! Turning the engine's stats response into [`ContainerStats`], the way `docker stats` reads
//! it: memory without the inactive page cache (cgroup v1 `total_inactive_file`, v2
//! `inactive_file`), network summed over interfaces, block I/O summed over devices.

use std::time::SystemTime;

use bollard::models::{ContainerBlkioStatEntry, ContainerStatsResponse};

use super::stats::ContainerStats;

/// The stats in `response`; counters the engine left out count as zero.
pub fn container_stats(response: &ContainerStatsResponse) -> ContainerStats {
    let read_at = response
        .read
        .as_deref()
        .and_then(|read| humantime::parse_rfc3339_weak(read).ok())
        .unwrap_or_else(SystemTime::now);
    let cpu_usage_nanos = response
        .cpu_stats
        .as_ref()
        .and_then(|cpu| cpu.cpu_usage.as_ref())
        .and_then(|usage| usage.total_usage)
        .unwrap_or(0);
    let memory = response.memory_stats.as_ref();
    let usage = memory.and_then(|m| m.usage).unwrap_or(0);
    let inactive = memory
        .and_then(|m| m.stats.as_ref())
        .and_then(|stats| {
            stats
                .get("total_inactive_file")
                .or_else(|| stats.get("inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    let (network_rx_bytes, network_tx_bytes) = response
        .networks
        .iter()
        .flat_map(|networks| networks.values())
        .fold((0, 0), |(rx, tx), n| {
            (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
        });
    let entries = response
        .blkio_stats
        .as_ref()
        .and_then(|blkio| blkio.io_service_bytes_recursive.as_deref())
        .unwrap_or_default();
    ContainerStats {
        read_at,
        cpu_usage_nanos,
        memory_working_set_bytes: if inactive < usage {
            usage - inactive
        } else {
            usage
        },
        memory_limit_bytes: memory.and_then(|m| m.limit).unwrap_or(0),
        network_rx_bytes,
        network_tx_bytes,
        block_read_bytes: block_bytes(entries, "read"),
        block_write_bytes: block_bytes(entries, "write"),
        pids: response
            .pids_stats
            .as_ref()
            .and_then(|pids| pids.current)
            .unwrap_or(0),
    }
}

/// The bytes of operation `op` (`read`, `write`; any case) over every device.
fn block_bytes(entries: &[ContainerBlkioStatEntry], op: &str) -> u64 {
    entries
        .iter()
        .filter(|e| e.op.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(op)))
        .filter_map(|e| e.value)
        .sum()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{
        ContainerBlkioStats, ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats,
        ContainerNetworkStats,
    };

    use super::*;

    #[test]
    fn memory_leaves_out_the_inactive_page_cache_and_counters_are_summed() {
        let entry = |op: &str, value| ContainerBlkioStatEntry {
            op: Some(op.into()),
            value: Some(value),
            ..Default::default()
        };
        let network = |rx, tx| ContainerNetworkStats {
            rx_bytes: Some(rx),
            tx_bytes: Some(tx),
            ..Default::default()
        };
        let response = ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(5_000),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(100 << 20),
                limit: Some(256 << 20),
                stats: Some(HashMap::from([("total_inactive_file".into(), 30 << 20)])),
                ..Default::default()
            }),
            networks: Some(HashMap::from([
                ("eth0".into(), network(10, 20)),
                ("eth1".into(), network(1, 2)),
            ])),
            blkio_stats: Some(ContainerBlkioStats {
                io_service_bytes_recursive: Some(vec![
                    entry("Read", 4096),
                    entry("Write", 100),
                    entry("read", 4),
                    entry("Total", 9999),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let stats = container_stats(&response);
        assert_eq!(stats.cpu_usage_nanos, 5_000);
        assert_eq!(stats.memory_working_set_bytes, 70 << 20);
        assert_eq!(stats.memory_limit_bytes, 256 << 20);
        assert_eq!((stats.network_rx_bytes, stats.network_tx_bytes), (11, 22));
        assert_eq!(
            (stats.block_read_bytes, stats.block_write_bytes),
            (4100, 100)
        );
    }
}
