//! The times `mini usage` takes — a UTC date (`2026-12-01`, its midnight) or an RFC 3339 time
//! (`2026-12-03T17:00:00Z`) — and its defaults: from the start of this month (UTC) to the end of
//! the current hour, so the hour in progress is included. Whether a time falls on a whole hour
//! is the server's to check, as it keeps the records.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};

/// `text` as Unix seconds, or what it should look like.
pub fn parse_when(text: &str) -> Result<i64, String> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(Utc.from_utc_datetime(&midnight).timestamp());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.timestamp())
        .map_err(|_| {
            format!(
                "{text:?} is neither a date (2026-12-01, midnight UTC) nor an RFC 3339 time on a whole hour (2026-12-03T17:00:00Z)"
            )
        })
}

/// The first instant of `now`'s month, UTC.
pub fn start_of_month(now: DateTime<Utc>) -> i64 {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).expect("day 1 exists");
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .timestamp()
}

/// The end of `now`'s hour.
pub fn end_of_hour(now: DateTime<Utc>) -> i64 {
    now.timestamp() - i64::from(now.minute() * 60 + now.second()) + 3_600
}

/// Unix seconds as an RFC 3339 time, UTC.
pub fn stamp(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// Unix seconds as the UTC date they fall on.
pub fn day(seconds: i64) -> String {
    DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |at| at.format("%Y-%m-%d").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_is_its_midnight_utc() {
        assert_eq!(parse_when("2026-12-01"), Ok(1_796_083_200));
    }

    #[test]
    fn an_rfc3339_time_keeps_its_offset() {
        assert_eq!(parse_when("2026-12-01T01:00:00+01:00"), Ok(1_796_083_200));
        assert_eq!(parse_when("2026-12-01T00:00:00Z"), Ok(1_796_083_200));
    }

    #[test]
    fn anything_else_says_what_is_expected() {
        let refusal = parse_when("yesterday").unwrap_err();
        assert!(
            refusal.contains("\"yesterday\" is neither a date (2026-12-01"),
            "{refusal}"
        );
        assert!(parse_when("2026-13-01").is_err());
    }

    #[test]
    fn the_defaults_are_this_month_up_to_the_end_of_this_hour() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 17, 29, 5).unwrap();
        assert_eq!(stamp(start_of_month(now)), "2026-12-01T00:00:00Z");
        assert_eq!(stamp(end_of_hour(now)), "2026-12-03T18:00:00Z");
        assert_eq!(day(end_of_hour(now)), "2026-12-03");
    }
}
