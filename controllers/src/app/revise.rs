//! The App changes behind `mini rollout undo` and `mini restart`, pure functions the CLI applies
//! (as a compare-and-swap on the App it read):
//!
//! - undo puts an earlier Release's spec back on the App — its template and its restart
//!   annotation; `replicas` and `update` stay, since scaling is no part of a Release. The App
//!   then asks for a spec whose hash an earlier Release has, and the app controller makes the
//!   next revision of it, keeping every Instance that already runs it.
//! - restart sets the restart annotation to the time of the restart, which changes the release
//!   hash and so rolls every Instance to a new Release of the same spec — also the way to try
//!   a rolled-back spec again.

use std::time::SystemTime;

use minicloud_manifests::{App, Release};

use super::marks::is_failed;
use super::objects::RESTARTED_AT;
use super::rollout;

/// Why there is no Release to go back to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UndoError {
    /// The App has no Releases yet.
    #[error("app/{app} has no releases yet")]
    NoReleases {
        /// The App's name.
        app: String,
    },
    /// Every earlier Release has the latest one's spec, or failed.
    #[error(
        "app/{app} has no earlier release to go back to; `mini rollout history {app}` lists them"
    )]
    NothingEarlier {
        /// The App's name.
        app: String,
    },
    /// The revision asked for does not exist.
    #[error("app/{app} has no revision {revision}; `mini rollout history {app}` lists them")]
    NoSuchRevision {
        /// The App's name.
        app: String,
        /// The revision asked for.
        revision: u64,
    },
}

/// The Release `mini rollout undo` goes back to: revision `to_revision` when given, else the
/// newest Release before the latest one that did not fail and differs from it.
pub fn undo_target<'a>(
    app: &App,
    releases: &'a [Release],
    to_revision: Option<u64>,
) -> Result<&'a Release, UndoError> {
    let name = app.metadata.name.clone();
    let owned = rollout::owned(app, releases);
    if let Some(revision) = to_revision {
        return owned
            .into_iter()
            .find(|r| r.spec.revision == revision)
            .ok_or(UndoError::NoSuchRevision {
                app: name,
                revision,
            });
    }
    let latest = owned
        .iter()
        .copied()
        .max_by_key(|r| r.spec.revision)
        .ok_or_else(|| UndoError::NoReleases { app: name.clone() })?;
    owned
        .iter()
        .copied()
        .filter(|r| r.spec.revision < latest.spec.revision)
        .filter(|r| r.spec.spec_hash != latest.spec.spec_hash && !is_failed(r))
        .max_by_key(|r| r.spec.revision)
        .ok_or(UndoError::NothingEarlier { app: name })
}

/// `app` asking for `release`'s spec again, with its own `replicas` and `update`.
pub fn with_release(app: &App, release: &Release) -> App {
    let mut app = app.clone();
    let mut spec = release.spec.app_spec.clone();
    spec.replicas = app.spec.replicas;
    spec.update = app.spec.update.clone();
    app.spec = spec;
    let annotations = &mut app.metadata.annotations;
    match release.metadata.annotations.get(RESTARTED_AT) {
        Some(at) => annotations.insert(RESTARTED_AT.into(), at.clone()),
        None => annotations.remove(RESTARTED_AT),
    };
    app
}

/// `app` restarted at `at`: every Instance is replaced, in a rolling update.
pub fn restarted(app: &App, at: SystemTime) -> App {
    let mut app = app.clone();
    let at = humantime::format_rfc3339_millis(at).to_string();
    app.metadata.annotations.insert(RESTARTED_AT.into(), at);
    app
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::app::marks;
    use crate::app::objects::{release, release_hash};
    use crate::fixtures::app;
    use minicloud_manifests::UpdateStrategy;

    fn rel(app: &App, revision: u64) -> Release {
        release(app, revision, &release_hash(app))
    }

    #[test]
    fn undo_goes_to_the_newest_earlier_release_with_another_spec_that_did_not_fail() {
        let (v1, v2, v3) = (app("hello:1", 1), app("hello:2", 1), app("hello:3", 1));
        let releases = [
            rel(&v1, 1),
            rel(&v2, 2),
            marks::failed(&rel(&v3, 3), "failed".into(), "t"),
            rel(&v2, 4),
        ];
        let target = undo_target(&v2, &releases, None).unwrap();
        assert_eq!(target.metadata.name, "web-1");
        let asked = undo_target(&v2, &releases, Some(3)).unwrap();
        assert_eq!(
            asked.metadata.name, "web-3",
            "a revision asked for is taken as it is"
        );
    }

    #[test]
    fn undo_says_when_there_is_nowhere_to_go() {
        let v1 = app("hello:1", 1);
        assert_eq!(
            undo_target(&v1, &[], None),
            Err(UndoError::NoReleases { app: "web".into() })
        );
        let only = [rel(&v1, 1)];
        let error = undo_target(&v1, &only, None).unwrap_err();
        assert_eq!(error, UndoError::NothingEarlier { app: "web".into() });
        assert!(error.to_string().contains("mini rollout history web"));
        assert_eq!(
            undo_target(&v1, &only, Some(7)),
            Err(UndoError::NoSuchRevision {
                app: "web".into(),
                revision: 7
            })
        );
    }

    #[test]
    fn the_undone_app_has_the_releases_hash_and_keeps_its_scale_and_strategy() {
        let mut v1 = app("hello:1", 1);
        v1.metadata
            .annotations
            .insert(RESTARTED_AT.into(), "then".into());
        let r1 = rel(&v1, 1);
        let mut now = app("hello:2", 5);
        now.spec.update = Some(UpdateStrategy {
            max_surge: Some(2),
            ..UpdateStrategy::default()
        });
        let undone = with_release(&now, &r1);
        assert_eq!(release_hash(&undone), r1.spec.spec_hash);
        assert_eq!(undone.spec.image.as_deref(), Some("hello:1"));
        assert_eq!(undone.spec.replicas, Some(5));
        assert_eq!(undone.spec.update, now.spec.update);
        let plain = with_release(&undone, &rel(&now, 2));
        assert!(!plain.metadata.annotations.contains_key(RESTARTED_AT));
    }

    #[test]
    fn a_restart_changes_the_release_hash_and_nothing_else() {
        let v1 = app("hello:1", 3);
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        let restarted = restarted(&v1, at);
        assert_eq!(
            restarted.metadata.annotations[RESTARTED_AT],
            "2023-11-14T22:13:20.250Z"
        );
        assert_eq!(restarted.spec, v1.spec);
        assert_ne!(release_hash(&restarted), release_hash(&v1));
    }
}
