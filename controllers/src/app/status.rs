//! App.status, a pure function of the App, its current Release and its live Instances: counts,
//! and the conditions Available, Progressing and Degraded with reasons a user can act on.

use std::time::SystemTime;

use minicloud_manifests::{App, AppStatus, Condition, Instance, InstancePhase};

use super::decide::is_ready;
use crate::condition::{self, Decided};
use crate::time;

/// Progressing reason once the current Release runs every replica, ready.
pub const RELEASE_AVAILABLE: &str = "ReleaseAvailable";
/// Progressing reason while Instances are being created, replaced or removed.
const ROLLING_OUT: &str = "RollingOut";
/// Progressing reason when a rollout took longer than the App's progress deadline.
const DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";
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

/// The App's status given its current Release (by name) and live Instances, at `now`.
pub fn app_status(app: &App, release: &str, live: &[&Instance], now: SystemTime) -> AppStatus {
    let updated: Vec<&&Instance> = live.iter().filter(|i| i.spec.release == release).collect();
    let counts = Counts {
        desired: app.spec.replicas.unwrap_or(1) as usize,
        ready: live.iter().filter(|i| is_ready(i)).count(),
        updated: updated.len(),
        updated_ready: updated.iter().filter(|i| is_ready(i)).count(),
        live: live.len(),
    };
    let previous = app.status.clone().unwrap_or_default();
    let deadline = app
        .spec
        .update
        .as_ref()
        .and_then(|u| u.progress_deadline_seconds);
    let was = condition::find(&previous.conditions, "Progressing");
    let mut conditions = previous.conditions.clone();
    let stamp = time::format(now);
    condition::set(&mut conditions, available(&counts), &stamp);
    let progress = progressing(&counts, release, was, deadline.unwrap_or(120), now);
    condition::set(&mut conditions, progress, &stamp);
    condition::set(&mut conditions, degraded(live), &stamp);
    AppStatus {
        replicas: counts.live as u32,
        ready_replicas: counts.ready as u32,
        updated_replicas: counts.updated as u32,
        url: previous.url,
        current_release: Some(release.to_owned()),
        observed_generation: app.metadata.generation,
        conditions,
    }
}

/// Whether the status shows a finished rollout (nothing to wait for).
pub fn is_settled(status: &AppStatus) -> bool {
    condition::find(&status.conditions, "Progressing")
        .is_some_and(|c| c.reason == RELEASE_AVAILABLE)
}

fn available(c: &Counts) -> Decided {
    let message = format!("{}/{} replicas ready", c.ready, c.desired);
    if c.ready >= c.desired {
        Decided::yes("Available", "MinimumReplicasAvailable", message)
    } else {
        Decided::no("Available", "MinimumReplicasUnavailable", message)
    }
}

fn progressing(
    c: &Counts,
    release: &str,
    was: Option<&Condition>,
    deadline_secs: u32,
    now: SystemTime,
) -> Decided {
    if c.updated == c.desired && c.updated_ready == c.desired && c.live == c.desired {
        let message = format!("release {release} runs {} ready replicas", c.desired);
        return Decided::yes("Progressing", RELEASE_AVAILABLE, message);
    }
    let old = c.live - c.updated;
    let message = format!(
        "{}/{} replicas of release {release} ready, {old} of older releases remaining",
        c.updated_ready, c.desired
    );
    let since = |reason: &str| {
        was.filter(|w| w.reason == reason)
            .and_then(|w| w.last_transition_time.as_deref())
            .and_then(|t| time::age(t, now))
    };
    let overdue = since(ROLLING_OUT).is_some_and(|age| age.as_secs() > u64::from(deadline_secs));
    if overdue || since(DEADLINE_EXCEEDED).is_some() {
        let message = format!("not done within {deadline_secs} s: {message}");
        return Decided::no("Progressing", DEADLINE_EXCEEDED, message);
    }
    Decided::yes("Progressing", ROLLING_OUT, message)
}

fn degraded(live: &[&Instance]) -> Decided {
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
        (scheduled.status == minicloud_manifests::ConditionStatus::False).then(|| {
            format!(
                "{} cannot be scheduled: {}",
                i.metadata.name, scheduled.message
            )
        })
    });
    match unschedulable {
        Some(message) => Decided::yes("Degraded", "Unschedulable", message),
        None => Decided::no("Degraded", "AsExpected", ""),
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

    use super::*;
    use minicloud_manifests::{
        AppSpec, ConditionStatus, InstanceSpec, InstanceStatus, ObjectMeta, UpdateStrategy,
    };

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn app(replicas: u32) -> App {
        let mut meta = ObjectMeta::named("web", Some("acme"));
        meta.generation = Some(4);
        let spec = AppSpec {
            image: Some("hello:1".into()),
            replicas: Some(replicas),
            update: Some(UpdateStrategy {
                progress_deadline_seconds: Some(60),
                ..UpdateStrategy::default()
            }),
            ..AppSpec::default()
        };
        App::new(meta, spec)
    }

    fn inst(name: &str, release: &str, status: InstanceStatus) -> Instance {
        let spec = InstanceSpec {
            app: "web".into(),
            release: release.into(),
            node: Some("n".into()),
            container: crate::app::objects::container(&app(1).spec),
        };
        let mut instance = Instance::new(ObjectMeta::named(name, Some("acme")), spec);
        instance.status = Some(status);
        instance
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
        let status = app_status(&app(2), "web-1", &[&a, &b], at(0));
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
        assert!(is_settled(&status));
    }

    #[test]
    fn a_rollout_is_progressing_and_says_what_remains() {
        let (old, new) = (
            inst("a", "web-1", running()),
            inst("b", "web-2", InstanceStatus::default()),
        );
        let status = app_status(&app(1), "web-2", &[&old, &new], at(0));
        let progressing = cond(&status, "Progressing");
        assert_eq!(progressing.reason, "RollingOut");
        assert_eq!(
            progressing.message,
            "0/1 replicas of release web-2 ready, 1 of older releases remaining"
        );
        assert_eq!(cond(&status, "Available").status, ConditionStatus::True);
        assert!(!is_settled(&status));
    }

    #[test]
    fn a_rollout_past_its_deadline_stops_progressing() {
        let mut app = app(1);
        let pending = inst("b", "web-2", InstanceStatus::default());
        app.status = Some(app_status(&app, "web-2", &[&pending], at(0)));
        let status = app_status(&app, "web-2", &[&pending], at(61));
        let progressing = cond(&status, "Progressing");
        assert_eq!(
            (progressing.status, progressing.reason.as_str()),
            (ConditionStatus::False, "ProgressDeadlineExceeded")
        );
        assert!(
            progressing.message.starts_with("not done within 60 s"),
            "{}",
            progressing.message
        );
    }

    #[test]
    fn a_crashing_instance_degrades_the_app_with_its_exit_code() {
        let crashing = InstanceStatus {
            restarts: 3,
            last_exit_code: Some(1),
            ..InstanceStatus::default()
        };
        let status = app_status(&app(1), "web-1", &[&inst("a", "web-1", crashing)], at(0));
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
        let status = app_status(&app(1), "web-1", &[&inst("a", "web-1", pending)], at(0));
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
        app.status = Some(app_status(&app, "web-1", &[&a], at(0)));
        assert_eq!(app.status, Some(app_status(&app, "web-1", &[&a], at(30))));
    }
}
