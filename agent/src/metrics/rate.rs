//! Rates from two readings of cumulative counters.

use crate::runtime::ContainerStats;

/// The CPU used between `before` and `after`, in thousandths of a core; `None` when the
/// readings do not span time or the counter went back (the container restarted in between).
pub fn cpu_millicores(before: &ContainerStats, after: &ContainerStats) -> Option<u64> {
    let elapsed = after.read_at.duration_since(before.read_at).ok()?;
    let used = after.cpu_usage_nanos.checked_sub(before.cpu_usage_nanos)?;
    let elapsed = elapsed.as_nanos();
    (elapsed > 0).then(|| (u128::from(used) * 1000 / elapsed) as u64)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn reading(at_millis: u64, cpu_nanos: u64) -> ContainerStats {
        ContainerStats {
            read_at: SystemTime::UNIX_EPOCH + Duration::from_millis(at_millis),
            cpu_usage_nanos: cpu_nanos,
            memory_working_set_bytes: 0,
            memory_limit_bytes: 0,
            network_rx_bytes: 0,
            network_tx_bytes: 0,
            block_read_bytes: 0,
            block_write_bytes: 0,
            pids: 0,
        }
    }

    #[test]
    fn a_core_busy_for_the_whole_interval_is_a_thousand_millicores() {
        let (before, after) = (reading(1_000, 0), reading(11_000, 10_000_000_000));
        assert_eq!(cpu_millicores(&before, &after), Some(1000));
        let half = reading(11_000, 5_000_000_000);
        assert_eq!(cpu_millicores(&before, &half), Some(500));
    }

    #[test]
    fn readings_without_time_between_or_a_reset_counter_give_no_rate() {
        let before = reading(1_000, 9_000);
        assert_eq!(cpu_millicores(&before, &reading(1_000, 10_000)), None);
        assert_eq!(cpu_millicores(&before, &reading(500, 10_000)), None);
        assert_eq!(cpu_millicores(&before, &reading(2_000, 10)), None);
    }
}
