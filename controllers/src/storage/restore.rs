//! An in-place restore's next step, a pure function of (Volume, the tenant's Snapshots, the
//! Instances mounting it, whether its node still shows a container mounting it): a new
//! `spec.restore` from a Ready Snapshot stops every instance mounting the volume (phase
//! `Restoring`), restores once none mounts it, and lets them start again; one from a Snapshot
//! that is missing or not Ready changes nothing but says why.

use minicloud_manifests::{RestoreRequest, Snapshot, SnapshotPhase, Volume, VolumePhase};
use minicloud_proto::v1::SnapshotArchive;

use super::events::last_reason;

/// What an asked-for restore does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreStep {
    /// No restore is asked for.
    Idle,
    /// It cannot start; the volume stays as it is, for this reason.
    Refuse(String),
    /// Enter `Restoring`, stopping these Instances.
    Stop(Vec<String>),
    /// Wait for the node to show no container mounting the volume.
    WaitForStop,
    /// Restore the volume from this archive.
    Restore(SnapshotArchive),
    /// The request was withdrawn while Restoring: back to Ready, nothing restored.
    Cancel,
}

/// The restore `volume` asks for and has not had yet.
pub fn wanted(volume: &Volume) -> Option<&RestoreRequest> {
    let restored = volume.status.as_ref().and_then(|s| s.restored.as_ref());
    volume
        .spec
        .restore
        .as_ref()
        .filter(|r| Some(*r) != restored)
}

/// The next step for `volume`, with `users` the Instances mounting it and `mounted` whether its
/// node still shows a container mounting it.
pub fn step(
    volume: &Volume,
    snapshots: &[Snapshot],
    users: &[String],
    mounted: bool,
) -> RestoreStep {
    let phase = volume.status.as_ref().map(|s| s.phase).unwrap_or_default();
    let Some(request) = wanted(volume) else {
        return match phase {
            VolumePhase::Restoring => RestoreStep::Cancel,
            _ => RestoreStep::Idle,
        };
    };
    if phase == VolumePhase::Restoring {
        return match mounted {
            true => RestoreStep::WaitForStop,
            false => match archive(volume, snapshots, &request.snapshot) {
                Ok(archive) => RestoreStep::Restore(archive),
                Err(why) => RestoreStep::Refuse(why),
            },
        };
    }
    if phase != VolumePhase::Ready {
        return RestoreStep::Idle;
    }
    match archive(volume, snapshots, &request.snapshot) {
        Ok(_) => RestoreStep::Stop(users.to_vec()),
        Err(why) => RestoreStep::Refuse(why),
    }
}

fn archive(volume: &Volume, snapshots: &[Snapshot], name: &str) -> Result<SnapshotArchive, String> {
    let tenant = volume.metadata.tenant.as_deref();
    let found = snapshots
        .iter()
        .find(|s| s.metadata.name == name && s.metadata.tenant.as_deref() == tenant);
    let cannot = format!(
        "cannot restore Volume {:?} from Snapshot {name:?}",
        volume.metadata.name
    );
    let Some(snapshot) = found else {
        return Err(format!(
            "{cannot}: it does not exist; nothing was stopped — name an existing Snapshot in \
             spec.restore"
        ));
    };
    let status = snapshot.status.clone().unwrap_or_default();
    if status.phase != SnapshotPhase::Ready {
        return Err(format!(
            "{cannot}: it is {:?}, not Ready; nothing was stopped — ask again once it is Ready",
            status.phase
        ));
    }
    Ok(SnapshotArchive {
        location: status.location,
        sha256: status.sha256,
    })
}

/// The message of the `InstancesStarted` event due now: the instances mount the volume again
/// after the last restore, and no such event followed it yet.
pub fn started_again(volume: &Volume) -> Option<String> {
    let status = volume.status.as_ref()?;
    let restored = status.restored.as_ref()?;
    if volume.spec.restore.as_ref() != Some(restored) {
        return None;
    }
    let after_restore = last_reason(&status.events) == Some("Restored");
    let users: Vec<&str> = status
        .mounted_by
        .iter()
        .map(|u| u.instance.as_str())
        .collect();
    (after_restore && !users.is_empty() && status.phase == VolumePhase::Ready).then(|| {
        format!(
            "started {} again after the restore from {}",
            users.join(", "),
            restored.snapshot
        )
    })
}

#[cfg(test)]
mod tests {
    use minicloud_manifests::{VolumeEvent, VolumeUser};

    use super::*;
    use crate::fixtures;

    fn asking(snapshot: &str) -> Volume {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.spec.restore = Some(RestoreRequest {
            snapshot: snapshot.into(),
            requested_at: "2024-01-02T00:00:00Z".into(),
        });
        volume
    }

    fn users() -> Vec<String> {
        vec!["web-1".into(), "web-2".into()]
    }

    #[test]
    fn a_restore_from_a_ready_snapshot_stops_the_users_first() {
        let snapshots = [fixtures::ready_snapshot("nightly", "data")];
        assert_eq!(
            step(&asking("nightly"), &snapshots, &users(), true),
            RestoreStep::Stop(users())
        );
    }

    #[test]
    fn while_restoring_it_waits_for_the_containers_then_restores() {
        let snapshots = [fixtures::ready_snapshot("nightly", "data")];
        let mut volume = asking("nightly");
        volume.status.as_mut().unwrap().phase = VolumePhase::Restoring;
        assert_eq!(
            step(&volume, &snapshots, &users(), true),
            RestoreStep::WaitForStop
        );
        let status = snapshots[0].status.clone().unwrap();
        assert_eq!(
            step(&volume, &snapshots, &[], false),
            RestoreStep::Restore(SnapshotArchive {
                location: status.location,
                sha256: status.sha256
            })
        );
    }

    #[test]
    fn a_missing_or_unready_snapshot_is_refused_without_stopping_anything() {
        assert_eq!(
            step(&asking("nope"), &[], &users(), true),
            RestoreStep::Refuse(
                "cannot restore Volume \"data\" from Snapshot \"nope\": it does not exist; nothing \
                 was stopped — name an existing Snapshot in spec.restore"
                    .into()
            )
        );
        let mut taking = fixtures::ready_snapshot("nightly", "data");
        taking.status.as_mut().unwrap().phase = SnapshotPhase::Taking;
        assert!(matches!(
            step(&asking("nightly"), &[taking], &users(), true),
            RestoreStep::Refuse(m) if m.contains("it is Taking, not Ready")
        ));
    }

    #[test]
    fn a_restore_done_or_withdrawn_needs_nothing_more() {
        let mut done = asking("nightly");
        done.status.as_mut().unwrap().restored = done.spec.restore.clone();
        assert_eq!(step(&done, &[], &[], false), RestoreStep::Idle);
        let mut withdrawn = fixtures::bound_volume("data", "node-a");
        withdrawn.status.as_mut().unwrap().phase = VolumePhase::Restoring;
        assert_eq!(step(&withdrawn, &[], &[], false), RestoreStep::Cancel);
    }

    #[test]
    fn instances_mounting_it_again_after_a_restore_are_announced_once() {
        let mut volume = asking("nightly");
        let status = volume.status.as_mut().unwrap();
        status.restored = volume.spec.restore.clone();
        status.events.push(VolumeEvent {
            time: "t".into(),
            reason: "Restored".into(),
            message: "from nightly (1024 bytes)".into(),
        });
        assert_eq!(started_again(&volume), None, "nothing mounts it yet");
        let status = volume.status.as_mut().unwrap();
        status.mounted_by.push(VolumeUser {
            app: "web".into(),
            instance: "web-1".into(),
            read_only: false,
        });
        assert_eq!(
            started_again(&volume).as_deref(),
            Some("started web-1 again after the restore from nightly")
        );
        volume.status.as_mut().unwrap().events.push(VolumeEvent {
            time: "t".into(),
            reason: "InstancesStarted".into(),
            message: String::new(),
        });
        assert_eq!(started_again(&volume), None);
    }
}
