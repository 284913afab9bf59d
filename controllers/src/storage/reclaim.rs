//! What deleting a Volume does next, a pure function of (Volume, the Instances mounting it,
//! its final Snapshot): wait while instances mount it; with `reclaimPolicy: Snapshot`, take a
//! final Snapshot and wait for it to be Ready; then remove the volume from its node, keeping the
//! data for `Retain`.

use minicloud_manifests::{ReclaimPolicy, Snapshot, SnapshotPhase, Volume};

use super::names;

/// The next step of a deleted Volume's release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reclaim {
    /// Wait: instances still mount it, or the final snapshot is not Ready; the message says.
    Wait(String),
    /// Create the final Snapshot of this name.
    TakeFinal(String),
    /// Remove the volume from `node` (none: it was never provisioned), deleting its data
    /// unless `keep_data`.
    Remove {
        /// Its node.
        node: Option<String>,
        /// Whether the data stays for a later Volume of the same name.
        keep_data: bool,
    },
}

/// The next step for the deleted `volume`, mounted by the Instances named in `users`, whose
/// final Snapshot (with `reclaimPolicy: Snapshot`) is `final_snapshot`.
pub fn reclaim(volume: &Volume, users: &[String], final_snapshot: Option<&Snapshot>) -> Reclaim {
    let name = &volume.metadata.name;
    if !users.is_empty() {
        return Reclaim::Wait(format!(
            "Volume {name:?} is deleted but still mounted by {}; delete the Apps mounting it \
             first — it is released once none does",
            users.join(", ")
        ));
    }
    let node = volume.status.as_ref().and_then(|s| s.node.clone());
    let policy = volume.spec.reclaim_policy;
    if policy == ReclaimPolicy::Snapshot && node.is_some() {
        let wanted = names::final_snapshot(volume);
        let Some(snapshot) = final_snapshot else {
            return Reclaim::TakeFinal(wanted);
        };
        let status = snapshot.status.clone().unwrap_or_default();
        match status.phase {
            SnapshotPhase::Ready => {}
            SnapshotPhase::Failed => {
                return Reclaim::Wait(format!(
                    "the final Snapshot {wanted:?} failed ({}); delete that Snapshot to take \
                     another",
                    status.message
                ));
            }
            phase => {
                return Reclaim::Wait(format!(
                    "taking the final Snapshot {wanted:?} (it is {phase:?}) before the data is deleted"
                ));
            }
        }
    }
    Reclaim::Remove {
        node,
        keep_data: policy == ReclaimPolicy::Retain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    fn deleted(policy: ReclaimPolicy) -> Volume {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.metadata.deletion_timestamp = Some("2024-01-01T00:00:00Z".into());
        volume.spec.reclaim_policy = policy;
        volume
    }

    #[test]
    fn a_mounted_volume_waits_for_its_users_to_go() {
        let users = ["web-1".to_string(), "web-2".to_string()];
        assert_eq!(
            reclaim(&deleted(ReclaimPolicy::Delete), &users, None),
            Reclaim::Wait(
                "Volume \"data\" is deleted but still mounted by web-1, web-2; delete the Apps \
                 mounting it first — it is released once none does"
                    .into()
            )
        );
    }

    #[test]
    fn delete_removes_the_data_and_retain_keeps_it() {
        assert_eq!(
            reclaim(&deleted(ReclaimPolicy::Delete), &[], None),
            Reclaim::Remove {
                node: Some("node-a".into()),
                keep_data: false
            }
        );
        assert_eq!(
            reclaim(&deleted(ReclaimPolicy::Retain), &[], None),
            Reclaim::Remove {
                node: Some("node-a".into()),
                keep_data: true
            }
        );
    }

    #[test]
    fn snapshot_takes_a_final_snapshot_and_removes_the_data_once_it_is_ready() {
        let volume = deleted(ReclaimPolicy::Snapshot);
        let name = names::final_snapshot(&volume);
        assert_eq!(
            reclaim(&volume, &[], None),
            Reclaim::TakeFinal(name.clone())
        );
        let mut taking = fixtures::ready_snapshot(&name, "data");
        taking.status.as_mut().unwrap().phase = SnapshotPhase::Taking;
        assert!(
            matches!(reclaim(&volume, &[], Some(&taking)), Reclaim::Wait(m) if m.contains("Taking"))
        );
        let ready = fixtures::ready_snapshot(&name, "data");
        assert_eq!(
            reclaim(&volume, &[], Some(&ready)),
            Reclaim::Remove {
                node: Some("node-a".into()),
                keep_data: false
            }
        );
    }

    #[test]
    fn a_volume_never_provisioned_just_goes() {
        let mut volume = deleted(ReclaimPolicy::Snapshot);
        volume.status = None;
        assert_eq!(
            reclaim(&volume, &[], None),
            Reclaim::Remove {
                node: None,
                keep_data: false
            }
        );
    }
}
