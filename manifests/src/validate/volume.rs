//! Rules for a Volume (its size, snapshot schedule and retention, restore requests and root
//! ownership) and for a Snapshot (the volume it names).

use super::Errors;
use super::names::name_ref;
use crate::kinds::{RestoreRequest, Snapshot, SnapshotSchedule, Volume, VolumeSecurityContext};
use crate::quantity::Bytes;

/// Smallest volume: its ext4 filesystem's own metadata and journal need room before any file.
pub(crate) const MIN_VOLUME_SIZE: Bytes = Bytes::mebibytes(16);
/// Largest volume one node is asked to provision.
pub(crate) const MAX_VOLUME_SIZE: Bytes = Bytes::gibibytes(16 * 1024);
/// Most scheduled snapshots a keep rule may keep.
pub(crate) const MAX_KEEP: u32 = 1_000;

pub(super) fn volume(errors: &mut Errors, volume: &Volume) {
    let spec = &volume.spec;
    size(errors, spec.size);
    if let Some(snapshots) = &spec.snapshots {
        schedule(errors, "spec.snapshots", snapshots);
    }
    if let Some(snapshot) = &spec.from_snapshot {
        name_ref(errors, "spec.fromSnapshot", "Snapshot", snapshot);
    }
    if let Some(restore) = &spec.restore {
        restore_request(errors, "spec.restore", restore);
    }
    if let Some(context) = &spec.security_context {
        security_context(errors, "spec.securityContext", context);
    }
}

pub(super) fn snapshot(errors: &mut Errors, snapshot: &Snapshot) {
    name_ref(errors, "spec.volume", "Volume", &snapshot.spec.volume);
}

fn size(errors: &mut Errors, size: Bytes) {
    let problem = if size == Bytes::ZERO {
        format!("a volume needs a size; give at least {MIN_VOLUME_SIZE}, like \"1Gi\"")
    } else if size < MIN_VOLUME_SIZE {
        format!(
            "{size} is too small for a volume: its ext4 filesystem needs room of its own, so \
             give at least {MIN_VOLUME_SIZE}"
        )
    } else if size > MAX_VOLUME_SIZE {
        format!("{size} is more than one volume may hold; give at most {MAX_VOLUME_SIZE}")
    } else {
        return;
    };
    errors.add("spec.size", problem);
}

fn schedule(errors: &mut Errors, path: &str, snapshots: &SnapshotSchedule) {
    if let Err(error) = snapshots.cron() {
        errors.add(format!("{path}.schedule"), error.to_string());
    }
    if let Err(error) = snapshots.zone() {
        errors.add(format!("{path}.timeZone"), error.to_string());
    }
    let keep = &snapshots.keep;
    let rules = [
        ("last", keep.last),
        ("daily", keep.daily),
        ("weekly", keep.weekly),
    ];
    for (field, count) in rules {
        if let Some(count) = count.filter(|c| !(1..=MAX_KEEP).contains(c)) {
            errors.add(
                format!("{path}.keep.{field}"),
                format!(
                    "keep {field} {count} is out of range; keep between 1 and {MAX_KEEP}, or \
                     leave the rule out"
                ),
            );
        }
    }
}

fn restore_request(errors: &mut Errors, path: &str, restore: &RestoreRequest) {
    name_ref(
        errors,
        &format!("{path}.snapshot"),
        "Snapshot",
        &restore.snapshot,
    );
    if let Err(error) = chrono::DateTime::parse_from_rfc3339(&restore.requested_at) {
        errors.add(
            format!("{path}.requestedAt"),
            format!(
                "{:?} is not an RFC 3339 timestamp ({error}); write the time of the request \
                 like \"2026-12-03T12:00:00Z\"",
                restore.requested_at
            ),
        );
    }
}

fn security_context(errors: &mut Errors, path: &str, context: &VolumeSecurityContext) {
    if context.fs_group == Some(0) {
        errors.add(
            format!("{path}.fsGroup"),
            "fsGroup 0 is the root group: every container mounting the volume would run with \
             root's group, which defeats running as a non-root user; give another group id, or \
             leave fsGroup out for 65534 (nogroup)",
        );
    }
}
