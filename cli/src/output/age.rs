//! Ages as kubectl shows them (`45s`, `5m30s`, `3h`, `12d`), from RFC 3339 timestamps.

use std::time::{Duration, SystemTime};

/// The age of an object created at `timestamp` (RFC 3339), or "<unknown>" when it cannot be
/// read.
pub fn since(timestamp: &str, now: SystemTime) -> String {
    match humantime::parse_rfc3339_weak(timestamp) {
        Ok(created) => humanize(now.duration_since(created).unwrap_or_default()),
        Err(_) => "<unknown>".to_owned(),
    }
}

/// A duration in the compact form kubectl uses: more precision while it is short.
pub fn humanize(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        with_remainder(minutes, "m", seconds % 60, "s")
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        with_remainder(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if days < 8 {
        with_remainder(days, "d", hours % 24, "h")
    } else if days < 365 * 2 {
        format!("{days}d")
    } else {
        format!("{}y", days / 365)
    }
}

fn with_remainder(major: u64, major_unit: &str, minor: u64, minor_unit: &str) -> String {
    match minor {
        0 => format!("{major}{major_unit}"),
        _ => format!("{major}{major_unit}{minor}{minor_unit}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(seconds: u64) -> String {
        humanize(Duration::from_secs(seconds))
    }

    #[test]
    fn short_ages_show_seconds() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(119), "119s");
    }

    #[test]
    fn longer_ages_lose_precision_gradually() {
        assert_eq!(age(5 * 60 + 30), "5m30s");
        assert_eq!(age(6 * 60), "6m");
        assert_eq!(age(45 * 60), "45m");
        assert_eq!(age(5 * 3600 + 15 * 60), "5h15m");
        assert_eq!(age(20 * 3600), "20h");
        assert_eq!(age(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(age(100 * 86_400), "100d");
        assert_eq!(age(1000 * 86_400), "2y");
    }

    #[test]
    fn ages_are_measured_from_rfc3339_timestamps() {
        let now = humantime::parse_rfc3339("2026-01-01T01:00:00Z").unwrap();
        assert_eq!(since("2026-01-01T00:00:00Z", now), "60m");
        assert_eq!(since("garbage", now), "<unknown>");
    }

    #[test]
    fn a_timestamp_in_the_future_is_zero_seconds_old() {
        let now = humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(since("2026-01-01T00:00:09Z", now), "0s");
    }
}
