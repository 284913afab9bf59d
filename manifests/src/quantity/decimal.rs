//! Exact scaling of decimal strings (`1.25` × 1000) without floating point.

/// Why a decimal could not be scaled exactly.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ScaleError {
    /// Not of the form `digits[.digits]`.
    Malformed,
    /// The fractional part does not divide evenly into the unit.
    NotExact,
    /// The result does not fit in a `u64`.
    Overflow,
}

/// Parses `digits[.digits]` and multiplies it by `scale`, requiring an exact integer result.
pub(super) fn scale_decimal(number: &str, scale: u64) -> Result<u64, ScaleError> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !all_digits(whole) || (number.contains('.') && frac.is_empty()) {
        return Err(ScaleError::Malformed);
    }
    if !all_digits(frac) {
        return Err(ScaleError::Malformed);
    }
    let whole_value = parse_u64(whole)?;
    let scaled_whole = whole_value.checked_mul(scale).ok_or(ScaleError::Overflow)?;
    let scaled_frac = scale_fraction(frac.trim_end_matches('0'), scale)?;
    scaled_whole
        .checked_add(scaled_frac)
        .ok_or(ScaleError::Overflow)
}

/// `0.frac × scale`, which must be a whole number.
fn scale_fraction(frac: &str, scale: u64) -> Result<u64, ScaleError> {
    if frac.is_empty() {
        return Ok(0);
    }
    // A u64 scale has at most 20 digits, so a longer significant fraction can never be exact.
    if frac.len() > 20 {
        return Err(ScaleError::NotExact);
    }
    let numerator = frac.parse::<u128>().map_err(|_| ScaleError::Malformed)? * u128::from(scale);
    let denominator = 10u128.pow(frac.len() as u32);
    if !numerator.is_multiple_of(denominator) {
        return Err(ScaleError::NotExact);
    }
    u64::try_from(numerator / denominator).map_err(|_| ScaleError::Overflow)
}

fn all_digits(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_u64(digits: &str) -> Result<u64, ScaleError> {
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    significant.parse::<u64>().map_err(|_| ScaleError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_scale_exactly() {
        assert_eq!(scale_decimal("2", 1000), Ok(2000));
    }

    #[test]
    fn fractions_scale_exactly() {
        assert_eq!(scale_decimal("1.25", 1000), Ok(1250));
        assert_eq!(scale_decimal("0.500000000000000000000000", 1000), Ok(500));
    }

    #[test]
    fn inexact_fractions_are_refused() {
        assert_eq!(scale_decimal("0.0005", 1000), Err(ScaleError::NotExact));
    }

    #[test]
    fn malformed_decimals_are_refused() {
        for bad in ["", ".5", "5.", "1.2.3", "1e3", "+1", " 1"] {
            assert_eq!(scale_decimal(bad, 1), Err(ScaleError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn huge_values_overflow() {
        assert_eq!(
            scale_decimal("18446744073709551616", 1),
            Err(ScaleError::Overflow)
        );
        assert_eq!(
            scale_decimal("18446744073709551615", 2),
            Err(ScaleError::Overflow)
        );
    }
}
