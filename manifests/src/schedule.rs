//! How a Volume's snapshot schedule reads: its cron expression (5 fields, or 6 with seconds
//! first) and the IANA time zone it is read in. Validation and whatever fires the schedule use
//! these same two readings, so a schedule admitted is a schedule that runs.

use chrono_tz::{TZ_VARIANTS, Tz};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use thiserror::Error;

use crate::kinds::SnapshotSchedule;

/// Why a snapshot schedule cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// The cron expression does not parse.
    #[error(
        "{schedule:?} is not a valid cron schedule ({cause}); write 5 fields, minute hour \
         day-of-month month day-of-week (\"0 3 * * *\": every day at 03:00), or 6 with seconds \
         first (\"*/30 * * * * *\": every 30 seconds)"
    )]
    Cron {
        /// The expression as written.
        schedule: String,
        /// What the cron parser found wrong.
        cause: String,
    },
    /// The time zone is not in the IANA database.
    #[error("{zone:?} is not an IANA time zone; {advice}")]
    TimeZone {
        /// The zone as written.
        zone: String,
        /// What to write instead.
        advice: String,
    },
}

impl SnapshotSchedule {
    /// The schedule's cron expression, parsed.
    pub fn cron(&self) -> Result<Cron, ScheduleError> {
        CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(&self.schedule)
            .map_err(|error| ScheduleError::Cron {
                schedule: self.schedule.clone(),
                cause: error.to_string(),
            })
    }

    /// The time zone the schedule is read in: the one named, or UTC.
    pub fn zone(&self) -> Result<Tz, ScheduleError> {
        let Some(zone) = &self.time_zone else {
            return Ok(Tz::UTC);
        };
        zone.parse().map_err(|_| ScheduleError::TimeZone {
            zone: zone.clone(),
            advice: match TZ_VARIANTS
                .iter()
                .find(|known| known.name().eq_ignore_ascii_case(zone))
            {
                Some(known) => format!("zone names are case-sensitive: write {:?}", known.name()),
                None => "write one like \"Europe/Berlin\", \"America/New_York\" or \"UTC\"".into(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::KeepPolicy;

    fn schedule(cron: &str, zone: Option<&str>) -> SnapshotSchedule {
        SnapshotSchedule {
            schedule: cron.into(),
            time_zone: zone.map(str::to_owned),
            keep: KeepPolicy::default(),
        }
    }

    #[test]
    fn five_fields_and_six_with_seconds_first_parse() {
        for cron in [
            "0 3 * * *",
            "*/15 * * * MON-FRI",
            "*/5 * * * * *",
            "0 0 3 * * *",
        ] {
            assert!(schedule(cron, None).cron().is_ok(), "{cron}");
        }
    }

    #[test]
    fn nonsense_schedules_say_what_a_schedule_looks_like() {
        for cron in ["61 * * * *", "daily", "", "* * * *", "0 0 0 1 1 * 2030"] {
            let error = schedule(cron, None).cron().unwrap_err().to_string();
            assert!(error.contains("write 5 fields"), "{cron}: {error}");
        }
    }

    #[test]
    fn a_schedule_reads_in_utc_unless_it_names_a_zone() {
        assert_eq!(schedule("0 3 * * *", None).zone(), Ok(Tz::UTC));
        let berlin = schedule("0 3 * * *", Some("Europe/Berlin"));
        assert_eq!(berlin.zone(), Ok(Tz::Europe__Berlin));
    }

    #[test]
    fn an_unknown_zone_is_refused_with_a_hint() {
        let error = schedule("0 3 * * *", Some("europe/berlin"))
            .zone()
            .unwrap_err()
            .to_string();
        assert!(error.contains("write \"Europe/Berlin\""), "{error}");
        let error = schedule("0 3 * * *", Some("Mars/Olympus"))
            .zone()
            .unwrap_err()
            .to_string();
        assert!(error.contains("like \"Europe/Berlin\""), "{error}");
    }
}
