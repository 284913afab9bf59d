//! Wall-clock timestamps as objects carry them (RFC 3339, UTC, whole seconds).

use std::time::{Duration, SystemTime};

/// `t` as RFC 3339.
pub fn format(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Parses an RFC 3339 timestamp; `None` when it is not one.
pub fn parse(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text).ok()
}

/// How long ago `text` was at `now` (zero for future times); `None` when unparsable.
pub fn age(text: &str, now: SystemTime) -> Option<Duration> {
    parse(text).map(|t| now.duration_since(t).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_to_the_second() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(format(t), "2023-11-14T22:13:20Z");
        assert_eq!(parse(&format(t)), Some(t));
    }

    #[test]
    fn age_is_measured_from_now_and_never_negative() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(130);
        assert_eq!(age(&format(t), now), Some(Duration::from_secs(30)));
        assert_eq!(age(&format(now), t), Some(Duration::ZERO));
        assert_eq!(age("yesterday", now), None);
    }
}
