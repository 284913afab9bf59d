//! Which scheduled snapshots a Volume's `keep` rules prune, a pure function in the style of
//! restic and borg: the newest `last`; the newest of each of the last `daily` days that have a
//! snapshot; the newest of each of the last `weekly` ISO weeks that have one. A snapshot kept by
//! any rule stays; with no rule at all, everything stays. Days and weeks are read in UTC.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use minicloud_manifests::KeepPolicy;

/// The names of `snapshots` (name, completion time) that `keep` does not keep.
pub fn prune(snapshots: &[(String, DateTime<Utc>)], keep: &KeepPolicy) -> Vec<String> {
    if keep.last.is_none() && keep.daily.is_none() && keep.weekly.is_none() {
        return Vec::new();
    }
    let mut newest_first: Vec<&(String, DateTime<Utc>)> = snapshots.iter().collect();
    newest_first.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let mut kept: BTreeSet<&str> = BTreeSet::new();
    let last = keep.last.unwrap_or(0) as usize;
    kept.extend(
        newest_first
            .iter()
            .take(last)
            .map(|(name, _)| name.as_str()),
    );
    kept.extend(newest_per(&newest_first, keep.daily, |t| t.date_naive()));
    kept.extend(newest_per(&newest_first, keep.weekly, |t| {
        let week = t.iso_week();
        NaiveDate::from_isoywd_opt(week.year(), week.week(), chrono::Weekday::Mon)
            .unwrap_or(t.date_naive())
    }));
    newest_first
        .iter()
        .filter(|(name, _)| !kept.contains(name.as_str()))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The newest snapshot of each of the newest `count` periods (as `period` names them).
fn newest_per<'a>(
    newest_first: &[&'a (String, DateTime<Utc>)],
    count: Option<u32>,
    period: impl Fn(&DateTime<Utc>) -> NaiveDate,
) -> Vec<&'a str> {
    let mut seen = BTreeSet::new();
    newest_first
        .iter()
        .filter(|(_, t)| seen.insert(period(t)))
        .take(count.unwrap_or(0) as usize)
        .map(|(name, _)| name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    /// Snapshots `s<n>` taken every `hours` hours back from 2024-03-31 (a Sunday) 23:00.
    fn every(hours: i64, count: usize) -> Vec<(String, DateTime<Utc>)> {
        let end = Utc.with_ymd_and_hms(2024, 3, 31, 23, 0, 0).unwrap();
        (0..count)
            .map(|n| (format!("s{n}"), end - Duration::hours(hours * n as i64)))
            .collect()
    }

    fn keep(last: Option<u32>, daily: Option<u32>, weekly: Option<u32>) -> KeepPolicy {
        KeepPolicy {
            last,
            daily,
            weekly,
        }
    }

    fn sorted(mut names: Vec<String>) -> Vec<String> {
        names.sort_by_key(|n| n[1..].parse::<u32>().unwrap());
        names
    }

    #[test]
    fn no_rule_keeps_everything() {
        assert!(prune(&every(1, 10), &KeepPolicy::default()).is_empty());
    }

    #[test]
    fn last_keeps_the_newest_and_prunes_the_oldest() {
        assert_eq!(
            sorted(prune(&every(1, 5), &keep(Some(2), None, None))),
            ["s2", "s3", "s4"]
        );
    }

    #[test]
    fn daily_keeps_the_newest_of_each_day() {
        // Every 6 hours over 3 days: 23:00, 17:00, 11:00, 05:00 each day.
        let snapshots = every(6, 12);
        let pruned = prune(&snapshots, &keep(None, Some(2), None));
        let kept: Vec<&str> = snapshots
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !pruned.iter().any(|p| p == n))
            .collect();
        assert_eq!(kept, ["s0", "s4"], "the 23:00 of the 31st and of the 30th");
    }

    #[test]
    fn weekly_keeps_the_newest_of_each_iso_week() {
        // Daily over three weeks ending on Sunday the 31st: weeks end on s0, s7, s14.
        let snapshots = every(24, 21);
        let pruned = prune(&snapshots, &keep(None, None, Some(3)));
        assert_eq!(pruned.len(), 18);
        for kept in ["s0", "s7", "s14"] {
            assert!(
                !pruned.contains(&kept.to_string()),
                "{kept} is the newest of its week"
            );
        }
    }

    #[test]
    fn a_snapshot_kept_by_any_rule_stays() {
        let snapshots = every(24, 10);
        let pruned = prune(&snapshots, &keep(Some(1), Some(3), Some(2)));
        // last 1: s0; daily 3: s0, s1, s2; weekly 2: s0 (week of the 31st), s7 (week before).
        assert_eq!(sorted(pruned), ["s3", "s4", "s5", "s6", "s8", "s9"]);
    }

    #[test]
    fn fewer_snapshots_than_rules_ask_for_are_all_kept() {
        assert!(prune(&every(1, 3), &keep(Some(5), Some(7), Some(4))).is_empty());
    }
}
