//! The Instance's `Healthy` condition, a pure decision from what its agent observed: `False`
//! with reason `RepeatedHealthFailures` while the agent reports that the container's probes
//! keep failing (an alert), back to `True` with reason `HealthRecovered` once a probe passes
//! again. Absent until the first episode, so a healthy instance has no such event; the
//! condition moves once per episode, which `mini events` and the alert webhook read.

use minicloud_manifests::{Condition, ConditionStatus};
use minicloud_proto::v1::ObservedContainer;

use crate::condition::{self, Decided};

/// The condition's type.
pub const HEALTHY: &str = "Healthy";
/// Reason of an episode of failed probes.
pub const REPEATED_FAILURES: &str = "RepeatedHealthFailures";
/// Reason of the end of one.
pub const RECOVERED: &str = "HealthRecovered";

/// The `Healthy` condition to set given the current `conditions` and the container observed
/// (`None`: there is none); `None` when it stays as it is.
pub fn healthy(conditions: &[Condition], container: Option<&ObservedContainer>) -> Option<Decided> {
    let container = container?;
    if let Some(alert) = &container.health_alert {
        let message = format!(
            "{} health probes failed in a row since {}: {}",
            alert.failures, alert.since, alert.message
        );
        return Some(Decided::no(HEALTHY, REPEATED_FAILURES, message));
    }
    let failing =
        condition::find(conditions, HEALTHY).is_some_and(|c| c.status == ConditionStatus::False);
    let probe = container.last_probe.as_ref().filter(|p| p.ok)?;
    (failing && container.state == "running").then(|| {
        let message = format!("the health probe passes again: {}", probe.message);
        Decided::yes(HEALTHY, RECOVERED, message)
    })
}

#[cfg(test)]
mod tests {
    use minicloud_proto::v1::{HealthAlert, ProbeResult};

    use super::*;

    fn container(ok: bool, alert: bool) -> ObservedContainer {
        ObservedContainer {
            state: "running".into(),
            last_probe: Some(ProbeResult {
                ok,
                message: if ok { "HTTP 200" } else { "HTTP 500" }.into(),
                ..ProbeResult::default()
            }),
            health_alert: alert.then(|| HealthAlert {
                since: "2026-01-01T00:00:00Z".into(),
                failures: 5,
                message: "HTTP 500".into(),
            }),
            ..ObservedContainer::default()
        }
    }

    fn condition(status: ConditionStatus) -> Vec<Condition> {
        vec![Condition {
            type_: HEALTHY.into(),
            status,
            reason: REPEATED_FAILURES.into(),
            message: String::new(),
            last_transition_time: None,
        }]
    }

    #[test]
    fn an_alert_makes_the_instance_unhealthy_with_the_run_of_failures() {
        let decided = healthy(&[], Some(&container(false, true))).unwrap();
        assert_eq!(decided.status, ConditionStatus::False);
        assert_eq!(decided.reason, REPEATED_FAILURES);
        assert_eq!(
            decided.message,
            "5 health probes failed in a row since 2026-01-01T00:00:00Z: HTTP 500"
        );
    }

    #[test]
    fn a_passing_probe_after_an_episode_recovers_it() {
        let unhealthy = condition(ConditionStatus::False);
        let decided = healthy(&unhealthy, Some(&container(true, false))).unwrap();
        assert_eq!(
            (decided.status, decided.reason),
            (ConditionStatus::True, RECOVERED)
        );
    }

    #[test]
    fn without_an_episode_nothing_is_set() {
        assert_eq!(healthy(&[], Some(&container(true, false))), None);
        assert_eq!(healthy(&[], Some(&container(false, false))), None);
        let unhealthy = condition(ConditionStatus::False);
        assert_eq!(
            healthy(&unhealthy, Some(&container(false, false))),
            None,
            "failing below the threshold after an agent restart keeps the episode"
        );
        assert_eq!(healthy(&unhealthy, None), None);
    }
}
