//! What metering keeps in the store, outside `/minicloud/` (no watch or tenant cascade sees it,
//! and a deleted tenant's records stay for its last invoice): per tenant, one state record —
//! how far its use is integrated and the last CPU counter read of each container — and one
//! record per hour holding a [`Bucket`] per App. Amounts are exact integers in small units
//! (core-nanoseconds, millicore-milliseconds, byte-milliseconds), so records add up without
//! rounding.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::KeyRange;

/// The prefix of every metering record.
pub const PREFIX: &str = "/minicloud-metering/";

/// The key of `tenant`'s state record.
pub fn state_key(tenant: &str) -> String {
    format!("{PREFIX}{tenant}/state")
}

/// The key of `tenant`'s record of `hour` (hours since the Unix epoch; zero-padded, so keys
/// sort in time order).
pub fn hour_key(tenant: &str, hour: i64) -> String {
    format!("{PREFIX}{tenant}/hours/{hour:010}")
}

/// The keys of `tenant`'s records of the hours from `from` on, and its state record after them
/// (`hours/` sorts before `state`): one read of the range sees hours and state at one revision,
/// so a report's totals and its watermark agree.
pub fn hours_and_state(tenant: &str, from: i64) -> KeyRange {
    KeyRange {
        start: hour_key(tenant, from),
        end: format!("{}\0", state_key(tenant)),
        limit: 0,
        reverse: false,
    }
}

/// The hour a key made by [`hour_key`] names.
pub fn hour_in_key(key: &str) -> Option<i64> {
    key.rsplit('/').next()?.parse().ok()
}

/// One App's use in one hour (or, summed, over any set of hours).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Bucket {
    /// CPU time used, core-nanoseconds.
    pub cpu_used_nanos: u128,
    /// CPU limits × running time, millicore-milliseconds.
    pub cpu_allocated_millicore_millis: u128,
    /// Memory limits × running time, byte-milliseconds.
    pub memory_allocated_byte_millis: u128,
    /// The largest working set of the App's instances together in one sample, bytes.
    pub memory_peak_bytes: u64,
    /// Volume sizes × existing time, byte-milliseconds.
    pub storage_byte_millis: u128,
    /// Running time of instances, milliseconds.
    pub instance_millis: u128,
    /// Requests the ingress sent to the App.
    pub ingress_requests: u64,
    /// Bytes of the response bodies the ingress sent back for it.
    pub ingress_bytes: u64,
}

impl Bucket {
    /// `other` added in: sums, and the larger peak.
    pub fn add(&mut self, other: &Bucket) {
        self.cpu_used_nanos += other.cpu_used_nanos;
        self.cpu_allocated_millicore_millis += other.cpu_allocated_millicore_millis;
        self.memory_allocated_byte_millis += other.memory_allocated_byte_millis;
        self.memory_peak_bytes = self.memory_peak_bytes.max(other.memory_peak_bytes);
        self.storage_byte_millis += other.storage_byte_millis;
        self.instance_millis += other.instance_millis;
        self.ingress_requests += other.ingress_requests;
        self.ingress_bytes += other.ingress_bytes;
    }
}

/// A tenant's use in one hour, by App (`""`: volumes no App mounts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HourRecord {
    /// Each App's bucket.
    pub apps: BTreeMap<String, Bucket>,
}

/// The last CPU counter read of one container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuCursor {
    /// The App it runs for.
    pub app: String,
    /// CPU time used since the container started, nanoseconds.
    pub cpu_nanos: u64,
    /// When that was read, Unix milliseconds.
    pub at_millis: i64,
}

/// The last read of one node's ingress totals for one App.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficCursor {
    /// The ingress start the totals belong to.
    pub epoch: u64,
    /// Requests since that start.
    pub requests: u64,
    /// Response body bytes since that start.
    pub bytes: u64,
    /// When they were read, Unix milliseconds.
    pub at_millis: i64,
}

/// How far a tenant's use is integrated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MeterState {
    /// Allocations (limits, sizes, running time) are counted up to here, Unix milliseconds.
    pub integrated_to_millis: i64,
    /// CPU use is counted up to each container's last read, by container id.
    pub containers: BTreeMap<String, CpuCursor>,
    /// Ingress traffic is counted up to the last read of each node's totals, by `<node>/<app>`.
    pub ingress: BTreeMap<String, TrafficCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hour_keys_sort_in_time_order_and_name_their_hour() {
        assert!(hour_key("acme", 99) < hour_key("acme", 100));
        assert_eq!(hour_in_key(&hour_key("acme", 493_000)), Some(493_000));
    }

    #[test]
    fn a_range_from_an_hour_holds_the_later_hours_and_the_state_of_its_tenant_only() {
        let range = hours_and_state("acme", 10);
        let within = |key: &str| range.start.as_str() <= key && key < range.end.as_str();
        assert!(within(&hour_key("acme", 10)) && within(&hour_key("acme", 99_999)));
        assert!(within(&state_key("acme")));
        assert!(!within(&hour_key("acme", 9)));
        assert!(!within(&hour_key("acme2", 11)) && !within(&state_key("acme2")));
    }

    #[test]
    fn amounts_beyond_64_bits_survive_the_json_round_trip() {
        let record = HourRecord {
            apps: BTreeMap::from([(
                "web".to_owned(),
                Bucket {
                    storage_byte_millis: u128::from(u64::MAX) * 1_000,
                    ..Bucket::default()
                },
            )]),
        };
        let text = serde_json::to_vec(&record).unwrap();
        assert_eq!(serde_json::from_slice::<HourRecord>(&text).unwrap(), record);
    }

    #[test]
    fn adding_buckets_sums_amounts_and_keeps_the_larger_peak() {
        let mut total = Bucket {
            cpu_used_nanos: 5,
            memory_peak_bytes: 100,
            ..Bucket::default()
        };
        total.add(&Bucket {
            cpu_used_nanos: 7,
            memory_peak_bytes: 80,
            instance_millis: 3,
            ..Bucket::default()
        });
        assert_eq!(
            (
                total.cpu_used_nanos,
                total.memory_peak_bytes,
                total.instance_millis
            ),
            (12, 100, 3)
        );
    }
}
