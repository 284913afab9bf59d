//! When a container's probes keep failing: a run of failed probes in a row — counted across the
//! agent's restarts of the container, since a restart that does not help is what an operator
//! must hear about — raises an alert when it reaches the threshold, and the next passing probe
//! clears it. Pure: it takes outcomes and times and says what changed, so an episode is raised
//! once however long it lasts.

use minicloud_proto::v1::HealthAlert;

/// Failed probes in a row that raise an alert unless the agent is told otherwise.
pub const DEFAULT_ALERT_AFTER: u32 = 5;

/// What one probe changed about the alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing: no alert began or ended.
    None,
    /// The run of failures reached the threshold.
    Raised,
    /// A probe passed while the alert stood.
    Cleared,
}

/// A container's current run of failed probes and its alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streak {
    failures: u32,
    since: String,
    alert: Option<HealthAlert>,
}

impl Streak {
    /// Records a probe that finished at `at` (RFC 3339) with `ok` and `message`, alerting
    /// after `threshold` failures in a row (at least one).
    pub fn record(&mut self, ok: bool, message: &str, at: &str, threshold: u32) -> Change {
        if ok {
            let cleared = self.alert.take().is_some();
            *self = Streak::default();
            return if cleared {
                Change::Cleared
            } else {
                Change::None
            };
        }
        if self.failures == 0 {
            self.since = at.to_owned();
        }
        self.failures = self.failures.saturating_add(1);
        let threshold = threshold.max(1);
        if self.alert.is_some() || self.failures < threshold {
            return Change::None;
        }
        self.alert = Some(HealthAlert {
            since: self.since.clone(),
            failures: threshold,
            message: message.to_owned(),
        });
        Change::Raised
    }

    /// The alert standing now, if any.
    pub fn alert(&self) -> Option<&HealthAlert> {
        self.alert.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_is_raised_once_when_failures_in_a_row_reach_the_threshold() {
        let mut streak = Streak::default();
        let changes: Vec<Change> = (1..=5)
            .map(|t| streak.record(false, "HTTP 500", &format!("t{t}"), 3))
            .collect();
        assert_eq!(
            changes,
            [
                Change::None,
                Change::None,
                Change::Raised,
                Change::None,
                Change::None
            ]
        );
        let alert = streak.alert().unwrap();
        assert_eq!(
            (alert.since.as_str(), alert.failures, alert.message.as_str()),
            ("t1", 3, "HTTP 500")
        );
    }

    #[test]
    fn a_passing_probe_clears_the_alert_and_starts_counting_again() {
        let mut streak = Streak::default();
        for t in 0..3 {
            streak.record(false, "HTTP 500", &format!("t{t}"), 3);
        }
        assert_eq!(streak.record(true, "HTTP 200", "t4", 3), Change::Cleared);
        assert_eq!(streak.alert(), None);
        assert_eq!(streak.record(true, "HTTP 200", "t5", 3), Change::None);
        assert_eq!(streak.record(false, "HTTP 500", "t6", 3), Change::None);
        assert_eq!(streak.record(false, "HTTP 500", "t7", 3), Change::None);
        assert_eq!(streak.record(false, "HTTP 500", "t8", 3), Change::Raised);
        assert_eq!(streak.alert().unwrap().since, "t6");
    }

    #[test]
    fn failures_short_of_the_threshold_then_a_pass_raise_nothing() {
        let mut streak = Streak::default();
        streak.record(false, "HTTP 500", "t1", 3);
        streak.record(false, "HTTP 500", "t2", 3);
        assert_eq!(streak.record(true, "HTTP 200", "t3", 3), Change::None);
        assert_eq!(streak.alert(), None);
    }

    #[test]
    fn a_threshold_of_zero_counts_as_one() {
        let mut streak = Streak::default();
        assert_eq!(streak.record(false, "refused", "t1", 0), Change::Raised);
    }
}
