//! How far an App's rollout is, as `mini rollout status` follows it: a pure function of the
//! App, its Releases and its Instances as the API returns them, judged by the same rules the
//! app controller rolls out by.

use minicloud_manifests::{App, Instance, Release};

use super::instances::{is_ready, live_instances};
use super::marks::{self, DEADLINE_EXCEEDED};
use super::objects::release_hash;
use super::rollout::{self, describe};
use super::status::RELEASE_AVAILABLE;
use crate::condition;

/// Where the rollout of an App's spec stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The app controller has not acted on the App's latest spec yet.
    Pending,
    /// Instances of the spec's Release are replacing the others.
    RollingOut {
        /// `release web-2 (revision 2)`.
        release: String,
        /// Instances wanted.
        replicas: usize,
        /// Instances running the spec's Release.
        updated: usize,
        /// Of those, the ready ones.
        updated_ready: usize,
        /// Instances of other Releases still there.
        old: usize,
    },
    /// Every replica runs the spec's Release, ready.
    Complete {
        /// `release web-2 (revision 2)`.
        release: String,
    },
    /// The spec's Release failed and was rolled back, or missed its deadline.
    Failed {
        /// Why, naming the Releases.
        message: String,
    },
}

/// Where the rollout of `app`'s spec stands, given the Releases and Instances listed with its
/// `app` label.
pub fn progress(app: &App, releases: &[Release], instances: &[Instance]) -> Progress {
    let Some(status) = app
        .status
        .as_ref()
        .filter(|s| s.observed_generation >= app.metadata.generation)
    else {
        return Progress::Pending;
    };
    let hash = release_hash(app);
    let owned = rollout::owned(app, releases);
    let latest = owned.iter().copied().max_by_key(|r| r.spec.revision);
    let Some(latest) = latest.filter(|r| r.spec.spec_hash == hash) else {
        return Progress::Pending;
    };
    if let Some(message) = marks::failure(latest) {
        return Progress::Failed {
            message: message.to_owned(),
        };
    }
    if status.current_release.as_deref() != Some(&latest.metadata.name) {
        return Progress::Pending;
    }
    let progressing = condition::find(&status.conditions, "Progressing");
    let reason = progressing.map(|c| c.reason.as_str());
    if reason == Some(DEADLINE_EXCEEDED) {
        let message = progressing.map(|c| c.message.clone()).unwrap_or_default();
        return Progress::Failed { message };
    }
    let release = describe(latest);
    if reason == Some(RELEASE_AVAILABLE) {
        return Progress::Complete { release };
    }
    let same = rollout::names_with_hash(&owned, &hash);
    let live = live_instances(app, instances);
    let (updated, old): (Vec<&Instance>, Vec<&Instance>) = live
        .into_iter()
        .partition(|i| same.contains(&i.spec.release));
    Progress::RollingOut {
        release,
        replicas: app.spec.replica_count() as usize,
        updated: updated.len(),
        updated_ready: updated.iter().filter(|i| is_ready(i)).count(),
        old: old.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::objects::{instance, release};
    use crate::condition::Decided;
    use crate::fixtures;
    use minicloud_manifests::{AppStatus, InstanceStatus};

    fn app(image: &str, generation: u64) -> App {
        let mut app = fixtures::app(image, 2);
        app.metadata.generation = Some(generation);
        app
    }

    /// `app` with a status the controller wrote for `generation`, current `release`, and
    /// Progressing for `reason`.
    fn seen(mut app: App, generation: u64, release: &str, reason: &'static str) -> App {
        let mut status = AppStatus {
            observed_generation: Some(generation),
            current_release: Some(release.into()),
            ..AppStatus::default()
        };
        let progressing = Decided::yes("Progressing", reason, "why");
        condition::set(&mut status.conditions, progressing, "t");
        app.status = Some(status);
        app
    }

    fn rel(app: &App, revision: u64) -> Release {
        release(app, revision, &release_hash(app))
    }

    fn instance_of(app: &App, release: &Release, ready: bool) -> Instance {
        let mut i = instance(app, release, &format!("{ready}"));
        i.status = Some(InstanceStatus {
            ready,
            ..InstanceStatus::default()
        });
        i
    }

    #[test]
    fn a_spec_the_controller_has_not_seen_is_pending() {
        let (v1, v2) = (app("hello:1", 1), app("hello:2", 2));
        let stale = seen(v2.clone(), 1, "web-1", RELEASE_AVAILABLE);
        assert_eq!(progress(&stale, &[rel(&v1, 1)], &[]), Progress::Pending);
        let without_release = seen(v2, 2, "web-1", RELEASE_AVAILABLE);
        assert_eq!(
            progress(&without_release, &[rel(&v1, 1)], &[]),
            Progress::Pending
        );
    }

    #[test]
    fn a_rollout_counts_updated_ready_and_old_instances() {
        let (v1, v2) = (app("hello:1", 1), app("hello:2", 2));
        let (r1, r2) = (rel(&v1, 1), rel(&v2, 2));
        let instances = [
            instance_of(&v1, &r1, true),
            instance_of(&v2, &r2, true),
            instance_of(&v2, &r2, false),
        ];
        let app = seen(v2, 2, "web-2", "RollingOut");
        let expected = Progress::RollingOut {
            release: "release web-2 (revision 2)".into(),
            replicas: 2,
            updated: 2,
            updated_ready: 1,
            old: 1,
        };
        assert_eq!(progress(&app, &[r1, r2], &instances), expected);
    }

    #[test]
    fn a_finished_rollout_is_complete() {
        let v1 = app("hello:1", 1);
        let done = seen(v1.clone(), 1, "web-1", RELEASE_AVAILABLE);
        let expected = Progress::Complete {
            release: "release web-1 (revision 1)".into(),
        };
        assert_eq!(progress(&done, &[rel(&v1, 1)], &[]), expected);
    }

    #[test]
    fn a_rolled_back_release_fails_with_its_recorded_reason() {
        let (v1, v2) = (app("hello:1", 1), app("hello:2", 2));
        let failed = marks::failed(&rel(&v2, 2), "rolled back to web-1".into(), "t");
        let app = seen(v2, 2, "web-1", "RolledBack");
        let expected = Progress::Failed {
            message: "rolled back to web-1".into(),
        };
        assert_eq!(progress(&app, &[rel(&v1, 1), failed], &[]), expected);
    }

    #[test]
    fn a_first_release_past_its_deadline_fails() {
        let v1 = app("hello:1", 1);
        let stalled = seen(v1.clone(), 1, "web-1", DEADLINE_EXCEEDED);
        let expected = Progress::Failed {
            message: "why".into(),
        };
        assert_eq!(progress(&stalled, &[rel(&v1, 1)], &[]), expected);
    }
}
