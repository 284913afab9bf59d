//! The probe state machine of one container run, on plain values: consecutive successes and
//! failures decide readiness, and when the container must be restarted.
//!
//! A container becomes ready after `successThreshold` passing probes in a row and stays ready
//! until `failureThreshold` failing probes in a row; that failure also restarts it (liveness).
//! A container that never became ready is restarted at the first failing probe once
//! `initialDelay + failureThreshold × period` have passed since it started.

use std::time::Duration;

use minicloud_manifests::ResolvedHealthCheck;

/// Timing and thresholds of a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Time after the container starts before the first probe.
    pub initial_delay: Duration,
    /// Time between probes.
    pub period: Duration,
    /// Time a probe may take before it counts as failed.
    pub timeout: Duration,
    /// Failing probes in a row that make a ready container unready and restart it.
    pub failure_threshold: u32,
    /// Passing probes in a row that make a container ready.
    pub success_threshold: u32,
}

impl Policy {
    /// The policy of a resolved check; a field below its smallest valid value counts as that
    /// value.
    pub fn from_check(check: &ResolvedHealthCheck) -> Policy {
        let seconds = |value: u32, min: u32| Duration::from_secs(value.max(min).into());
        Policy {
            initial_delay: seconds(check.initial_delay_seconds, 0),
            period: seconds(check.period_seconds, 1),
            timeout: seconds(check.timeout_seconds, 1),
            failure_threshold: check.failure_threshold.max(1),
            success_threshold: check.success_threshold.max(1),
        }
    }

    /// How long after its start a container that was never ready may keep failing.
    pub fn startup_deadline(&self) -> Duration {
        self.initial_delay + self.period * self.failure_threshold
    }
}

/// What one probe result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Readiness stays as it was.
    Unchanged,
    /// The container just became ready.
    BecameReady,
    /// The container failed its check for good: it is not ready and must be restarted.
    Restart,
}

/// The probe history of one container run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeState {
    successes: u32,
    failures: u32,
    ready: bool,
    ever_ready: bool,
}

impl ProbeState {
    /// Whether the container is ready.
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Failing probes in a row, up to the latest.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// Records a probe that passed (`ok`) or failed, `since_start` after the container started.
    pub fn record(&mut self, policy: &Policy, ok: bool, since_start: Duration) -> Verdict {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            if !self.ready && self.successes >= policy.success_threshold {
                self.ready = true;
                self.ever_ready = true;
                return Verdict::BecameReady;
            }
            return Verdict::Unchanged;
        }
        self.failures = self.failures.saturating_add(1);
        self.successes = 0;
        let dead = match self.ever_ready {
            true => self.failures >= policy.failure_threshold,
            false => since_start >= policy.startup_deadline(),
        };
        if dead {
            self.ready = false;
            return Verdict::Restart;
        }
        Verdict::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(failure_threshold: u32, success_threshold: u32) -> Policy {
        Policy {
            initial_delay: Duration::from_secs(5),
            period: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            failure_threshold,
            success_threshold,
        }
    }

    fn at(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[test]
    fn one_pass_makes_a_container_ready_with_the_default_threshold() {
        let mut state = ProbeState::default();
        assert!(!state.ready());
        assert_eq!(
            state.record(&policy(3, 1), true, at(5)),
            Verdict::BecameReady
        );
        assert!(state.ready());
        assert_eq!(state.record(&policy(3, 1), true, at(7)), Verdict::Unchanged);
    }

    #[test]
    fn readiness_needs_success_threshold_passes_in_a_row() {
        let p = policy(3, 3);
        let mut state = ProbeState::default();
        assert_eq!(state.record(&p, true, at(5)), Verdict::Unchanged);
        assert_eq!(state.record(&p, true, at(7)), Verdict::Unchanged);
        assert_eq!(state.record(&p, false, at(9)), Verdict::Unchanged);
        assert_eq!(state.record(&p, true, at(11)), Verdict::Unchanged);
        assert_eq!(state.record(&p, true, at(13)), Verdict::Unchanged);
        assert_eq!(state.record(&p, true, at(15)), Verdict::BecameReady);
    }

    #[test]
    fn a_ready_container_stays_ready_until_failure_threshold_failures_in_a_row() {
        let p = policy(3, 1);
        let mut state = ProbeState::default();
        state.record(&p, true, at(5));
        assert_eq!(state.record(&p, false, at(7)), Verdict::Unchanged);
        assert_eq!(state.record(&p, false, at(9)), Verdict::Unchanged);
        assert!(state.ready());
        assert_eq!(state.consecutive_failures(), 2);
        assert_eq!(state.record(&p, true, at(11)), Verdict::Unchanged);
        assert_eq!(state.consecutive_failures(), 0);
        for t in [13, 15] {
            assert_eq!(state.record(&p, false, at(t)), Verdict::Unchanged);
        }
        assert_eq!(state.record(&p, false, at(17)), Verdict::Restart);
        assert!(!state.ready());
        assert_eq!(state.consecutive_failures(), 3);
    }

    #[test]
    fn a_container_never_ready_is_restarted_once_its_startup_deadline_passed() {
        let p = policy(3, 1);
        assert_eq!(p.startup_deadline(), at(11));
        let mut state = ProbeState::default();
        for t in [5, 7, 9] {
            assert_eq!(state.record(&p, false, at(t)), Verdict::Unchanged);
        }
        assert_eq!(state.record(&p, false, at(11)), Verdict::Restart);
    }

    #[test]
    fn passes_short_of_the_threshold_hold_off_the_startup_deadline() {
        let p = policy(1, 3);
        let mut state = ProbeState::default();
        assert_eq!(state.record(&p, true, at(30)), Verdict::Unchanged);
        assert_eq!(state.record(&p, true, at(32)), Verdict::Unchanged);
        assert_eq!(state.record(&p, false, at(34)), Verdict::Restart);
    }

    #[test]
    fn fields_below_their_smallest_values_count_as_those() {
        let check: ResolvedHealthCheck = serde_json::from_str(
            r#"{"http": {"path": "/", "port": 80}, "initialDelaySeconds": 0, "periodSeconds": 0,
                "timeoutSeconds": 0, "failureThreshold": 0, "successThreshold": 0}"#,
        )
        .unwrap();
        let p = Policy::from_check(&check);
        assert_eq!(
            (p.initial_delay, p.period, p.timeout),
            (at(0), at(1), at(1))
        );
        assert_eq!((p.failure_threshold, p.success_threshold), (1, 1));
    }
}
