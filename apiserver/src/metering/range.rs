//! The range a report asks for, checked: whole hours (the unit records are kept in), the end
//! after the start, and at most [`MAX_RANGE_HOURS`] at once.

use std::time::{Duration, UNIX_EPOCH};

use crate::api::ApiError;

/// The longest range one report covers: 400 days, a year's invoices with room to spare.
pub const MAX_RANGE_HOURS: i64 = 400 * 24;

const HOUR_SECONDS: i64 = 3_600;

/// The hours `[from, to)` (since the Unix epoch) that `[from_seconds, to_seconds)` names.
pub fn requested_hours(from_seconds: i64, to_seconds: i64) -> Result<(i64, i64), ApiError> {
    for (flag, seconds) in [("--from", from_seconds), ("--to", to_seconds)] {
        if seconds < 0 {
            return Err(ApiError::BadRequest(format!(
                "{flag} is before 1970; usage records start with minicloud's metering"
            )));
        }
        if seconds % HOUR_SECONDS != 0 {
            let (down, up) = (
                seconds - seconds % HOUR_SECONDS,
                seconds - seconds % HOUR_SECONDS + HOUR_SECONDS,
            );
            return Err(ApiError::BadRequest(format!(
                "{flag} {} is not on a whole hour; usage is recorded per hour: use {} or {}",
                stamp(seconds),
                stamp(down),
                stamp(up)
            )));
        }
    }
    if to_seconds <= from_seconds {
        return Err(ApiError::BadRequest(format!(
            "--to {} is not after --from {}; give a range that ends after it starts",
            stamp(to_seconds),
            stamp(from_seconds)
        )));
    }
    let (from, to) = (from_seconds / HOUR_SECONDS, to_seconds / HOUR_SECONDS);
    if to - from > MAX_RANGE_HOURS {
        return Err(ApiError::BadRequest(format!(
            "the range from {} to {} is longer than {} days; ask for at most that much at once",
            stamp(from_seconds),
            stamp(to_seconds),
            MAX_RANGE_HOURS / 24
        )));
    }
    Ok((from, to))
}

fn stamp(seconds: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs());
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn refusal(from: i64, to: i64) -> String {
        requested_hours(from, to).unwrap_err().to_string()
    }

    #[test]
    fn whole_hours_name_their_hours() {
        assert_eq!(requested_hours(7_200, 18_000).ok(), Some((2, 5)));
    }

    #[test]
    fn a_time_off_the_hour_is_refused_with_the_hours_around_it() {
        assert_eq!(
            refusal(1_800, 7_200),
            "--from 1970-01-01T00:30:00Z is not on a whole hour; usage is recorded per hour: use 1970-01-01T00:00:00Z or 1970-01-01T01:00:00Z"
        );
    }

    #[test]
    fn an_end_before_the_start_is_refused() {
        assert!(refusal(7_200, 3_600).contains("--to 1970-01-01T01:00:00Z is not after --from"));
        assert!(refusal(3_600, 3_600).contains("is not after"));
    }

    #[test]
    fn a_range_longer_than_the_limit_is_refused() {
        assert!(refusal(0, 401 * DAY).contains("longer than 400 days"));
        assert!(requested_hours(0, 400 * DAY).is_ok());
    }

    #[test]
    fn a_time_before_1970_is_refused() {
        assert!(refusal(-3_600, 3_600).contains("before 1970"));
    }
}
