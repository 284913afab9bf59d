//! Carrying out an in-place restore (see [`step`]): phase `Restoring` with an
//! `InstancesStopped` event (node sync then stops every instance mounting the volume), the
//! agent's `RestoreVolume` once its node shows no container mounting it, then `restored`,
//! phase `Ready` and a `Restored` event; node sync starts the instances again.

use std::time::{Duration, SystemTime};

use futures::StreamExt;
use minicloud_manifests::{Instance, Snapshot, Volume, VolumePhase, VolumeStatus};
use minicloud_proto::v1::{RestoreVolumeRequest, SnapshotArchive, SnapshotProgress};

use super::context::{StorageContext, agent_failed};
use super::events;
use super::placement::instances_mounting;
use super::restore::{RestoreStep, step, wanted};
use super::status::modify_volume_status;
use crate::agent::AgentError;
use crate::error::{Result, api};
use crate::nodesync::{volume_id, volume_of};
use crate::object::ObjectKey;
use crate::time;

/// How often a restore waiting for its instances to stop looks again.
const STOP_POLL: Duration = Duration::from_millis(500);
/// How soon a failed restore is tried again.
const RETRY: Duration = Duration::from_secs(10);

/// One step of the restore `volume` asks for, if any; when to look again.
pub async fn restore(
    ctx: &StorageContext,
    volume: &Volume,
    snapshots: &[Snapshot],
    instances: &[Instance],
) -> Result<Option<Duration>> {
    let Some(node) = volume.status.as_ref().and_then(|s| s.node.clone()) else {
        return Ok(None);
    };
    let restoring = volume.status.as_ref().map(|s| s.phase) == Some(VolumePhase::Restoring);
    let mounted = match restoring {
        true => mounted_on_node(ctx, volume, &node).await?,
        false => true,
    };
    let users = instances_mounting(volume, instances);
    let from = wanted(volume)
        .map(|r| r.snapshot.clone())
        .unwrap_or_default();
    match step(volume, snapshots, &users, mounted) {
        RestoreStep::Idle => Ok(None),
        RestoreStep::WaitForStop => Ok(Some(STOP_POLL)),
        RestoreStep::Refuse(why) => {
            write(ctx, volume, |status, now| {
                status.phase = VolumePhase::Ready;
                note(status, "RestoreRefused", &why, now);
            })
            .await?;
            Ok(None)
        }
        RestoreStep::Stop(users) => {
            let message = match users.is_empty() {
                true => format!("nothing mounts it; restoring from {from}"),
                false => format!("stopping {} for the restore from {from}", users.join(", ")),
            };
            write(ctx, volume, |status, now| {
                status.phase = VolumePhase::Restoring;
                status.message = format!("restoring from Snapshot {from}");
                events::push(&mut status.events, "InstancesStopped", message.clone(), now);
            })
            .await?;
            Ok(Some(STOP_POLL))
        }
        RestoreStep::Cancel => {
            write(ctx, volume, |status, now| {
                status.phase = VolumePhase::Ready;
                status.message.clear();
                let message = "spec.restore was removed; the volume keeps its content".into();
                events::push(&mut status.events, "RestoreCancelled", message, now);
            })
            .await?;
            Ok(None)
        }
        RestoreStep::Restore(archive) => restore_on(ctx, volume, &node, &from, archive).await,
    }
}

/// Asks `node`'s agent to restore the volume from `archive`, and records the outcome.
async fn restore_on(
    ctx: &StorageContext,
    volume: &Volume,
    node: &str,
    from: &str,
    archive: SnapshotArchive,
) -> Result<Option<Duration>> {
    let Some(agent) = ctx.agent(node).await? else {
        return Ok(Some(RETRY));
    };
    let request = RestoreVolumeRequest {
        tenant: volume.metadata.tenant.clone().unwrap_or_default(),
        volume: volume.metadata.name.clone(),
        archive: Some(archive),
    };
    let outcome = match agent.restore_volume(request).await {
        Ok(progress) => finish(progress).await,
        Err(error) => Err(error),
    };
    let asked = wanted(volume).cloned();
    match outcome {
        Ok(done) => {
            let message = format!("from {from} ({} bytes)", done.bytes_done);
            write(ctx, volume, |status, now| {
                status.phase = VolumePhase::Ready;
                status.restored = asked.clone();
                status.message.clear();
                events::push(&mut status.events, "Restored", message.clone(), now);
            })
            .await?;
            Ok(None)
        }
        Err(error) => {
            let error = agent_failed("restore a volume", node, error);
            let why = format!(
                "the restore from {from} failed: {error}; trying again in {} s — change or \
                 remove spec.restore to stop",
                RETRY.as_secs()
            );
            write(ctx, volume, |status, now| {
                note(status, "RestoreFailed", &why, now)
            })
            .await?;
            Ok(Some(RETRY))
        }
    }
}

/// The last progress report, once it says `done`.
async fn finish(
    mut progress: crate::agent::ProgressStream,
) -> Result<SnapshotProgress, AgentError> {
    while let Some(report) = progress.next().await {
        let report = report?;
        if report.done {
            return Ok(report);
        }
    }
    Err(AgentError::Status(tonic::Status::aborted(
        "the agent ended the restore stream before it was done",
    )))
}

/// Sets `message`, with an event of `reason` unless the newest event says the same already.
fn note(status: &mut VolumeStatus, reason: &str, message: &str, now: &str) {
    status.message = message.into();
    let repeated = status
        .events
        .last()
        .is_some_and(|e| e.reason == reason && e.message == message);
    if !repeated {
        events::push(&mut status.events, reason, message.into(), now);
    }
}

/// Whether `node`'s agent shows a container mounting the volume (or a container of one of
/// its instances); an unreachable node counts as still mounting it.
async fn mounted_on_node(ctx: &StorageContext, volume: &Volume, node: &str) -> Result<bool> {
    let Some(agent) = ctx.agent(node).await? else {
        return Ok(true);
    };
    let observed = agent
        .observe()
        .await
        .map_err(|e| agent_failed("observe", node, e))?;
    let id = Some(volume_id(volume));
    Ok(observed
        .volumes
        .iter()
        .any(|v| volume_of(v) == id && !v.mounted_by.is_empty()))
}

/// Changes the Volume's status with `change` from a fresh read, stamping events with now.
async fn write(
    ctx: &StorageContext,
    volume: &Volume,
    change: impl Fn(&mut VolumeStatus, &str) + Sync,
) -> Result<()> {
    let now = time::format(SystemTime::now());
    modify_volume_status(&ctx.client, &ObjectKey::of(volume), |v| {
        let mut status = v.status.clone().unwrap_or_default();
        change(&mut status, &now);
        status
    })
    .await
    .map_err(api("write a Volume's restore status"))?;
    Ok(())
}
