//! Time cut into whole UTC hours, the unit usage records are kept in: an interval split exactly
//! at hour boundaries, and an amount spread over an interval in proportion to the time in each
//! hour, with nothing lost to rounding.

/// Milliseconds in an hour.
pub const HOUR_MILLIS: i64 = 3_600_000;

/// The hour (counted from the Unix epoch) that `millis` falls in.
pub fn hour_of(millis: i64) -> i64 {
    millis.div_euclid(HOUR_MILLIS)
}

/// `[from, to)` cut at hour boundaries: each hour it touches with the milliseconds of the
/// interval in it, in order. Empty when `to <= from`.
pub fn split(from: i64, to: i64) -> Vec<(i64, i64)> {
    let mut pieces = Vec::new();
    let mut start = from;
    while start < to {
        let hour = hour_of(start);
        let end = to.min((hour + 1) * HOUR_MILLIS);
        pieces.push((hour, end - start));
        start = end;
    }
    pieces
}

/// `amount` spread over `[from, to)` in proportion to the time in each hour; the shares add up
/// to `amount` exactly (the remainder of the division goes to the last hour). An empty interval
/// puts it all in the hour of `to`.
pub fn spread(amount: u128, from: i64, to: i64) -> Vec<(i64, u128)> {
    let pieces = split(from, to);
    let total: i64 = pieces.iter().map(|(_, millis)| millis).sum();
    if pieces.is_empty() || total == 0 {
        return vec![(hour_of(to), amount)];
    }
    let total = total as u128;
    let mut left = amount;
    let mut shares: Vec<(i64, u128)> = pieces
        .iter()
        .map(|&(hour, millis)| {
            let share = amount * millis as u128 / total;
            left -= share;
            (hour, share)
        })
        .collect();
    if let Some(last) = shares.last_mut() {
        last.1 += left;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = HOUR_MILLIS;

    #[test]
    fn an_interval_inside_one_hour_is_one_piece() {
        assert_eq!(split(10 * H + 5, 10 * H + 905), vec![(10, 900)]);
    }

    #[test]
    fn an_interval_is_cut_exactly_at_hour_boundaries() {
        assert_eq!(
            split(10 * H - 1_000, 12 * H + 2_000),
            vec![(9, 1_000), (10, H), (11, H), (12, 2_000)]
        );
    }

    #[test]
    fn an_interval_ending_on_a_boundary_leaves_the_next_hour_untouched() {
        assert_eq!(split(10 * H - 1_000, 11 * H), vec![(9, 1_000), (10, H)]);
    }

    #[test]
    fn an_empty_or_backwards_interval_has_no_pieces() {
        assert!(split(5, 5).is_empty());
        assert!(split(6, 5).is_empty());
    }

    #[test]
    fn a_spread_follows_the_time_in_each_hour_and_loses_nothing() {
        assert_eq!(
            spread(1_000, 10 * H - 250, 10 * H + 750),
            vec![(9, 250), (10, 750)]
        );
        let shares = spread(10, 10 * H - 1, 10 * H + 2);
        assert_eq!(shares, vec![(9, 3), (10, 7)]);
        assert_eq!(shares.iter().map(|(_, s)| s).sum::<u128>(), 10);
    }

    #[test]
    fn a_spread_over_no_time_lands_in_the_hour_of_its_end() {
        assert_eq!(spread(42, 10 * H + 7, 10 * H + 7), vec![(10, 42)]);
    }

    #[test]
    fn hours_before_the_epoch_round_down() {
        assert_eq!(hour_of(-1), -1);
    }
}
