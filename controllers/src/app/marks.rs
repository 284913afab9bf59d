//! What a Release's status records about how its rollout went: `RolledOut` once every replica
//! of it was ready (it is a release worth going back to), `Failed` once it missed its progress
//! deadline and the App was rolled back from it (it is never tried again for the same spec).
//! Both are written once and never cleared; the spec of a Release never changes.

use minicloud_manifests::{BasicStatus, ConditionStatus, Release};

use crate::condition::{self, Decided};

/// Condition type on a Release whose replicas were all ready at some point.
pub const ROLLED_OUT: &str = "RolledOut";
/// Condition type on a Release the App was rolled back from.
pub const FAILED: &str = "Failed";
/// Reason of [`ROLLED_OUT`].
const ALL_REPLICAS_READY: &str = "AllReplicasReady";
/// Reason of [`FAILED`] (and of the App's Progressing condition when it cannot roll back).
pub const DEADLINE_EXCEEDED: &str = "ProgressDeadlineExceeded";

/// Whether the App was rolled back from `release`.
pub fn is_failed(release: &Release) -> bool {
    holds(release, FAILED)
}

/// Whether every replica of `release` was ready at some point.
pub fn has_rolled_out(release: &Release) -> bool {
    holds(release, ROLLED_OUT)
}

/// Why the App was rolled back from `release`, when it was.
pub fn failure(release: &Release) -> Option<&str> {
    let status = release.status.as_ref()?;
    condition::find(&status.conditions, FAILED)
        .filter(|c| c.status == ConditionStatus::True)
        .map(|c| c.message.as_str())
}

/// `release` with `RolledOut` recorded, stamped `now`.
pub fn rolled_out(release: &Release, message: String, now: &str) -> Release {
    marked(
        release,
        Decided::yes(ROLLED_OUT, ALL_REPLICAS_READY, message),
        now,
    )
}

/// `release` with `Failed` recorded, stamped `now`.
pub fn failed(release: &Release, message: String, now: &str) -> Release {
    marked(
        release,
        Decided::yes(FAILED, DEADLINE_EXCEEDED, message),
        now,
    )
}

fn holds(release: &Release, type_: &str) -> bool {
    release.status.as_ref().is_some_and(|status| {
        condition::find(&status.conditions, type_)
            .is_some_and(|c| c.status == ConditionStatus::True)
    })
}

fn marked(release: &Release, decided: Decided, now: &str) -> Release {
    let mut release = release.clone();
    let status = release.status.get_or_insert_with(BasicStatus::default);
    status.observed_generation = release.metadata.generation;
    condition::set(&mut status.conditions, decided, now);
    release
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicloud_manifests::{AppSpec, ObjectMeta, ReleaseSpec};

    fn release() -> Release {
        let spec = ReleaseSpec {
            app: "web".into(),
            revision: 2,
            spec_hash: "h".into(),
            app_spec: AppSpec::default(),
            image_digest: None,
        };
        Release::new(ObjectMeta::named("web-2", Some("acme")), spec)
    }

    #[test]
    fn a_new_release_is_neither_rolled_out_nor_failed() {
        let release = release();
        assert!(!has_rolled_out(&release) && !is_failed(&release));
        assert_eq!(failure(&release), None);
    }

    #[test]
    fn marks_are_recorded_with_their_message_and_time() {
        let release = failed(&release(), "rolled back to web-1".into(), "t1");
        assert!(is_failed(&release) && !has_rolled_out(&release));
        assert_eq!(failure(&release), Some("rolled back to web-1"));
        let condition = &release.status.as_ref().unwrap().conditions[0];
        assert_eq!(condition.reason, DEADLINE_EXCEEDED);
        assert_eq!(condition.last_transition_time.as_deref(), Some("t1"));
        let release = rolled_out(&release, "3/3 replicas ready".into(), "t2");
        assert!(has_rolled_out(&release) && is_failed(&release));
    }
}
