//! Which Release an App runs, a pure function of (App, its Releases, its live Instances, now).
//!
//! Every App spec that differs from the newest Release's makes a new Release numbered after
//! every earlier one, so the history reads in the order things were applied — going back to an
//! earlier spec makes a new revision with that spec's hash, whose Instances are those of every
//! Release sharing the hash (none are replaced for nothing). The newest Release is the spec's
//! Release and is current until it misses its progress deadline (counted from its creation)
//! before every replica of it was ready once. Then it is marked failed and the App goes back to
//! the newest earlier Release that did roll out; a failed Release is never tried again: only a
//! new spec (or `mini restart`, which changes the hash) starts another rollout. With no such
//! Release to go back to, the spec's Release stays current and keeps trying.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{App, Instance, Release};

use super::instances::is_ready;
use super::marks;
use super::objects;
use super::strategy::Strategy;
use crate::object::is_owned_by;
use crate::time;

/// Creation times are whole seconds: a deadline counts from the end of the creation second,
/// so that it never passes early.
const TIMESTAMP_RESOLUTION: Duration = Duration::from_secs(1);

/// Which Release is current, and what to record on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The Release the App's Instances converge to.
    pub current: Release,
    /// Whether [`Choice::current`] is new and must be created first.
    pub create: bool,
    /// Releases whose status gained a mark, to write.
    pub marks: Vec<Release>,
    /// Where the spec's Release stands.
    pub state: State,
    /// When to look again even if nothing changes: when the progress deadline passes.
    pub recheck_after: Option<Duration>,
}

/// Where the Release the App's spec asks for stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// It is current (rolling out, or done).
    Current,
    /// It missed its deadline with no earlier Release to go back to; it stays current.
    Stalled {
        /// Why, for people.
        message: String,
    },
    /// It failed, and an earlier Release is current.
    RolledBack {
        /// Which Release failed, how, and which one runs instead.
        message: String,
    },
}

/// Chooses the current Release of `app`.
pub fn choose(app: &App, releases: &[Release], live: &[&Instance], now: SystemTime) -> Choice {
    let hash = objects::release_hash(app);
    let owned = owned(app, releases);
    let latest = owned.iter().copied().max_by_key(|r| r.spec.revision);
    let Some(latest) = latest.filter(|r| r.spec.spec_hash == hash) else {
        let next = releases.iter().map(|r| r.spec.revision).max().unwrap_or(0) + 1;
        return Choice::plain(objects::release(app, next, &hash), true);
    };
    if marks::is_failed(latest) {
        let message = marks::failure(latest).unwrap_or_default().to_owned();
        return match last_rolled_out(&owned, latest) {
            Some(previous) => Choice::rolled_back(previous, Vec::new(), message),
            None => Choice::stalled(latest, message),
        };
    }
    if marks::has_rolled_out(latest) {
        return Choice::plain(latest.clone(), false);
    }
    let strategy = Strategy::of(app);
    let same = names_with_hash(&owned, &hash);
    let ready = live
        .iter()
        .filter(|i| same.contains(&i.spec.release) && is_ready(i))
        .count();
    let progress = format!("{ready}/{} replicas ready", strategy.replicas);
    let stamp = time::format(now);
    if ready >= strategy.replicas {
        let mut choice = Choice::plain(latest.clone(), false);
        choice
            .marks
            .push(marks::rolled_out(latest, progress, &stamp));
        return choice;
    }
    let age = latest
        .metadata
        .creation_timestamp
        .as_deref()
        .and_then(|created| time::age(created, now))
        .unwrap_or_default();
    let limit = strategy.progress_deadline + TIMESTAMP_RESOLUTION;
    if age < limit {
        let mut choice = Choice::plain(latest.clone(), false);
        choice.recheck_after = Some(limit - age);
        return choice;
    }
    let missed = format!(
        "{} was not available within {} s ({progress})",
        describe(latest),
        strategy.progress_deadline.as_secs()
    );
    match last_rolled_out(&owned, latest) {
        Some(previous) => {
            let message = format!("{missed}; rolled back to {}", describe(previous));
            let failed = marks::failed(latest, message.clone(), &stamp);
            Choice::rolled_back(previous, vec![failed], message)
        }
        None => Choice::stalled(
            latest,
            format!("{missed}, and no earlier release ever was to roll back to"),
        ),
    }
}

/// The Releases `app` owns (a deleted namesake's are not its own).
pub fn owned<'a>(app: &App, releases: &'a [Release]) -> Vec<&'a Release> {
    let uid = app.metadata.uid.as_deref().unwrap_or_default();
    releases
        .iter()
        .filter(|r| is_owned_by(&r.metadata, uid))
        .collect()
}

/// The names of the Releases with spec hash `hash`: their Instances run the same containers.
pub fn names_with_hash(releases: &[&Release], hash: &str) -> BTreeSet<String> {
    releases
        .iter()
        .filter(|r| r.spec.spec_hash == hash)
        .map(|r| r.metadata.name.clone())
        .collect()
}

/// `release web-2 (revision 2)`.
pub fn describe(release: &Release) -> String {
    format!(
        "release {} (revision {})",
        release.metadata.name, release.spec.revision
    )
}

/// The newest Release before `latest`, with another spec, that rolled out and did not fail.
fn last_rolled_out<'a>(owned: &[&'a Release], latest: &Release) -> Option<&'a Release> {
    owned
        .iter()
        .copied()
        .filter(|r| r.spec.revision < latest.spec.revision)
        .filter(|r| r.spec.spec_hash != latest.spec.spec_hash)
        .filter(|r| marks::has_rolled_out(r) && !marks::is_failed(r))
        .max_by_key(|r| r.spec.revision)
}

impl Choice {
    fn plain(current: Release, create: bool) -> Choice {
        Choice {
            current,
            create,
            marks: Vec::new(),
            state: State::Current,
            recheck_after: None,
        }
    }

    fn rolled_back(previous: &Release, marks: Vec<Release>, message: String) -> Choice {
        Choice {
            marks,
            state: State::RolledBack { message },
            ..Choice::plain(previous.clone(), false)
        }
    }

    fn stalled(latest: &Release, message: String) -> Choice {
        Choice {
            state: State::Stalled { message },
            ..Choice::plain(latest.clone(), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::objects::{instance, release, release_hash};
    use crate::fixtures;
    use minicloud_manifests::{InstancePhase, InstanceStatus, UpdateStrategy};

    const T0: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0 + secs)
    }

    fn app(image: &str) -> App {
        let mut app = fixtures::app(image, 2);
        app.spec.update = Some(UpdateStrategy {
            progress_deadline_seconds: Some(10),
            ..UpdateStrategy::default()
        });
        app
    }

    /// Release `revision` of `app`'s spec, created at second `created`.
    fn rel(app: &App, revision: u64, created: u64) -> Release {
        let mut r = release(app, revision, &release_hash(app));
        r.metadata.creation_timestamp = Some(time::format(at(created)));
        r
    }

    fn rolled(release: Release) -> Release {
        marks::rolled_out(&release, "2/2 replicas ready".into(), "t")
    }

    fn ready_instances(app: &App, release: &Release, n: usize) -> Vec<Instance> {
        (0..n)
            .map(|k| {
                let mut i = instance(app, release, &format!("r{k}"));
                i.status = Some(InstanceStatus {
                    phase: InstancePhase::Running,
                    ready: true,
                    ..InstanceStatus::default()
                });
                i
            })
            .collect()
    }

    fn refs(instances: &[Instance]) -> Vec<&Instance> {
        instances.iter().collect()
    }

    #[test]
    fn a_spec_without_its_release_gets_the_next_revision() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let choice = choose(&v2, &[rolled(rel(&v1, 1, 0))], &[], at(5));
        assert!(choice.create);
        assert_eq!(choice.current.metadata.name, "web-2");
        assert_eq!(choice.state, State::Current);
    }

    #[test]
    fn going_back_to_an_earlier_spec_makes_a_new_revision_with_its_hash() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [rolled(rel(&v1, 1, 0)), rolled(rel(&v2, 2, 5))];
        let choice = choose(&v1, &releases, &[], at(9));
        assert!(choice.create);
        assert_eq!(choice.current.spec.revision, 3);
        assert_eq!(choice.current.spec.spec_hash, releases[0].spec.spec_hash);
    }

    #[test]
    fn a_rollout_before_its_deadline_is_looked_at_again_when_it_passes() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [rolled(rel(&v1, 1, 0)), rel(&v2, 2, 100)];
        let choice = choose(&v2, &releases, &[], at(104));
        assert_eq!(choice.current.metadata.name, "web-2");
        assert_eq!(choice.recheck_after, Some(Duration::from_secs(7)));
        assert!(choice.marks.is_empty());
    }

    #[test]
    fn a_release_whose_replicas_all_became_ready_is_marked_rolled_out() {
        let v1 = app("hello:1");
        let r1 = rel(&v1, 1, 0);
        let instances = ready_instances(&v1, &r1, 2);
        let choice = choose(&v1, &[r1], &refs(&instances), at(500));
        assert_eq!(choice.state, State::Current);
        assert_eq!(choice.marks.len(), 1);
        assert!(marks::has_rolled_out(&choice.marks[0]));
        assert_eq!(choice.recheck_after, None);
    }

    #[test]
    fn past_its_deadline_a_release_is_failed_and_the_last_rolled_out_one_is_current() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [rolled(rel(&v1, 1, 0)), rel(&v2, 2, 100)];
        let old = ready_instances(&v1, &releases[0], 2);
        let on_time = choose(&v2, &releases, &refs(&old), at(110));
        assert_eq!(
            on_time.current.metadata.name, "web-2",
            "not before 10 s have passed"
        );
        let late = choose(&v2, &releases, &refs(&old), at(111));
        assert_eq!(late.current.metadata.name, "web-1");
        let message = "release web-2 (revision 2) was not available within 10 s (0/2 replicas \
                       ready); rolled back to release web-1 (revision 1)";
        assert_eq!(
            late.state,
            State::RolledBack {
                message: message.into()
            }
        );
        assert_eq!(late.marks.len(), 1);
        assert_eq!(marks::failure(&late.marks[0]), Some(message));
        assert!(!late.create);
    }

    #[test]
    fn a_failed_release_stays_rolled_back_and_is_never_retried() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let failed = marks::failed(&rel(&v2, 2, 100), "it failed".into(), "t");
        let releases = [rolled(rel(&v1, 1, 0)), failed];
        for later in [200, 5_000, 90_000] {
            let choice = choose(&v2, &releases, &[], at(later));
            assert!(!choice.create && choice.marks.is_empty());
            assert_eq!(choice.current.metadata.name, "web-1");
            let message = "it failed".to_owned();
            assert_eq!(choice.state, State::RolledBack { message });
            assert_eq!(choice.recheck_after, None);
        }
    }

    #[test]
    fn a_restart_of_a_failed_spec_tries_it_again_as_a_new_release() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let failed = marks::failed(&rel(&v2, 2, 100), "it failed".into(), "t");
        let mut restarted = v2.clone();
        restarted
            .metadata
            .annotations
            .insert(objects::RESTARTED_AT.into(), "later".into());
        let choice = choose(&restarted, &[rolled(rel(&v1, 1, 0)), failed], &[], at(300));
        assert!(choice.create);
        assert_eq!(choice.current.spec.revision, 3);
        assert_eq!(choice.state, State::Current);
    }

    #[test]
    fn the_rollback_skips_releases_that_never_rolled_out_or_failed() {
        let (v1, v2, v3, v4) = (
            app("hello:1"),
            app("hello:2"),
            app("hello:3"),
            app("hello:4"),
        );
        let releases = [
            rolled(rel(&v1, 1, 0)),
            marks::failed(&rolled(rel(&v2, 2, 10)), "failed".into(), "t"),
            rel(&v3, 3, 20),
            rel(&v4, 4, 30),
        ];
        let choice = choose(&v4, &releases, &[], at(60));
        assert_eq!(choice.current.metadata.name, "web-1");
    }

    #[test]
    fn the_rollback_never_goes_to_an_earlier_release_of_the_failed_spec() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [
            rolled(rel(&v2, 1, 0)),
            rolled(rel(&v1, 2, 10)),
            rel(&v2, 3, 20),
        ];
        let choice = choose(&v2, &releases, &[], at(60));
        assert_eq!(choice.current.metadata.name, "web-2");
    }

    #[test]
    fn with_nothing_to_go_back_to_a_late_release_stays_and_says_so() {
        let v1 = app("hello:1");
        let choice = choose(&v1, &[rel(&v1, 1, 0)], &[], at(60));
        assert_eq!(choice.current.metadata.name, "web-1");
        assert!(choice.marks.is_empty(), "nothing is marked failed");
        let State::Stalled { message } = choice.state else {
            panic!("stalled expected, got {:?}", choice.state)
        };
        assert!(
            message.ends_with("no earlier release ever was to roll back to"),
            "{message}"
        );
    }

    #[test]
    fn a_release_that_rolled_out_once_is_never_rolled_back() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [rolled(rel(&v1, 1, 0)), rolled(rel(&v2, 2, 100))];
        let choice = choose(&v2, &releases, &[], at(10_000));
        assert_eq!(choice.current.metadata.name, "web-2");
        assert_eq!((choice.state, choice.recheck_after), (State::Current, None));
    }

    #[test]
    fn instances_of_an_earlier_release_with_the_same_hash_count_for_the_new_one() {
        let (v1, v2) = (app("hello:1"), app("hello:2"));
        let releases = [
            rolled(rel(&v1, 1, 0)),
            marks::failed(&rel(&v2, 2, 10), "failed".into(), "t"),
            rel(&v1, 3, 30),
        ];
        let instances = ready_instances(&v1, &releases[0], 2);
        let choice = choose(&v1, &releases, &refs(&instances), at(31));
        assert_eq!(choice.current.metadata.name, "web-3");
        assert!(marks::has_rolled_out(&choice.marks[0]));
    }
}
