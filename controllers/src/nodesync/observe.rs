//! An Instance's status from what its node's agent observed, a pure function: phase, container
//! id, address, readiness (running, until health checks exist), restarts and last exit code.
//! Conditions other controllers set (`Scheduled`) are kept.

use minicloud_manifests::{Instance, InstancePhase, InstanceStatus};
use minicloud_proto::v1::ObservedContainer;

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
    match best {
        Some(container) => from_container(&mut status, container),
        None => {
            status.container_id = None;
            status.ip = None;
            status.ready = false;
            let node = instance.spec.node.as_deref().unwrap_or_default();
            (status.phase, status.message) = match start_error {
                Some(error) => (InstancePhase::Failed, format!("cannot start: {error}")),
                None => (InstancePhase::Pending, format!("starting on node {node}")),
            };
        }
    }
    let ready = match status.ready {
        true => Decided::yes("Ready", "ContainerRunning", ""),
        false => Decided::no("Ready", "ContainerNotRunning", status.message.clone()),
    };
    condition::set(&mut status.conditions, ready, now);
    status
}

fn from_container(status: &mut InstanceStatus, container: &ObservedContainer) {
    status.container_id = Some(container.id.clone());
    status.ip = Some(container.ip.clone()).filter(|ip| !ip.is_empty());
    status.restarts = container.restart_count;
    status.last_exit_code = container.last_exit_code.or(status.last_exit_code);
    status.ready = container.state == "running";
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

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{ContainerSpec, InstanceSpec, ObjectMeta, Resources};

    fn instance() -> Instance {
        let spec = InstanceSpec {
            app: "web".into(),
            release: "web-1".into(),
            node: Some("node-a".into()),
            container: ContainerSpec {
                image: "hello:1".into(),
                command: Vec::new(),
                args: Vec::new(),
                env: Vec::new(),
                ports: Vec::new(),
                resources: Resources::default(),
                volumes: Vec::new(),
                health_check: None,
                user: None,
            },
        };
        let mut meta = ObjectMeta::named("web-abc", Some("acme"));
        meta.generation = Some(2);
        Instance::new(meta, spec)
    }

    fn container(state: &str, restarts: u32, exit: Option<i32>) -> ObservedContainer {
        ObservedContainer {
            id: "c1".into(),
            state: state.into(),
            restart_count: restarts,
            last_exit_code: exit,
            ip: "10.1.0.5".into(),
            ..ObservedContainer::default()
        }
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
