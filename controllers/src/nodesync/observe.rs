//! An Instance's status from what its node's agent observed, a pure function: phase, container
//! id, address, readiness (as the agent's health probes report it), restarts and last exit
//! code. The `Ready` condition says why: `ContainerRunning` (no health check),
//! `HealthCheckPassed`, `HealthCheckPending`, `HealthCheckFailed` (with the probe's message) or
//! `ContainerNotRunning`; `Healthy` follows the agent's health alerts ([`super::healthy`]).
//! Conditions other controllers set (`Scheduled`) are kept.

use minicloud_manifests::{Instance, InstancePhase, InstanceStatus};
use minicloud_proto::v1::ObservedContainer;

use super::healthy::healthy;
use crate::condition::{self, Decided};

/// The status of `instance` given its containers on its node, the error of a failed start (if
/// the last plan's start failed), stamping transitions with `now`.
pub fn instance_status(
    instance: &Instance,
    containers: &[&ObservedContainer],
    start_error: Option<&str>,
    now: &str,
) -> InstanceStatus {
    let mut status = instance.status.clone().unwrap_or_default();
    status.observed_generation = instance.metadata.generation;
    let best = containers
        .iter()
        .max_by_key(|c| (c.state == "running", c.started_at.clone()));
    let ready = match best {
        Some(container) => {
            from_container(&mut status, container);
            readiness(&mut status, container)
        }
        None => {
            status.container_id = None;
            status.ip = None;
            status.ready = false;
            let node = instance.spec.node.as_deref().unwrap_or_default();
            (status.phase, status.message) = match start_error {
                Some(error) => (InstancePhase::Failed, format!("cannot start: {error}")),
                None => (InstancePhase::Pending, format!("starting on node {node}")),
            };
            Decided::no("Ready", "ContainerNotRunning", status.message.clone())
        }
    };
    condition::set(&mut status.conditions, ready, now);
    if let Some(decided) = healthy(&status.conditions, best.copied()) {
        condition::set(&mut status.conditions, decided, now);
    }
    status
}

fn from_container(status: &mut InstanceStatus, container: &ObservedContainer) {
    // An agent that restarts counts its own restarts of a container from zero again; the
    // count of one container never goes back.
    let same_container = status.container_id.as_deref() == Some(container.id.as_str());
    status.restarts = match same_container {
        true => status.restarts.max(container.restart_count),
        false => container.restart_count,
    };
    status.container_id = Some(container.id.clone());
    status.ip = Some(container.ip.clone()).filter(|ip| !ip.is_empty());
    status.last_exit_code = container.last_exit_code.or(status.last_exit_code);
    let exit = status.last_exit_code.unwrap_or_default();
    (status.phase, status.message) = match container.state.as_str() {
        "running" => (InstancePhase::Running, String::new()),
        "restarting" => (
            InstancePhase::Running,
            format!("restarting after exit code {exit}"),
        ),
        "exited" | "dead" if exit == 0 => (InstancePhase::Succeeded, "exited with code 0".into()),
        "exited" | "dead" => (InstancePhase::Failed, format!("exited with code {exit}")),
        "created" => (
            InstancePhase::Pending,
            "container created, not started yet".into(),
        ),
        other => (InstancePhase::Pending, format!("container is {other}")),
    };
}

/// Sets `ready` (and the message of a running container that is not) from the agent's report,
/// and says why as the `Ready` condition.
fn readiness(status: &mut InstanceStatus, container: &ObservedContainer) -> Decided {
    let running = container.state == "running";
    status.ready = running && container.ready;
    if !running {
        return Decided::no("Ready", "ContainerNotRunning", status.message.clone());
    }
    let probe = container.last_probe.as_ref();
    let decided = match (status.ready, probe) {
        (true, None) => Decided::yes("Ready", "ContainerRunning", ""),
        (true, Some(probe)) => Decided::yes("Ready", "HealthCheckPassed", probe.message.clone()),
        (false, Some(probe)) if !probe.ok => Decided::no(
            "Ready",
            "HealthCheckFailed",
            format!("health check failed: {}", probe.message),
        ),
        (false, _) => Decided::no(
            "Ready",
            "HealthCheckPending",
            "waiting for the health check to pass",
        ),
    };
    if !status.ready {
        status.message = decided.message.clone();
    }
    decided
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use minicloud_manifests::ConditionStatus;
    use minicloud_proto::v1::ProbeResult;

    fn instance() -> Instance {
        let container = fixtures::container("hello:1");
        let mut instance = fixtures::instance("web-abc", "web", "web-1", Some("node-a"), container);
        instance.metadata.generation = Some(2);
        instance
    }

    /// A container as an agent reports one without a health check: ready when running.
    fn container(state: &str, restarts: u32, exit: Option<i32>) -> ObservedContainer {
        ObservedContainer {
            id: "c1".into(),
            state: state.into(),
            restart_count: restarts,
            last_exit_code: exit,
            ip: "10.1.0.5".into(),
            ready: state == "running",
            ..ObservedContainer::default()
        }
    }

    /// A running container with a health check whose latest probe was `probe`.
    fn probed(ready: bool, probe: Option<(bool, &str)>) -> ObservedContainer {
        ObservedContainer {
            ready,
            last_probe: probe.map(|(ok, message)| ProbeResult {
                time: "2024-01-01T00:00:00Z".into(),
                ok,
                message: message.into(),
                ..ProbeResult::default()
            }),
            ..container("running", 0, None)
        }
    }

    fn ready_condition(status: &InstanceStatus) -> (ConditionStatus, &str, &str, &str) {
        let c = condition::find(&status.conditions, "Ready").expect("a Ready condition");
        let time = c.last_transition_time.as_deref().unwrap_or_default();
        (c.status, c.reason.as_str(), c.message.as_str(), time)
    }

    #[test]
    fn a_running_container_makes_a_ready_running_instance() {
        let c = container("running", 0, None);
        let status = instance_status(&instance(), &[&c], None, "t");
        assert_eq!(status.phase, InstancePhase::Running);
        assert!(status.ready);
        assert_eq!(status.container_id.as_deref(), Some("c1"));
        assert_eq!(status.ip.as_deref(), Some("10.1.0.5"));
        assert_eq!(status.observed_generation, Some(2));
        assert_eq!(
            ready_condition(&status),
            (ConditionStatus::True, "ContainerRunning", "", "t")
        );
    }

    #[test]
    fn a_failing_health_check_keeps_a_running_instance_unready_with_the_probes_message() {
        let c = probed(false, Some((false, "HTTP 404")));
        let status = instance_status(&instance(), &[&c], None, "t");
        assert_eq!(
            (status.phase, status.ready),
            (InstancePhase::Running, false)
        );
        assert_eq!(status.message, "health check failed: HTTP 404");
        assert_eq!(
            ready_condition(&status),
            (
                ConditionStatus::False,
                "HealthCheckFailed",
                "health check failed: HTTP 404",
                "t"
            )
        );
    }

    #[test]
    fn readiness_follows_the_probes_with_a_transition_each_time_the_reason_changes() {
        let mut instance = instance();
        let mut step = |c: ObservedContainer, now: &str| {
            let status = instance_status(&instance, &[&c], None, now);
            instance.status = Some(status.clone());
            status
        };
        let pending = step(probed(false, None), "t1");
        assert!(!pending.ready);
        assert_eq!(pending.message, "waiting for the health check to pass");
        assert_eq!(ready_condition(&pending).1, "HealthCheckPending");
        let passed = step(probed(true, Some((true, "HTTP 200"))), "t2");
        assert!(passed.ready && passed.message.is_empty());
        assert_eq!(
            ready_condition(&passed),
            (ConditionStatus::True, "HealthCheckPassed", "HTTP 200", "t2")
        );
        let still = step(probed(true, Some((false, "HTTP 503"))), "t3");
        assert!(
            still.ready,
            "below the failure threshold the agent still reports ready"
        );
        assert_eq!(ready_condition(&still).3, "t2");
        let failed = step(probed(false, Some((false, "timed out after 1s"))), "t4");
        assert_eq!(
            ready_condition(&failed),
            (
                ConditionStatus::False,
                "HealthCheckFailed",
                "health check failed: timed out after 1s",
                "t4"
            )
        );
    }

    #[test]
    fn a_stopped_container_is_not_ready_whatever_its_last_report() {
        let mut c = probed(true, Some((true, "HTTP 200")));
        c.state = "restarting".into();
        let status = instance_status(&instance(), &[&c], None, "t");
        assert!(!status.ready);
        assert_eq!(ready_condition(&status).1, "ContainerNotRunning");
    }

    #[test]
    fn the_restart_count_of_a_container_never_goes_back_but_a_new_one_starts_over() {
        let mut instance = instance();
        let c = container("running", 4, None);
        instance.status = Some(instance_status(&instance, &[&c], None, "t1"));
        let after_agent_restart = container("running", 1, None);
        let status = instance_status(&instance, &[&after_agent_restart], None, "t2");
        assert_eq!(status.restarts, 4);
        let mut replaced = container("running", 1, None);
        replaced.id = "c2".into();
        let status = instance_status(&instance, &[&replaced], None, "t3");
        assert_eq!(status.restarts, 1);
    }

    #[test]
    fn a_crashed_container_reports_its_exit_code_and_restarts() {
        let c = container("exited", 3, Some(2));
        let status = instance_status(&instance(), &[&c], None, "t");
        assert_eq!((status.phase, status.ready), (InstancePhase::Failed, false));
        assert_eq!((status.restarts, status.last_exit_code), (3, Some(2)));
        assert_eq!(status.message, "exited with code 2");
    }

    #[test]
    fn without_a_container_the_instance_is_pending_or_failed_with_the_start_error() {
        let pending = instance_status(&instance(), &[], None, "t");
        assert_eq!(pending.phase, InstancePhase::Pending);
        assert_eq!(pending.message, "starting on node node-a");
        let failed = instance_status(&instance(), &[], Some("no such image hello:1"), "t");
        assert_eq!(failed.phase, InstancePhase::Failed);
        assert_eq!(failed.message, "cannot start: no such image hello:1");
    }

    #[test]
    fn the_schedulers_condition_is_kept_and_recomputing_changes_nothing() {
        let mut instance = instance();
        let mut status = InstanceStatus::default();
        condition::set(
            &mut status.conditions,
            Decided::yes("Scheduled", "Bound", "x"),
            "t0",
        );
        instance.status = Some(status);
        let c = container("running", 0, None);
        let first = instance_status(&instance, &[&c], None, "t1");
        assert!(condition::find(&first.conditions, "Scheduled").is_some());
        instance.status = Some(first.clone());
        assert_eq!(instance_status(&instance, &[&c], None, "t2"), first);
    }
}
