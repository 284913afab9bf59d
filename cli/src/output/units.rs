//! Quantities for people: bytes in binary units with one decimal (`23.5Gi`, `512Ki`, `0`) and
//! short durations (`35ms`, `1.2s`),
//! as tables show them. Machine output keeps the exact values.

/// `bytes` in the largest binary unit that keeps it at 1 or more, with one decimal when the
/// value is not whole in that unit.
pub fn bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    if bytes < 1024 {
        return bytes.to_string();
    }
    let mut value = bytes as f64;
    let mut unit = "";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    let rounded = (value * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}{unit}")
    } else {
        format!("{rounded:.1}{unit}")
    }
}

/// A duration in milliseconds: `35ms` below a second, `1.2s` above.
pub fn millis(millis: u64) -> String {
    if millis < 1000 {
        format!("{millis}ms")
    } else {
        format!("{:.1}s", millis as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_in_the_largest_whole_unit() {
        assert_eq!(bytes(0), "0");
        assert_eq!(bytes(1023), "1023");
        assert_eq!(bytes(1024), "1Ki");
        assert_eq!(bytes(1536), "1.5Ki");
        assert_eq!(bytes(1 << 30), "1Gi");
        assert_eq!(bytes(25_232_932_864), "23.5Gi");
        assert_eq!(bytes(24_683_568 * 1024), "23.5Gi");
    }

    #[test]
    fn durations_read_in_milliseconds_or_seconds() {
        assert_eq!(millis(35), "35ms");
        assert_eq!(millis(1250), "1.2s");
    }
}
