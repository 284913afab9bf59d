//! What node sync provisions for a Volume bound to its node, a pure function of (Volume,
//! the tenant's Snapshots): its size (a larger spec grows it online), the group owning its root
//! (`securityContext.fsGroup`, 65534 when absent) and, for a new volume with `fromSnapshot`,
//! the archive to fill it from — held back with a message while that Snapshot is not Ready.

use minicloud_manifests::{Snapshot, SnapshotPhase, Volume};
use minicloud_proto::v1::SnapshotArchive;

use crate::nodesync::DesiredVolume;

/// The group owning a volume's root directory when its spec names none (`nogroup`).
pub const DEFAULT_FS_GROUP: u32 = 65534;

/// The volume node sync ensures for `volume`, or why it is held back.
pub fn provision(volume: &Volume, snapshots: &[Snapshot]) -> Result<DesiredVolume, String> {
    let status = volume.status.clone().unwrap_or_default();
    let fs_group = volume
        .spec
        .security_context
        .and_then(|c| c.fs_group)
        .unwrap_or(DEFAULT_FS_GROUP);
    let already_filled = status.size_bytes > 0 || status.restored.is_some();
    let from_snapshot = match &volume.spec.from_snapshot {
        Some(name) if !already_filled => Some(archive_of(volume, name, snapshots)?),
        _ => None,
    };
    Ok(DesiredVolume {
        size_bytes: volume.spec.size.get(),
        provisioned_bytes: status.size_bytes,
        fs_group,
        from_snapshot,
    })
}

/// The archive of Snapshot `name`, once it is Ready.
fn archive_of(
    volume: &Volume,
    name: &str,
    snapshots: &[Snapshot],
) -> Result<SnapshotArchive, String> {
    let tenant = volume.metadata.tenant.as_deref().unwrap_or_default();
    let waits = format!(
        "Volume {:?} waits for Snapshot {name:?} (spec.fromSnapshot)",
        volume.metadata.name
    );
    let found = snapshots
        .iter()
        .find(|s| s.metadata.name == name && s.metadata.tenant.as_deref() == Some(tenant));
    let Some(snapshot) = found else {
        return Err(format!(
            "{waits}, which does not exist in tenant {tenant:?}; create it or remove spec.fromSnapshot"
        ));
    };
    let status = snapshot.status.clone().unwrap_or_default();
    match status.phase {
        SnapshotPhase::Ready => Ok(SnapshotArchive {
            location: status.location,
            sha256: status.sha256,
        }),
        SnapshotPhase::Failed => Err(format!(
            "{waits}, which failed ({}); point spec.fromSnapshot at a Ready snapshot",
            status.message
        )),
        phase => Err(format!("{waits} to be Ready; it is {phase:?}")),
    }
}

#[cfg(test)]
mod tests {
    use minicloud_manifests::{Bytes, VolumeSecurityContext};

    use super::*;
    use crate::fixtures;

    #[test]
    fn a_plain_volume_is_provisioned_at_its_size_owned_by_nogroup() {
        let wanted = provision(&fixtures::volume("data"), &[]).unwrap();
        assert_eq!(wanted.size_bytes, 1 << 30);
        assert_eq!(wanted.provisioned_bytes, 0);
        assert_eq!(wanted.fs_group, DEFAULT_FS_GROUP);
        assert_eq!(wanted.from_snapshot, None);
    }

    #[test]
    fn the_fs_group_and_a_larger_size_come_from_the_spec() {
        let mut volume = fixtures::bound_volume("data", "node-a");
        volume.spec.size = Bytes::gibibytes(2);
        volume.spec.security_context = Some(VolumeSecurityContext {
            fs_group: Some(1000),
        });
        let wanted = provision(&volume, &[]).unwrap();
        assert_eq!(
            (wanted.size_bytes, wanted.provisioned_bytes),
            (2 << 30, 1 << 30)
        );
        assert_eq!(wanted.fs_group, 1000);
    }

    #[test]
    fn a_new_volume_from_a_ready_snapshot_is_filled_from_its_archive() {
        let mut volume = fixtures::volume("copy");
        volume.spec.from_snapshot = Some("nightly".into());
        let snapshot = fixtures::ready_snapshot("nightly", "data");
        let wanted = provision(&volume, std::slice::from_ref(&snapshot)).unwrap();
        let status = snapshot.status.unwrap();
        assert_eq!(
            wanted.from_snapshot,
            Some(SnapshotArchive {
                location: status.location,
                sha256: status.sha256
            })
        );
    }

    #[test]
    fn a_volume_waits_while_its_snapshot_is_missing_or_not_ready() {
        let mut volume = fixtures::volume("copy");
        volume.spec.from_snapshot = Some("nightly".into());
        assert_eq!(
            provision(&volume, &[]).unwrap_err(),
            "Volume \"copy\" waits for Snapshot \"nightly\" (spec.fromSnapshot), which does not \
             exist in tenant \"acme\"; create it or remove spec.fromSnapshot"
        );
        let mut taking = fixtures::ready_snapshot("nightly", "data");
        taking.status.as_mut().unwrap().phase = SnapshotPhase::Taking;
        assert_eq!(
            provision(&volume, &[taking]).unwrap_err(),
            "Volume \"copy\" waits for Snapshot \"nightly\" (spec.fromSnapshot) to be Ready; it is Taking"
        );
    }

    #[test]
    fn a_filled_volume_no_longer_needs_its_snapshot() {
        let mut volume = fixtures::bound_volume("copy", "node-a");
        volume.spec.from_snapshot = Some("deleted-since".into());
        assert_eq!(provision(&volume, &[]).unwrap().from_snapshot, None);
    }
}
