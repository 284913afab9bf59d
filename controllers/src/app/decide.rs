//! The app controller's decision, a pure function of (App, its Releases, its Instances): which
//! Release is current, how many Instances to create for it, and which Instances to delete.
//!
//! Updates are surge-then-drain: Instances of the current Release are created up to
//! `replicas`; a ready Instance of an older Release is kept only while the current Release has
//! fewer ready Instances than `replicas`; not-ready old ones go at once.

use std::cmp::Reverse;

use minicloud_manifests::{App, Instance, Release};

use super::objects;
use crate::object::{is_deleting, is_owned_by};

/// What to change.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The Release Instances converge to.
    pub release: Release,
    /// Whether [`Decision::release`] is new and must be written first.
    pub create_release: bool,
    /// How many Instances of the release to create.
    pub create_instances: usize,
    /// Names of Instances to delete.
    pub delete_instances: Vec<String>,
}

/// Decides the next step for `app` given everything listed with its `app` label.
pub fn decide(app: &App, releases: &[Release], instances: &[Instance]) -> Decision {
    let (release, create_release) = current_release(app, releases);
    let live = live_instances(app, instances);
    let (current, old): (Vec<&Instance>, Vec<&Instance>) = live
        .into_iter()
        .partition(|i| i.spec.release == release.metadata.name);
    let desired = app.spec.replicas.unwrap_or(1) as usize;
    let excess = current.len().saturating_sub(desired);
    let mut delete_instances: Vec<String> = removal_order(current.clone())
        .into_iter()
        .take(excess)
        .map(|i| i.metadata.name.clone())
        .collect();
    let ready_current = current.iter().filter(|i| is_ready(i)).count().min(desired);
    delete_instances.extend(old_to_delete(old, desired.saturating_sub(ready_current)));
    Decision {
        create_instances: desired.saturating_sub(current.len()),
        release,
        create_release,
        delete_instances,
    }
}

/// Whether an Instance serves: running and passing its checks.
pub fn is_ready(instance: &Instance) -> bool {
    instance.status.as_ref().is_some_and(|s| s.ready)
}

/// The App's Instances that are not on their way out.
pub fn live_instances<'a>(app: &App, instances: &'a [Instance]) -> Vec<&'a Instance> {
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    instances
        .iter()
        .filter(|i| is_owned_by(&i.metadata, uid) && !is_deleting(&i.metadata))
        .collect()
}

/// The newest owned Release matching the App's template, or a new one numbered after every
/// Release of the App's name.
fn current_release(app: &App, releases: &[Release]) -> (Release, bool) {
    let hash = objects::template_hash(&app.spec);
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    let matching = releases
        .iter()
        .filter(|r| is_owned_by(&r.metadata, uid) && r.spec.spec_hash == hash)
        .max_by_key(|r| r.spec.revision);
    match matching {
        Some(release) => (release.clone(), false),
        None => {
            let last = releases.iter().map(|r| r.spec.revision).max().unwrap_or(0);
            (objects::release(app, last + 1, &hash), true)
        }
    }
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

/// Old-release Instances to delete: every not-ready one, and ready ones beyond `keep`.
fn old_to_delete(old: Vec<&Instance>, keep: usize) -> impl Iterator<Item = String> + '_ {
    let (ready, not_ready): (Vec<&Instance>, Vec<&Instance>) =
        old.into_iter().partition(|i| is_ready(i));
    let surplus = ready.len().saturating_sub(keep);
    let ready_going = removal_order(ready).into_iter().take(surplus);
    not_ready
        .into_iter()
        .chain(ready_going)
        .map(|i| i.metadata.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::objects::{instance, release, template_hash};
    use minicloud_manifests::{AppSpec, InstancePhase, InstanceStatus, ObjectMeta};

    fn app(image: &str, replicas: u32) -> App {
        let mut meta = ObjectMeta::named("web", Some("acme"));
        meta.uid = Some("uid-web".into());
        let spec = AppSpec {
            image: Some(image.into()),
            replicas: Some(replicas),
            ..AppSpec::default()
        };
        App::new(meta, spec)
    }

    fn release_of(app: &App, revision: u64) -> Release {
        release(app, revision, &template_hash(&app.spec))
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
        let decision = decide(&app, &[], &[]);
        assert!(decision.create_release);
        assert_eq!(decision.release.metadata.name, "web-1");
        assert_eq!(decision.create_instances, 3);
        assert!(decision.delete_instances.is_empty());
    }

    #[test]
    fn a_converged_app_needs_nothing() {
        let app = app("hello:1", 2);
        let r1 = release_of(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, Some("n"), true),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances);
        assert!(!decision.create_release);
        assert_eq!(
            (decision.create_instances, decision.delete_instances.len()),
            (0, 0)
        );
    }

    #[test]
    fn scaling_down_removes_unbound_then_not_ready_then_newest() {
        let app = app("hello:1", 1);
        let r1 = release_of(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, Some("n"), true),
            inst(&app, &r1, 3, Some("n"), false),
            inst(&app, &r1, 4, None, false),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances);
        let expected = names(&[&instances[3], &instances[2], &instances[1]]);
        assert_eq!(decision.delete_instances, expected);
        assert_eq!(decision.create_instances, 0);
    }

    #[test]
    fn scaling_to_zero_removes_every_instance() {
        let app = app("hello:1", 0);
        let r1 = release_of(&app, 1);
        let instances = [
            inst(&app, &r1, 1, Some("n"), true),
            inst(&app, &r1, 2, None, false),
        ];
        let decision = decide(&app, std::slice::from_ref(&r1), &instances);
        assert_eq!(decision.delete_instances.len(), 2);
    }

    #[test]
    fn a_spec_change_makes_a_new_release_and_keeps_old_ready_instances_meanwhile() {
        let old_app = app("hello:1", 2);
        let r1 = release_of(&old_app, 1);
        let instances = [
            inst(&old_app, &r1, 1, Some("n"), true),
            inst(&old_app, &r1, 2, Some("n"), true),
        ];
        let new_app = app("hello:2", 2);
        let decision = decide(&new_app, std::slice::from_ref(&r1), &instances);
        assert!(decision.create_release);
        assert_eq!(decision.release.metadata.name, "web-2");
        assert_eq!(decision.create_instances, 2);
        assert!(decision.delete_instances.is_empty());
    }

    #[test]
    fn old_instances_drain_as_new_ones_become_ready() {
        let old_app = app("hello:1", 2);
        let new_app = app("hello:2", 2);
        let (r1, r2) = (release_of(&old_app, 1), release_of(&new_app, 2));
        let instances = [
            inst(&old_app, &r1, 1, Some("n"), true),
            inst(&old_app, &r1, 2, Some("n"), true),
            inst(&new_app, &r2, 3, Some("n"), true),
            inst(&new_app, &r2, 4, Some("n"), false),
        ];
        let decision = decide(&new_app, &[r1, r2], &instances);
        assert!(!decision.create_release);
        assert_eq!(decision.delete_instances, names(&[&instances[1]]));
    }

    #[test]
    fn not_ready_old_instances_go_at_once() {
        let old_app = app("hello:1", 1);
        let new_app = app("hello:2", 1);
        let (r1, r2) = (release_of(&old_app, 1), release_of(&new_app, 2));
        let instances = [inst(&old_app, &r1, 1, None, false)];
        let decision = decide(&new_app, &[r1, r2], &instances);
        assert_eq!(decision.delete_instances, names(&[&instances[0]]));
        assert_eq!(decision.create_instances, 1);
    }

    #[test]
    fn deleting_and_foreign_instances_are_not_counted() {
        let app = app("hello:1", 1);
        let r1 = release_of(&app, 1);
        let mut going = inst(&app, &r1, 1, Some("n"), true);
        going.metadata.deletion_timestamp = Some("2024-01-01T00:01:00Z".into());
        let mut foreign = inst(&app, &r1, 2, Some("n"), true);
        foreign.metadata.owner_references[0].uid = "uid-of-a-deleted-namesake".into();
        let decision = decide(&app, std::slice::from_ref(&r1), &[going, foreign]);
        assert_eq!(decision.create_instances, 1);
        assert!(decision.delete_instances.is_empty());
    }

    #[test]
    fn going_back_to_an_old_spec_reuses_its_release() {
        let v1 = app("hello:1", 1);
        let v2 = app("hello:2", 1);
        let releases = [release_of(&v1, 1), release_of(&v2, 2)];
        let decision = decide(&v1, &releases, &[]);
        assert!(!decision.create_release);
        assert_eq!(decision.release.metadata.name, "web-1");
    }
}
