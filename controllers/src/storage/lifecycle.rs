//! The volume controller's part of a Volume's status between the bigger steps, a pure
//! function: `Pending` until node sync reports it provisioned (its `Ready` condition), then
//! `Ready`; a volume filled from `fromSnapshot` records that as its first restore; instances
//! mounting it again after a restore are announced (`InstancesStarted`).

use minicloud_manifests::{ConditionStatus, RestoreRequest, Volume, VolumePhase, VolumeStatus};

use super::events;
use super::restore::{started_again, wanted};
use crate::condition;

/// `volume`'s status with the phase settled from what node sync observed, at `now`.
pub fn settle(volume: &Volume, now: &str) -> VolumeStatus {
    let mut status = volume.status.clone().unwrap_or_default();
    status.observed_generation = volume.metadata.generation;
    if matches!(
        status.phase,
        VolumePhase::Restoring | VolumePhase::Releasing
    ) {
        return status;
    }
    let ready = condition::find(&status.conditions, "Ready");
    match ready {
        Some(c) if c.status == ConditionStatus::True => {
            status.phase = VolumePhase::Ready;
            if wanted(volume).is_none() {
                status.message.clear();
            }
        }
        Some(c) => {
            status.phase = VolumePhase::Pending;
            status.message = c.message.clone();
        }
        None => status.phase = VolumePhase::Pending,
    }
    let filled_from = volume
        .spec
        .from_snapshot
        .as_ref()
        .filter(|_| status.restored.is_none());
    if let (VolumePhase::Ready, Some(snapshot)) = (status.phase, filled_from) {
        status.restored = Some(RestoreRequest {
            snapshot: snapshot.clone(),
            requested_at: volume
                .metadata
                .creation_timestamp
                .clone()
                .unwrap_or_default(),
        });
        let message = format!("created from Snapshot {snapshot}");
        events::push(&mut status.events, "Restored", message, now);
    }
    let announced = Volume {
        status: Some(status.clone()),
        ..volume.clone()
    };
    if let Some(message) = started_again(&announced) {
        events::push(&mut status.events, "InstancesStarted", message, now);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::Decided;
    use crate::fixtures;

    fn reported(ready: bool, message: &str) -> Volume {
        let mut volume = fixtures::bound_volume("data", "node-a");
        let status = volume.status.as_mut().unwrap();
        status.phase = VolumePhase::Pending;
        let decided = match ready {
            true => Decided::yes("Ready", "Provisioned", message),
            false => Decided::no("Ready", "Provisioning", message),
        };
        condition::set(&mut status.conditions, decided, "t0");
        volume
    }

    #[test]
    fn a_provisioned_volume_is_ready_and_an_unprovisioned_one_pending_with_why() {
        assert_eq!(
            settle(&reported(true, "on node-a"), "t").phase,
            VolumePhase::Ready
        );
        let pending = settle(&reported(false, "being created on node node-a"), "t");
        assert_eq!(pending.phase, VolumePhase::Pending);
        assert_eq!(pending.message, "being created on node node-a");
    }

    #[test]
    fn a_volume_filled_from_a_snapshot_records_it_as_restored_once() {
        let mut volume = reported(true, "");
        volume.spec.from_snapshot = Some("nightly".into());
        let status = settle(&volume, "t1");
        assert_eq!(
            status.restored.as_ref().map(|r| r.snapshot.as_str()),
            Some("nightly")
        );
        assert_eq!(status.events.len(), 1);
        volume.status = Some(status.clone());
        assert_eq!(settle(&volume, "t2"), status);
    }

    #[test]
    fn restoring_and_releasing_volumes_keep_their_phase() {
        let mut volume = reported(true, "");
        volume.status.as_mut().unwrap().phase = VolumePhase::Restoring;
        assert_eq!(settle(&volume, "t").phase, VolumePhase::Restoring);
    }
}
