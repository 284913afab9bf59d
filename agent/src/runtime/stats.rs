//! What the engine reports of a running container's resource use: cumulative counters and
//! gauges at one moment. Rates (CPU cores) come from two of these, in [`crate::metrics`].

use std::collections::BTreeMap;
use std::time::SystemTime;

/// A running managed container as a listing shows it, without an inspection: enough to sample
/// it and to say whose it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunningContainer {
    /// The full container id.
    pub id: String,
    /// All labels.
    pub labels: BTreeMap<String, String>,
}

/// A container's counters and gauges at `read_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerStats {
    /// When the engine read them.
    pub read_at: SystemTime,
    /// CPU time used since the container started, in nanoseconds.
    pub cpu_usage_nanos: u64,
    /// Memory in use without the page cache the kernel can drop at once (what `docker stats`
    /// shows as MEM USAGE).
    pub memory_working_set_bytes: u64,
    /// The memory limit.
    pub memory_limit_bytes: u64,
    /// Bytes received on every network, since start.
    pub network_rx_bytes: u64,
    /// Bytes sent on every network, since start.
    pub network_tx_bytes: u64,
    /// Bytes read from block devices, since start.
    pub block_read_bytes: u64,
    /// Bytes written to block devices, since start.
    pub block_write_bytes: u64,
    /// Processes (threads) running now.
    pub pids: u64,
}
