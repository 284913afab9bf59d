//! A Volume's snapshot schedule, pure functions of (schedule, last slot made, now): the newest
//! slot that came due since the last one made — only the newest, so slots missed while the
//! controllers were down make one snapshot, never a burst — and when the next one comes.
//! Schedules are cron expressions of 5 fields (or 6, seconds first) read in `timeZone` (an
//! IANA name; UTC when absent).

use chrono::{DateTime, Utc};
use minicloud_manifests::SnapshotSchedule;

/// What a schedule asks for at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The newest slot after the last one made, up to now, if one came.
    pub slot: Option<DateTime<Utc>>,
    /// The first slot after now.
    pub next: Option<DateTime<Utc>>,
}

/// The slots of `schedule` due at `now`, the last one made being `after`.
pub fn due(
    schedule: &SnapshotSchedule,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Due, String> {
    let cron = schedule
        .cron()
        .map_err(|e| format!("spec.snapshots.schedule: {e}"))?;
    let zone = schedule
        .zone()
        .map_err(|e| format!("spec.snapshots.timeZone: {e}"))?;
    let local_now = now.with_timezone(&zone);
    let newest = cron
        .find_previous_occurrence(&local_now, true)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    let next = cron
        .find_next_occurrence(&local_now, false)
        .ok()
        .map(|t| t.with_timezone(&Utc));
    Ok(Due {
        slot: newest.filter(|slot| *slot > after),
        next,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use minicloud_manifests::KeepPolicy;

    use super::*;

    fn schedule(cron: &str, zone: Option<&str>) -> SnapshotSchedule {
        SnapshotSchedule {
            schedule: cron.into(),
            time_zone: zone.map(str::to_owned),
            keep: KeepPolicy::default(),
        }
    }

    fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, d, h, m, s).unwrap()
    }

    #[test]
    fn nothing_is_due_before_the_first_slot_and_the_next_one_is_known() {
        let due = due(&schedule("0 3 * * *", None), at(5, 1, 0, 0), at(5, 2, 0, 0)).unwrap();
        assert_eq!(
            due,
            Due {
                slot: None,
                next: Some(at(5, 3, 0, 0))
            }
        );
    }

    #[test]
    fn a_slot_that_came_is_due_once() {
        let daily = schedule("0 3 * * *", None);
        let first = due(&daily, at(5, 1, 0, 0), at(5, 3, 0, 5)).unwrap();
        assert_eq!(first.slot, Some(at(5, 3, 0, 0)));
        assert_eq!(first.next, Some(at(6, 3, 0, 0)));
        let again = due(&daily, at(5, 3, 0, 0), at(5, 3, 0, 9)).unwrap();
        assert_eq!(again.slot, None);
    }

    #[test]
    fn of_many_missed_slots_only_the_newest_is_due() {
        let hourly = schedule("0 * * * *", None);
        let due = due(&hourly, at(5, 1, 0, 0), at(5, 7, 30, 0)).unwrap();
        assert_eq!(due.slot, Some(at(5, 7, 0, 0)));
        assert_eq!(due.next, Some(at(5, 8, 0, 0)));
    }

    #[test]
    fn six_fields_read_seconds_first() {
        let every_ten_seconds = schedule("*/10 * * * * *", None);
        let due = due(&every_ten_seconds, at(5, 1, 0, 0), at(5, 1, 0, 25)).unwrap();
        assert_eq!(
            (due.slot, due.next),
            (Some(at(5, 1, 0, 20)), Some(at(5, 1, 0, 30)))
        );
    }

    #[test]
    fn a_time_zone_moves_the_slots() {
        let berlin = schedule("0 3 * * *", Some("Europe/Berlin"));
        let due = due(&berlin, at(5, 0, 0, 0), at(5, 2, 30, 0)).unwrap();
        assert_eq!(
            due.slot,
            Some(at(5, 2, 0, 0)),
            "03:00 in Berlin is 02:00 UTC in March"
        );
    }

    #[test]
    fn a_bad_schedule_or_zone_says_what_to_write() {
        let bad = due(&schedule("daily", None), at(5, 0, 0, 0), at(5, 1, 0, 0)).unwrap_err();
        assert!(
            bad.starts_with("spec.snapshots.schedule: \"daily\" is not a valid cron schedule"),
            "{bad}"
        );
        let zone = due(
            &schedule("0 3 * * *", Some("Mars/Base")),
            at(5, 0, 0, 0),
            at(5, 1, 0, 0),
        );
        assert!(zone.unwrap_err().contains("is not an IANA time zone"));
    }
}
