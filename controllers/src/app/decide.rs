//! The app controller's decision, a pure function of (App, its Releases, its Instances, now):
//! which Release is current (see [`super::rollout`]), how many Instances to create for it, and
//! which Instances to delete.
//!
//! Instances are replaced as the App's update strategy allows: Instances of the current
//! Release are created while the App has fewer than `replicas + maxSurge`, and Instances of
//! other Releases are deleted — the not-ready ones at once, the ready ones only while at least
//! `replicas - maxUnavailable` ready Instances remain. Instances on their way out count for
//! neither.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::time::SystemTime;

use minicloud_manifests::{App, Instance, Release};

use super::instances::{is_ready, live_instances};
use super::rollout::{self, Choice};
use super::strategy::Strategy;

/// What to change.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The current Release, and what to record about Releases.
    pub rollout: Choice,
    /// Names of the Releases whose Instances count as the current one's: it and every
    /// earlier Release with the same hash.
    pub updated: BTreeSet<String>,
    /// How many Instances of the current Release to create.
    pub create_instances: usize,
    /// Names of Instances to delete.
    pub delete_instances: Vec<String>,
    /// The ReadWriteOnce volume the App mounts read-write, which makes its rollout stop the
    /// old instance before starting the new one.
    pub exclusive_volume: Option<String>,
}

impl Decision {
    /// Whether `instance` runs what the current Release asks for.
    pub fn is_updated(&self, instance: &Instance) -> bool {
        self.updated.contains(&instance.spec.release)
    }
}

/// Decides the next step for `app` at `now`, given everything listed with its `app` label and
/// the ReadWriteOnce volume it mounts read-write, if any.
pub fn decide(
    app: &App,
    releases: &[Release],
    instances: &[Instance],
    exclusive_volume: Option<&str>,
    now: SystemTime,
) -> Decision {
    let live = live_instances(app, instances);
    let rollout = rollout::choose(app, releases, &live, now);
    let owned = rollout::owned(app, releases);
    let mut updated = rollout::names_with_hash(&owned, &rollout.current.spec.spec_hash);
    updated.insert(rollout.current.metadata.name.clone());
    let (current, old): (Vec<&Instance>, Vec<&Instance>) = live
        .into_iter()
        .partition(|i| updated.contains(&i.spec.release));
    let strategy = match exclusive_volume {
        Some(_) => Strategy::of(app).exclusive(),
        None => Strategy::of(app),
    };
    let (create_instances, delete_instances) = replace(&strategy, current, old);
    Decision {
        rollout,
        updated,
        create_instances,
        delete_instances,
        exclusive_volume: exclusive_volume.map(str::to_owned),
    }
}

/// How many Instances of the current Release to create, and which Instances to delete, given
/// the live Instances of the current Release and of the others.
fn replace(
    strategy: &Strategy,
    current: Vec<&Instance>,
    old: Vec<&Instance>,
) -> (usize, Vec<String>) {
    let excess = current.len().saturating_sub(strategy.replicas);
    let mut kept = removal_order(current);
    let surplus: Vec<&Instance> = kept.drain(..excess).collect();
    let room = strategy.max_total().saturating_sub(kept.len() + old.len());
    let create = strategy.replicas.saturating_sub(kept.len()).min(room);
    let (old_ready, old_not_ready): (Vec<&Instance>, Vec<&Instance>) =
        old.into_iter().partition(|i| is_ready(i));
    let ready = kept.iter().filter(|i| is_ready(i)).count() + old_ready.len();
    let removable = ready.saturating_sub(strategy.min_available());
    let delete = surplus
        .into_iter()
        .chain(old_not_ready)
        .chain(removal_order(old_ready).into_iter().take(removable))
        .map(|i| i.metadata.name.clone())
        .collect();
    (create, delete)
}

/// Instances in the order they should go when there are too many: unscheduled first, then
/// not ready, then newest.
fn removal_order(mut instances: Vec<&Instance>) -> Vec<&Instance> {
    instances.sort_by_key(|i| {
        (
            i.spec.node.is_some(),
            is_ready(i),
            Reverse(i.metadata.creation_timestamp.clone()),
            Reverse(i.metadata.name.clone()),
        )
    });
    instances
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::marks;
    use crate::app::objects::{instance, release, release_hash};
    use crate::fixtures::app;
    use minicloud_manifests::{InstancePhase, InstanceStatus, UpdateStrategy};

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
    }

    /// `app` updated with `maxSurge` and `maxUnavailable`.
    fn with_strategy(mut app: App, surge: u32, unavailable: u32) -> App {
        app.spec.update = Some(UpdateStrategy {
            max_surge: Some(surge),
            max_unavailable: Some(unavailable),
            progress_deadline_seconds: Some(30),
        });
        app
    }

    fn release_of(app: &App, revision: u64) -> Release {
        let mut r = release(app, revision, &release_hash(app));
        r.metadata.creation_timestamp = Some(crate::time::format(now()));
        r
    }

    fn rolled_out(app: &App, revision: u64) -> Release {
        marks::rolled_out(&release_of(app, revision), "ready".into(), "t")
    }

    /// An Instance of `release`, created at second `at`, bound when `node` is set.
    fn inst(app: &App, release: &Release, at: u32, node: Option<&str>, ready: bool) -> Instance {
        let mut i = instance(app, release, &format!("i{at:04}"));
        i.metadata.creation_timestamp = Some(format!("2024-01-01T00:00:{at:02}Z"));
        i.spec.node = node.map(str::to_owned);
        i.status = Some(InstanceStatus {
            phase: if ready {
                InstancePhase::Running
            } else {
                InstancePhase::Pending
            },
            ready,
            ..InstanceStatus::default()
        });
        i
    }

    fn names(instances: &[&Instance]) -> Vec<String> {
        instances.iter().map(|i| i.metadata.name.clone()).collect()
    }

    #[test]
    fn a_new_app_gets_its_first_release_and_all_its_instances() {
        let app = app("hello:1", 3);
        let decision = decide(&app, &[], &[], None, now());
        assert!(decision.rollout.create);
        assert_eq!(decision.rollout.current.metadata.name, "web-1");
        assert_eq!(decision.create_instances, 3);
        assert!(decision.delete_instances.is_empty());
    }

    #[test]
    fn a_converged_app_needs_nothing() {
        let app = app("hello:1", 2);
        let r1 = rolled_out(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, Some("n"), true),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances, None, now());
        assert!(!decision.rollout.create && decision.rollout.marks.is_empty());
        assert_eq!(
            (decision.create_instances, decision.delete_instances.len()),
            (0, 0)
        );
    }

    #[test]
    fn scaling_up_makes_no_release_and_creates_the_missing_instances() {
        let app = app("hello:1", 5);
        let r1 = rolled_out(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, Some("n"), true),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances, None, now());
        assert!(!decision.rollout.create);
        assert_eq!(decision.create_instances, 3);
    }

    #[test]
    fn scaling_down_removes_unbound_then_not_ready_then_newest() {
        let app = app("hello:1", 1);
        let r1 = rolled_out(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, Some("n"), true),
            inst(&app, &r1, 3, Some("n"), false),
            inst(&app, &r1, 4, None, false),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances, None, now());
        let expected = names(&[&instances[3], &instances[2], &instances[1]]);
        assert_eq!(decision.delete_instances, expected);
        assert_eq!(decision.create_instances, 0);
    }

    #[test]
    fn scaling_to_zero_removes_every_instance() {
        let app = app("hello:1", 0);
        let r1 = rolled_out(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, None, false),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances, None, now());
        assert_eq!(decision.delete_instances.len(), 2);
    }

    #[test]
    fn a_spec_change_makes_a_new_release_and_surges_one_instance_first() {
        let old_app = app("hello:1", 2);
        let r1 = rolled_out(&old_app, 1);
        let instances = [
            inst(&old_app, &r1, 1, Some("n"), true),
            inst(&old_app, &r1, 2, Some("n"), true),
        ];
        let new_app = app("hello:2", 2);
        let decision = decide(&new_app, std::slice::from_ref(&r1), &instances, None, now());
        assert!(decision.rollout.create);
        assert_eq!(decision.rollout.current.metadata.name, "web-2");
        assert_eq!(decision.create_instances, 1);
        assert!(decision.delete_instances.is_empty());
    }

    #[test]
    fn an_app_writing_a_read_write_once_volume_stops_the_old_instance_before_the_new_one() {
        let old_app = app("hello:1", 1);
        let r1 = rolled_out(&old_app, 1);
        let instances = [inst(&old_app, &r1, 1, Some("n"), true)];
        let new_app = app("hello:2", 1);
        let decision = decide(
            &new_app,
            std::slice::from_ref(&r1),
            &instances,
            Some("data"),
            now(),
        );
        assert_eq!(decision.create_instances, 0, "no surge next to the writer");
        assert_eq!(
            decision.delete_instances,
            [instances[0].metadata.name.clone()]
        );
        assert_eq!(decision.exclusive_volume.as_deref(), Some("data"));
        let after = decide(
            &new_app,
            std::slice::from_ref(&r1),
            &[],
            Some("data"),
            now(),
        );
        assert_eq!(
            after.create_instances, 1,
            "the new instance once the old one is gone"
        );
    }

    #[test]
    fn old_instances_drain_as_new_ones_become_ready() {
        let old_app = app("hello:1", 2);
        let new_app = app("hello:2", 2);
        let (r1, r2) = (rolled_out(&old_app, 1), release_of(&new_app, 2));
        let instances = [
            inst(&old_app, &r1, 1, Some("n"), true),
            inst(&old_app, &r1, 2, Some("n"), true),
            inst(&new_app, &r2, 3, Some("n"), true),
            inst(&new_app, &r2, 4, Some("n"), false),
        ];
        let decision = decide(&new_app, &[r1, r2], &instances, None, now());
        assert!(!decision.rollout.create);
        assert_eq!(decision.delete_instances, names(&[&instances[1]]));
    }

    #[test]
    fn not_ready_old_instances_go_at_once() {
        let old_app = app("hello:1", 1);
        let new_app = app("hello:2", 1);
        let (r1, r2) = (rolled_out(&old_app, 1), release_of(&new_app, 2));
        let instances = [inst(&old_app, &r1, 1, None, false)];
        let decision = decide(&new_app, &[r1, r2], &instances, None, now());
        assert_eq!(decision.delete_instances, names(&[&instances[0]]));
        assert_eq!(decision.create_instances, 1);
    }

    #[test]
    fn deleting_and_foreign_instances_are_not_counted() {
        let app = app("hello:1", 1);
        let r1 = rolled_out(&app, 1);
        let mut going = inst(&app, &r1, 1, Some("n"), true);
        going.metadata.deletion_timestamp = Some("2024-01-01T00:01:00Z".into());
        let mut foreign = inst(&app, &r1, 2, Some("n"), true);
        foreign.metadata.owner_references[0].uid = "uid-of-a-deleted-namesake".into();
        let decision = decide(
            &app,
            std::slice::from_ref(&r1),
            &[going, foreign],
            None,
            now(),
        );
        assert_eq!(decision.create_instances, 1);
        assert!(decision.delete_instances.is_empty());
    }

    #[test]
    fn going_back_to_an_old_spec_keeps_the_instances_that_run_it() {
        let v1 = app("hello:1", 2);
        let v2 = app("hello:2", 2);
        let (r1, r2) = (rolled_out(&v1, 1), release_of(&v2, 2));
        let instances = [
            inst(&v1, &r1, 1, Some("n"), true),
            inst(&v1, &r1, 2, Some("n"), true),
            inst(&v2, &r2, 3, Some("n"), false),
        ];
        let decision = decide(&v1, &[r1, r2], &instances, None, now());
        assert!(decision.rollout.create);
        assert_eq!(decision.rollout.current.metadata.name, "web-3");
        assert!(decision.is_updated(&instances[0]) && !decision.is_updated(&instances[2]));
        assert_eq!(decision.create_instances, 0);
        assert_eq!(decision.delete_instances, names(&[&instances[2]]));
    }

    #[test]
    fn past_the_deadline_the_never_ready_instances_go_and_the_old_ones_stay() {
        let (v1, v2) = (app("hello:1", 3), app("hello:2", 3));
        let mut r2 = release_of(&v2, 2);
        r2.metadata.creation_timestamp =
            Some(crate::time::format(now() - Duration::from_secs(300)));
        let r1 = rolled_out(&v1, 1);
        let instances = [
            inst(&v1, &r1, 1, Some("n"), true),
            inst(&v1, &r1, 2, Some("n"), true),
            inst(&v1, &r1, 3, Some("n"), true),
            inst(&v2, &r2, 4, Some("n"), false),
        ];
        let decision = decide(&v2, &[r1, r2.clone()], &instances, None, now());
        assert_eq!(decision.rollout.current.metadata.name, "web-1");
        assert_eq!(decision.delete_instances, names(&[&instances[3]]));
        assert_eq!(decision.create_instances, 0);
        let failed = decision.rollout.marks[0].clone();
        assert!(marks::is_failed(&failed));

        let again = decide(
            &v2,
            &[rolled_out(&v1, 1), failed],
            &instances[..3],
            None,
            now(),
        );
        assert!(!again.rollout.create && again.rollout.marks.is_empty());
        assert_eq!(
            (again.create_instances, again.delete_instances.len()),
            (0, 0)
        );
    }

    /// Rolls `replicas` Instances from one spec to another under `surge`/`unavailable`,
    /// applying each decision; between steps, Instances become ready when `ready_after` says so.
    /// Checks at every step that the App never has more than `replicas + surge` Instances nor
    /// fewer than `replicas - unavailable` ready ones, and returns the Instances at the end
    /// and the number of steps taken.
    fn roll(
        replicas: u32,
        surge: u32,
        unavailable: u32,
        ready_after: bool,
    ) -> (Vec<Instance>, usize) {
        let v1 = with_strategy(app("hello:1", replicas), surge, unavailable);
        let v2 = with_strategy(app("hello:2", replicas), surge, unavailable);
        let releases = [rolled_out(&v1, 1), release_of(&v2, 2)];
        let mut instances: Vec<Instance> = (0..replicas)
            .map(|k| inst(&v1, &releases[0], k, Some("n"), true))
            .collect();
        let (max_total, min_ready) = (
            (replicas + surge) as usize,
            replicas.saturating_sub(unavailable) as usize,
        );
        for step in 0..100 {
            let decision = decide(&v2, &releases, &instances, None, now());
            if decision.create_instances == 0 && decision.delete_instances.is_empty() {
                return (instances, step);
            }
            instances.retain(|i| !decision.delete_instances.contains(&i.metadata.name));
            let ready = instances.iter().filter(|i| is_ready(i)).count();
            assert!(
                ready >= min_ready,
                "step {step}: {ready} ready, below {min_ready}"
            );
            for k in 0..decision.create_instances {
                let at = 10 + step as u32 * 10 + k as u32;
                instances.push(inst(&v2, &releases[1], at, Some("n"), false));
            }
            assert!(
                instances.len() <= max_total,
                "step {step}: {} instances",
                instances.len()
            );
            for instance in &mut instances {
                if let Some(status) = instance.status.as_mut() {
                    status.ready |= ready_after;
                }
            }
        }
        panic!("no end after 100 steps");
    }

    #[test]
    fn updates_stay_within_surge_and_unavailability_and_finish_on_the_new_release() {
        for replicas in [1, 3, 5] {
            for (surge, unavailable) in [(1, 0), (0, 1), (2, 0), (2, 1), (1, 2), (3, 3)] {
                let (instances, steps) = roll(replicas, surge, unavailable, true);
                let case = format!("{replicas} replicas, surge {surge}, unavailable {unavailable}");
                assert_eq!(instances.len(), replicas as usize, "{case}");
                assert!(
                    instances.iter().all(|i| i.spec.release == "web-2"),
                    "{case}"
                );
                assert!(steps <= 2 * replicas as usize + 1, "{case}: {steps} steps");
            }
        }
    }

    #[test]
    fn with_surge_only_old_ready_instances_stay_while_new_ones_never_become_ready() {
        for replicas in [1, 3, 5] {
            let (instances, _) = roll(replicas, 1, 0, false);
            let old = instances.iter().filter(|i| i.spec.release == "web-1");
            assert_eq!(old.count(), replicas as usize);
            assert_eq!(instances.len(), replicas as usize + 1);
        }
    }

    #[test]
    fn with_unavailability_allowed_only_that_many_old_instances_go_while_new_ones_hang() {
        let (instances, _) = roll(5, 1, 2, false);
        let old = instances
            .iter()
            .filter(|i| i.spec.release == "web-1")
            .count();
        assert_eq!(old, 3, "replicas - maxUnavailable old ones stay ready");
        assert_eq!(instances.len(), 6);
    }
}
