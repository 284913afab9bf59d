//! App.status, a pure function of the App, the decision about its Releases and its live
//! Instances: counts, and the conditions Available, Progressing and Degraded with reasons a
//! user can act on.

use std::time::SystemTime;

use minicloud_manifests::{App, AppStatus, ConditionStatus, Instance, InstancePhase};

use super::decide::Decision;
use super::instances::is_ready;
use super::marks::DEADLINE_EXCEEDED;
use super::rollout::State;
use crate::condition::{self, Decided};
use crate::time;

/// Progressing reason once the current Release runs every replica, ready.
pub const RELEASE_AVAILABLE: &str = "ReleaseAvailable";
/// Progressing reason while Instances are being created, replaced or removed.
const ROLLING_OUT: &str = "RollingOut";
/// Progressing reason once the spec's Release failed and an earlier one runs instead.
const ROLLED_BACK: &str = "RolledBack";
/// Degraded reason once the spec's Release failed.
const RELEASE_FAILED: &str = "ReleaseFailed";
/// Condition the scheduler sets on Instances.
const SCHEDULED: &str = "Scheduled";

/// The counts a status is made of.
struct Counts {
    desired: usize,
    ready: usize,
    updated: usize,
    updated_ready: usize,
    live: usize,
}

/// The App's status given the decision taken for it and its live Instances, at `now`; without a
/// URL, which depends on the ingress rather than on the App's objects.
pub fn app_status(
    app: &App,
    decision: &Decision,
    live: &[&Instance],
    now: SystemTime,
) -> AppStatus {
    let updated: Vec<&&Instance> = live.iter().filter(|i| decision.is_updated(i)).collect();
    let counts = Counts {
        desired: app.spec.replica_count() as usize,
        ready: live.iter().filter(|i| is_ready(i)).count(),
        updated: updated.len(),
        updated_ready: updated.iter().filter(|i| is_ready(i)).count(),
        live: live.len(),
    };
    let previous = app.status.clone().unwrap_or_default();
    let release = &decision.rollout.current.metadata.name;
    let state = &decision.rollout.state;
    let mut conditions = previous.conditions.clone();
    let stamp = time::format(now);
    condition::set(&mut conditions, available(&counts), &stamp);
    let exclusive = decision.exclusive_volume.as_deref();
    condition::set(
        &mut conditions,
        progressing(&counts, release, state, exclusive),
        &stamp,
    );
    condition::set(
        &mut conditions,
        degraded(live, state, &app.metadata.name),
        &stamp,
    );
    AppStatus {
        replicas: counts.live as u32,
        ready_replicas: counts.ready as u32,
        updated_replicas: counts.updated as u32,
        url: None,
        current_release: Some(release.clone()),
        observed_generation: app.metadata.generation,
        conditions,
    }
}

fn available(c: &Counts) -> Decided {
    let message = format!("{}/{} replicas ready", c.ready, c.desired);
    if c.ready >= c.desired {
        Decided::yes("Available", "MinimumReplicasAvailable", message)
    } else {
        Decided::no("Available", "MinimumReplicasUnavailable", message)
    }
}

fn progressing(c: &Counts, release: &str, state: &State, exclusive: Option<&str>) -> Decided {
    match state {
        State::RolledBack { message } => return Decided::no("Progressing", ROLLED_BACK, message),
        State::Stalled { message } => {
            return Decided::no("Progressing", DEADLINE_EXCEEDED, message);
        }
        State::Current => {}
    }
    if c.updated == c.desired && c.updated_ready == c.desired && c.live == c.desired {
        let message = format!("release {release} runs {} ready replicas", c.desired);
        return Decided::yes("Progressing", RELEASE_AVAILABLE, message);
    }
    let old = c.live - c.updated;
    let mut message = format!(
        "{}/{} replicas of release {release} ready, {old} of older releases remaining",
        c.updated_ready, c.desired
    );
    if let Some(volume) = exclusive {
        message.push_str(&format!(
            "; stops the old instance first: Volume {volume} is ReadWriteOnce"
        ));
    }
    Decided::yes("Progressing", ROLLING_OUT, message)
}

fn degraded(live: &[&Instance], state: &State, app: &str) -> Decided {
    if let State::RolledBack { message } = state {
        let message = format!(
            "the applied spec failed: {message}; apply a changed spec, or run `mini restart {app}` to try it again"
        );
        return Decided::yes("Degraded", RELEASE_FAILED, message);
    }
    let failing: Vec<String> = live.iter().filter_map(|i| failure(i)).collect();
    if let Some(first) = failing.first() {
        let more = match failing.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Decided::yes("Degraded", "InstancesFailing", format!("{first}{more}"));
    }
    let unschedulable = live.iter().find_map(|i| {
        let status = i.status.as_ref()?;
        let scheduled = condition::find(&status.conditions, SCHEDULED)?;
        (scheduled.status == ConditionStatus::False).then(|| {
            format!(
                "{} cannot be scheduled: {}",
                i.metadata.name, scheduled.message
            )
        })
    });
    match (unschedulable, state) {
        (Some(message), _) => Decided::yes("Degraded", "Unschedulable", message),
        (None, State::Stalled { message }) => Decided::yes("Degraded", DEADLINE_EXCEEDED, message),
        (None, _) => Decided::no("Degraded", "AsExpected", ""),
    }
}

/// Why an Instance is failing, if it is: failed, or restarting without becoming ready.
fn failure(instance: &Instance) -> Option<String> {
    let status = instance.status.as_ref()?;
    let name = &instance.metadata.name;
    let exit = status
        .last_exit_code
        .map(|code| format!(", last exit code {code}"))
        .unwrap_or_default();
    match status.phase {
        InstancePhase::Failed => Some(format!("{name} failed: {}{exit}", status.message)),
        _ if status.restarts > 0 && !status.ready => {
            Some(format!("{name} restarted {} times{exit}", status.restarts))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::collections::BTreeSet;

    use super::*;
    use crate::app::rollout::Choice;
    use crate::fixtures;
    use minicloud_manifests::{Condition, InstanceStatus, UpdateStrategy};

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn app(replicas: u32) -> App {
        let mut app = fixtures::app("hello:1", replicas);
        app.metadata.generation = Some(4);
        app.spec.update = Some(UpdateStrategy {
            progress_deadline_seconds: Some(60),
            ..UpdateStrategy::default()
        });
        app
    }

    fn inst(name: &str, release: &str, status: InstanceStatus) -> Instance {
        let container = app(1).spec.container();
        let mut instance = fixtures::instance(name, "web", release, Some("n"), container);
        instance.status = Some(status);
        instance
    }

    /// A decision making `release` current, with the spec's release in `state`.
    fn decision(release: &str, state: State) -> Decision {
        let mut current = crate::app::objects::release(&app(1), 1, "h");
        current.metadata.name = release.into();
        Decision {
            rollout: Choice {
                current,
                create: false,
                marks: Vec::new(),
                state,
                recheck_after: None,
            },
            updated: BTreeSet::from([release.to_owned()]),
            create_instances: 0,
            delete_instances: Vec::new(),
            exclusive_volume: None,
        }
    }

    fn current(release: &str) -> Decision {
        decision(release, State::Current)
    }

    fn running() -> InstanceStatus {
        InstanceStatus {
            phase: InstancePhase::Running,
            ready: true,
            ..InstanceStatus::default()
        }
    }

    fn cond<'a>(status: &'a AppStatus, type_: &str) -> &'a Condition {
        condition::find(&status.conditions, type_).unwrap()
    }

    #[test]
    fn a_fully_ready_app_is_available_settled_and_not_degraded() {
        let (a, b) = (inst("a", "web-1", running()), inst("b", "web-1", running()));
        let status = app_status(&app(2), &current("web-1"), &[&a, &b], at(0));
        assert_eq!(
            (
                status.replicas,
                status.ready_replicas,
                status.updated_replicas
            ),
            (2, 2, 2)
        );
        assert_eq!(status.current_release.as_deref(), Some("web-1"));
        assert_eq!(status.observed_generation, Some(4));
        assert_eq!(cond(&status, "Available").status, ConditionStatus::True);
        assert_eq!(cond(&status, "Available").message, "2/2 replicas ready");
        assert_eq!(cond(&status, "Degraded").status, ConditionStatus::False);
    }

    #[test]
    fn a_rollout_is_progressing_and_says_what_remains() {
        let (old, new) = (
            inst("a", "web-1", running()),
            inst("b", "web-2", InstanceStatus::default()),
        );
        let status = app_status(&app(1), &current("web-2"), &[&old, &new], at(0));
        let progressing = cond(&status, "Progressing");
        assert_eq!(progressing.reason, "RollingOut");
        assert_eq!(
            progressing.message,
            "0/1 replicas of release web-2 ready, 1 of older releases remaining"
        );
        assert_eq!(cond(&status, "Available").status, ConditionStatus::True);
    }

    #[test]
    fn a_rollout_next_to_a_read_write_once_volume_says_it_stops_the_old_instance_first() {
        let old = inst("a", "web-1", running());
        let decision = Decision {
            exclusive_volume: Some("data".into()),
            ..current("web-2")
        };
        let status = app_status(&app(1), &decision, &[&old], at(0));
        assert_eq!(
            cond(&status, "Progressing").message,
            "0/1 replicas of release web-2 ready, 1 of older releases remaining; stops the old \
             instance first: Volume data is ReadWriteOnce"
        );
    }

    #[test]
    fn a_rolled_back_app_stops_progressing_and_is_degraded_naming_both_releases() {
        let message = "release web-2 (revision 2) was not available within 60 s (0/1 replicas \
                       ready); rolled back to release web-1 (revision 1)";
        let state = State::RolledBack {
            message: message.into(),
        };
        let old = inst("a", "web-1", running());
        let status = app_status(&app(1), &decision("web-1", state), &[&old], at(61));
        let progressing = cond(&status, "Progressing");
        assert_eq!(
            (progressing.status, progressing.reason.as_str()),
            (ConditionStatus::False, "RolledBack")
        );
        assert_eq!(progressing.message, message);
        let degraded = cond(&status, "Degraded");
        assert_eq!(
            (degraded.status, degraded.reason.as_str()),
            (ConditionStatus::True, "ReleaseFailed")
        );
        assert!(degraded.message.contains(message), "{}", degraded.message);
        assert!(
            degraded.message.contains("mini restart web"),
            "{}",
            degraded.message
        );
        assert_eq!(status.current_release.as_deref(), Some("web-1"));
        assert_eq!(cond(&status, "Available").status, ConditionStatus::True);
    }

    #[test]
    fn a_stalled_first_release_says_the_deadline_passed() {
        let message = "release web-1 (revision 1) was not available within 60 s";
        let state = State::Stalled {
            message: message.into(),
        };
        let pending = inst("a", "web-1", InstanceStatus::default());
        let status = app_status(&app(1), &decision("web-1", state), &[&pending], at(90));
        let progressing = cond(&status, "Progressing");
        assert_eq!(
            (progressing.status, progressing.reason.as_str()),
            (ConditionStatus::False, "ProgressDeadlineExceeded")
        );
        let degraded = cond(&status, "Degraded");
        assert_eq!(
            (degraded.status, degraded.message.as_str()),
            (ConditionStatus::True, message)
        );
    }

    #[test]
    fn a_crashing_instance_degrades_the_app_with_its_exit_code() {
        let crashing = InstanceStatus {
            restarts: 3,
            last_exit_code: Some(1),
            ..InstanceStatus::default()
        };
        let status = app_status(
            &app(1),
            &current("web-1"),
            &[&inst("a", "web-1", crashing)],
            at(0),
        );
        let degraded = cond(&status, "Degraded");
        assert_eq!(degraded.reason, "InstancesFailing");
        assert_eq!(degraded.message, "a restarted 3 times, last exit code 1");
        assert_eq!(
            cond(&status, "Available").reason,
            "MinimumReplicasUnavailable"
        );
    }

    #[test]
    fn an_unschedulable_instance_degrades_the_app_with_the_schedulers_reason() {
        let mut pending = InstanceStatus::default();
        condition::set(
            &mut pending.conditions,
            Decided::no("Scheduled", "Unschedulable", "0/1 nodes can run it"),
            "t",
        );
        let status = app_status(
            &app(1),
            &current("web-1"),
            &[&inst("a", "web-1", pending)],
            at(0),
        );
        let degraded = cond(&status, "Degraded");
        assert_eq!(degraded.reason, "Unschedulable");
        assert_eq!(
            degraded.message,
            "a cannot be scheduled: 0/1 nodes can run it"
        );
    }

    #[test]
    fn recomputing_an_unchanged_app_gives_an_equal_status() {
        let mut app = app(1);
        let a = inst("a", "web-1", running());
        app.status = Some(app_status(&app, &current("web-1"), &[&a], at(0)));
        assert_eq!(
            app.status,
            Some(app_status(&app, &current("web-1"), &[&a], at(30)))
        );
    }
}
