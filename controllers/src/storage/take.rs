//! A Snapshot's next step, pure functions of (Snapshot, its Volume, now): take it on its
//! volume's node once the volume is Ready, again when an attempt failed (with a growing delay,
//! up to [`MAX_ATTEMPTS`]) or when a controller restart cut it off while Taking (the agent
//! publishes an archive only once it is complete, so a cut-off attempt left nothing behind);
//! fail when the volume does not exist.
//!
//! A controller taking a snapshot holds a claim on it — the `Claimed` condition, naming the
//! controller process, its time renewed every [`CLAIM_RENEW`] while the archive is written —
//! so another controller leaves a Taking snapshot alone until the claim is [`CLAIM_STALE`].

use std::time::{Duration, SystemTime};

use minicloud_manifests::{
    Condition, ConditionStatus, Snapshot, SnapshotPhase, SnapshotStatus, Volume, VolumePhase,
};
use minicloud_proto::v1::SnapshotProgress;

use crate::time;

/// Attempts at taking a snapshot before it is Failed.
pub const MAX_ATTEMPTS: u32 = 3;
/// How often a controller taking a snapshot renews its claim.
pub const CLAIM_RENEW: Duration = Duration::from_secs(2);
/// How old a claim may get before another controller takes the snapshot again.
pub const CLAIM_STALE: Duration = Duration::from_secs(10);
/// The condition holding the claim.
const CLAIMED: &str = "Claimed";

/// What to do with a Snapshot now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing: it is Ready or Failed.
    Nothing,
    /// Wait for its volume, for this reason.
    Wait(String),
    /// Leave it to the controller whose claim on it is fresh for this long.
    Claimed(Duration),
    /// Mark it Failed with this message.
    Fail(String),
    /// Take it on `node`, publishing the archive at `location`.
    Take {
        /// The volume's node.
        node: String,
        /// Where the archive goes in the snapshot store.
        location: String,
    },
}

/// The next step for `snapshot`, whose volume is `volume` (`None`: it does not exist), as
/// controller `holder` sees it at `now`.
pub fn next(snapshot: &Snapshot, volume: Option<&Volume>, holder: &str, now: SystemTime) -> Next {
    let status = snapshot.status.clone().unwrap_or_default();
    if matches!(status.phase, SnapshotPhase::Ready | SnapshotPhase::Failed) {
        return Next::Nothing;
    }
    let claim = claimed_by_another(&status, holder, now);
    if let (SnapshotPhase::Taking, Some(left)) = (status.phase, claim) {
        return Next::Claimed(left);
    }
    let tenant = snapshot.metadata.tenant.as_deref().unwrap_or_default();
    let name = &snapshot.spec.volume;
    let Some(volume) = volume else {
        return Next::Fail(format!(
            "Volume {name:?} does not exist in tenant {tenant:?}; a snapshot is taken of an \
             existing volume: create it, or delete this Snapshot"
        ));
    };
    if status.attempts >= MAX_ATTEMPTS {
        return Next::Fail(format!(
            "gave up after {} attempts: {}",
            status.attempts, status.message
        ));
    }
    let volume_status = volume.status.clone().unwrap_or_default();
    let usable = matches!(
        volume_status.phase,
        VolumePhase::Ready | VolumePhase::Releasing
    );
    match volume_status.node {
        Some(node) if usable => Next::Take {
            node,
            location: location(snapshot),
        },
        _ => Next::Wait(format!(
            "waiting for Volume {name:?} to be Ready (it is {:?})",
            volume_status.phase
        )),
    }
}

/// Where the archive of `snapshot` goes: `<tenant>/<volume>/<snapshot uid>`.
pub fn location(snapshot: &Snapshot) -> String {
    let meta = &snapshot.metadata;
    format!(
        "{}/{}/{}",
        meta.tenant.as_deref().unwrap_or_default(),
        snapshot.spec.volume,
        meta.uid.as_deref().unwrap_or_default()
    )
}

/// How long the claim of another controller than `holder` stays fresh, if it does.
fn claimed_by_another(status: &SnapshotStatus, holder: &str, now: SystemTime) -> Option<Duration> {
    let claim = status.conditions.iter().find(|c| c.type_ == CLAIMED)?;
    if claim.message == holder {
        return None;
    }
    let age = claim
        .last_transition_time
        .as_deref()
        .and_then(|t| time::age(t, now))?;
    CLAIM_STALE.checked_sub(age).filter(|left| !left.is_zero())
}

/// `status` with the claim of `holder` renewed at `now`.
pub fn renew(status: &SnapshotStatus, holder: &str, now: &str) -> SnapshotStatus {
    let mut status = status.clone();
    status.conditions.retain(|c| c.type_ != CLAIMED);
    status.conditions.push(Condition {
        type_: CLAIMED.into(),
        status: ConditionStatus::True,
        reason: "Taking".into(),
        message: holder.into(),
        last_transition_time: Some(now.into()),
    });
    status
}

fn unclaimed(mut status: SnapshotStatus) -> SnapshotStatus {
    status.conditions.retain(|c| c.type_ != CLAIMED);
    status
}

/// The status of an attempt by controller `holder` starting on `node` at `now`.
pub fn taking(status: &SnapshotStatus, node: &str, holder: &str, now: &str) -> SnapshotStatus {
    let status = SnapshotStatus {
        phase: SnapshotPhase::Taking,
        node: Some(node.into()),
        attempts: status.attempts + 1,
        started_at: Some(now.into()),
        progress_bytes: 0,
        message: format!(
            "being taken on node {node} (attempt {})",
            status.attempts + 1
        ),
        ..status.clone()
    };
    renew(&status, holder, now)
}

/// The status once the agent reported the archive `done` at `now`.
pub fn ready(status: &SnapshotStatus, done: &SnapshotProgress, now: &str) -> SnapshotStatus {
    unclaimed(SnapshotStatus {
        phase: SnapshotPhase::Ready,
        location: done.location.clone(),
        size_bytes: done.archive_bytes,
        content_bytes: done.bytes_done,
        progress_bytes: 0,
        sha256: done.sha256.clone(),
        pause_millis: Some(done.pause_millis),
        completed_at: Some(now.into()),
        message: String::new(),
        ..status.clone()
    })
}

/// The status after an attempt failed with `error`: Pending again to be retried after
/// [`retry_delay`], or Failed once every attempt was made.
pub fn attempt_failed(status: &SnapshotStatus, error: &str) -> SnapshotStatus {
    let attempts = status.attempts;
    let (phase, message) = match attempts >= MAX_ATTEMPTS {
        true => (
            SnapshotPhase::Failed,
            format!("failed after {attempts} attempts: {error}"),
        ),
        false => (
            SnapshotPhase::Pending,
            format!(
                "attempt {attempts} of {MAX_ATTEMPTS} failed: {error}; trying again in {} s",
                retry_delay(attempts).as_secs()
            ),
        ),
    };
    unclaimed(SnapshotStatus {
        phase,
        message,
        progress_bytes: 0,
        ..status.clone()
    })
}

/// How long after failed attempt `attempts` the next one starts: 2 s, doubling.
pub fn retry_delay(attempts: u32) -> Duration {
    Duration::from_secs(2u64 << attempts.saturating_sub(1).min(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn next(snapshot: &Snapshot, volume: Option<&Volume>) -> Next {
        super::next(snapshot, volume, "me", now())
    }

    fn pending() -> Snapshot {
        let mut snapshot = fixtures::ready_snapshot("s1", "data");
        snapshot.status = None;
        snapshot
    }

    #[test]
    fn a_pending_snapshot_of_a_ready_volume_is_taken_on_its_node() {
        let volume = fixtures::bound_volume("data", "node-a");
        assert_eq!(
            next(&pending(), Some(&volume)),
            Next::Take {
                node: "node-a".into(),
                location: "acme/data/uid-s1".into()
            }
        );
    }

    #[test]
    fn a_snapshot_found_taking_is_taken_again_once_its_claim_is_stale() {
        let mut snapshot = pending();
        let claimed_at = time::format(now() - Duration::from_secs(3));
        let taken = taking(&SnapshotStatus::default(), "node-a", "other", &claimed_at);
        assert_eq!((taken.attempts, taken.phase), (1, SnapshotPhase::Taking));
        snapshot.status = Some(taken.clone());
        let volume = fixtures::bound_volume("data", "node-a");
        assert_eq!(
            next(&snapshot, Some(&volume)),
            Next::Claimed(Duration::from_secs(7))
        );
        let later = now() + CLAIM_STALE;
        assert!(matches!(
            super::next(&snapshot, Some(&volume), "me", later),
            Next::Take { .. }
        ));
        snapshot.status = Some(renew(&taken, "me", &claimed_at));
        assert!(
            matches!(next(&snapshot, Some(&volume)), Next::Take { .. }),
            "its own claim is from before a restart of this controller"
        );
    }

    #[test]
    fn a_snapshot_waits_for_a_pending_volume_and_fails_for_a_missing_one() {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.status.as_mut().unwrap().phase = VolumePhase::Pending;
        assert_eq!(
            next(&pending(), Some(&volume)),
            Next::Wait("waiting for Volume \"data\" to be Ready (it is Pending)".into())
        );
        assert_eq!(
            next(&pending(), None),
            Next::Fail(
                "Volume \"data\" does not exist in tenant \"acme\"; a snapshot is taken of an \
                 existing volume: create it, or delete this Snapshot"
                    .into()
            )
        );
    }

    #[test]
    fn ready_and_failed_snapshots_are_left_alone() {
        let ready = fixtures::ready_snapshot("s1", "data");
        assert_eq!(next(&ready, None), Next::Nothing);
    }

    #[test]
    fn failed_attempts_are_retried_with_growing_delays_then_the_snapshot_fails() {
        let mut status = SnapshotStatus::default();
        for attempt in 1..MAX_ATTEMPTS {
            status = attempt_failed(&taking(&status, "node-a", "me", "t"), "disk full");
            assert_eq!(status.phase, SnapshotPhase::Pending);
            assert_eq!(
                status.message,
                format!(
                    "attempt {attempt} of 3 failed: disk full; trying again in {} s",
                    retry_delay(attempt).as_secs()
                )
            );
        }
        assert_eq!((retry_delay(1).as_secs(), retry_delay(2).as_secs()), (2, 4));
        let last = attempt_failed(&taking(&status, "node-a", "me", "t"), "disk full");
        assert_eq!(last.phase, SnapshotPhase::Failed);
        assert_eq!(last.message, "failed after 3 attempts: disk full");
    }

    #[test]
    fn a_done_report_makes_it_ready_with_the_archives_numbers() {
        let done = SnapshotProgress {
            bytes_done: 1000,
            bytes_total: 1000,
            done: true,
            archive_bytes: 300,
            sha256: "ff".into(),
            pause_millis: 7,
            location: "acme/data/uid-s1".into(),
        };
        let status = ready(
            &taking(&SnapshotStatus::default(), "node-a", "me", "t1"),
            &done,
            "t2",
        );
        assert_eq!(status.phase, SnapshotPhase::Ready);
        assert_eq!((status.size_bytes, status.content_bytes), (300, 1000));
        assert_eq!(
            (status.sha256.as_str(), status.pause_millis),
            ("ff", Some(7))
        );
        assert_eq!(status.completed_at.as_deref(), Some("t2"));
        assert_eq!(status.started_at.as_deref(), Some("t1"));
        assert!(
            status.conditions.is_empty(),
            "the claim goes with the attempt"
        );
    }
}
