//! Hour records summed into a report's rows — one per App over the range, or one per UTC day
//! with every App together — in the units users read: core-seconds, GiB-seconds, GiB-hours,
//! instance-hours.

use std::collections::BTreeMap;

use minicloud_proto::v1::{RecordsGrouping, UsageRecord};

use super::record::{Bucket, HourRecord};

const GIB: f64 = (1u64 << 30) as f64;
const HOUR_SECONDS: i64 = 3_600;
const DAY_SECONDS: i64 = 86_400;

/// The rows of `hours` (each an hour since the epoch with its record) within the hours
/// `[from, to)`, grouped `by`. A day's peak is the largest, over its hours, of the Apps' peaks
/// added up.
pub fn group(
    hours: &[(i64, HourRecord)],
    by: RecordsGrouping,
    (from, to): (i64, i64),
) -> Vec<UsageRecord> {
    let (start, end) = (from * HOUR_SECONDS, to * HOUR_SECONDS);
    match by {
        RecordsGrouping::App => {
            let mut apps: BTreeMap<&str, Bucket> = BTreeMap::new();
            for (_, record) in hours {
                for (app, bucket) in &record.apps {
                    apps.entry(app).or_default().add(bucket);
                }
            }
            apps.into_iter()
                .map(|(app, bucket)| usage_record(app, &bucket, (start, end)))
                .collect()
        }
        RecordsGrouping::Day => {
            let mut days: BTreeMap<i64, Bucket> = BTreeMap::new();
            for (hour, record) in hours {
                let mut together = Bucket::default();
                for bucket in record.apps.values() {
                    let peak = together.memory_peak_bytes + bucket.memory_peak_bytes;
                    together.add(bucket);
                    together.memory_peak_bytes = peak;
                }
                days.entry(hour.div_euclid(24)).or_default().add(&together);
            }
            days.into_iter()
                .map(|(day, bucket)| {
                    let period = (
                        (day * DAY_SECONDS).max(start),
                        ((day + 1) * DAY_SECONDS).min(end),
                    );
                    usage_record("", &bucket, period)
                })
                .collect()
        }
    }
}

/// `bucket` of `app` over `[start, end)` (Unix seconds) in report units.
fn usage_record(app: &str, bucket: &Bucket, (start, end): (i64, i64)) -> UsageRecord {
    UsageRecord {
        app: app.to_owned(),
        period_start_unix_seconds: start,
        period_end_unix_seconds: end,
        cpu_used_core_seconds: bucket.cpu_used_nanos as f64 / 1e9,
        cpu_allocated_core_seconds: bucket.cpu_allocated_millicore_millis as f64 / 1e6,
        memory_allocated_gib_seconds: bucket.memory_allocated_byte_millis as f64 / GIB / 1e3,
        memory_peak_bytes: bucket.memory_peak_bytes,
        storage_gib_hours: bucket.storage_byte_millis as f64 / GIB / 3.6e6,
        instance_hours: bucket.instance_millis as f64 / 3.6e6,
        ingress_requests: bucket.ingress_requests,
        ingress_bytes: bucket.ingress_bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(apps: &[(&str, u128, u64)]) -> HourRecord {
        HourRecord {
            apps: apps
                .iter()
                .map(|&(app, instance_millis, memory_peak_bytes)| {
                    let bucket = Bucket {
                        instance_millis,
                        memory_peak_bytes,
                        cpu_used_nanos: 2_500_000_000,
                        cpu_allocated_millicore_millis: 500 * 3_600_000,
                        memory_allocated_byte_millis: (1 << 30) * 1_000,
                        storage_byte_millis: (1 << 30) * 3_600_000,
                        ingress_requests: 4,
                        ingress_bytes: 400,
                    };
                    (app.to_owned(), bucket)
                })
                .collect(),
        }
    }

    #[test]
    fn rows_by_app_sum_the_range_in_report_units() {
        let hours = [
            (24, record(&[("web", 3_600_000, 10), ("db", 1_800_000, 5)])),
            (25, record(&[("web", 3_600_000, 30)])),
        ];
        let rows = group(&hours, RecordsGrouping::App, (24, 48));
        assert_eq!(
            rows.iter().map(|r| r.app.as_str()).collect::<Vec<_>>(),
            ["db", "web"]
        );
        let web = &rows[1];
        assert_eq!(
            (web.period_start_unix_seconds, web.period_end_unix_seconds),
            (86_400, 172_800)
        );
        assert_eq!(web.instance_hours, 2.0);
        assert_eq!(web.cpu_used_core_seconds, 5.0);
        assert_eq!(web.cpu_allocated_core_seconds, 3_600.0);
        assert_eq!(web.memory_allocated_gib_seconds, 2.0);
        assert_eq!(web.storage_gib_hours, 2.0);
        assert_eq!(web.memory_peak_bytes, 30);
        assert_eq!((web.ingress_requests, web.ingress_bytes), (8, 800));
    }

    #[test]
    fn rows_by_day_put_every_app_together_within_the_range() {
        let hours = [
            (23, record(&[("web", 1, 10)])),
            (30, record(&[("web", 1, 10), ("db", 1, 5)])),
            (31, record(&[("web", 1, 12)])),
        ];
        let rows = group(&hours, RecordsGrouping::Day, (23, 36));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (
                rows[0].period_start_unix_seconds,
                rows[0].period_end_unix_seconds
            ),
            (82_800, 86_400)
        );
        assert_eq!(
            (
                rows[1].period_start_unix_seconds,
                rows[1].period_end_unix_seconds
            ),
            (86_400, 129_600)
        );
        assert_eq!(rows[1].app, "");
        assert_eq!(rows[1].memory_peak_bytes, 15);
        assert_eq!(rows[1].cpu_used_core_seconds, 7.5);
    }
}
