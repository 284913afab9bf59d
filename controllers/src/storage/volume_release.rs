//! Carrying out a deleted Volume's reclaim policy (see [`reclaim`]): phase `Releasing`, the
//! final Snapshot when the policy asks for one, `RemoveVolume` on its node (keeping the data
//! for `Retain`), then its finalizer goes.

use std::time::Duration;

use minicloud_manifests::{
    Instance, ObjectMeta, Snapshot, SnapshotOrigin, SnapshotSpec, Volume, VolumePhase,
};
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{Operation, Plan, RemoveVolume};

use super::context::{StorageContext, agent_failed};
use super::finalizers;
use super::names;
use super::placement::instances_mounting;
use super::reclaim::{Reclaim, reclaim};
use super::status::modify_volume_status;
use crate::error::{Error, Result, api};
use crate::labels::VOLUME_FINALIZER;
use crate::object::ObjectKey;
use crate::runtime::Action;

/// How soon a release that waits is looked at again without any change.
const WAIT_RETRY: Duration = Duration::from_secs(5);

/// One step of releasing the deleted `volume`, given its tenant's Instances.
pub async fn release(
    ctx: &StorageContext,
    volume: &Volume,
    instances: &[Instance],
) -> Result<Action> {
    if !finalizers::holds(volume, VOLUME_FINALIZER) {
        return Ok(Action::Done);
    }
    let key = ObjectKey::of(volume);
    let final_key = ObjectKey::new(key.tenant.as_deref(), &names::final_snapshot(volume));
    let final_snapshot = ctx.client.get_opt::<Snapshot>(&final_key).await;
    let final_snapshot = final_snapshot.map_err(api("read the final Snapshot"))?;
    let users = instances_mounting(volume, instances);
    let step = reclaim(volume, &users, final_snapshot.as_ref());
    let message = match &step {
        Reclaim::Wait(why) => why.clone(),
        Reclaim::TakeFinal(name) => format!("taking the final Snapshot {name:?}"),
        Reclaim::Remove {
            keep_data: true, ..
        } => "detaching it; its data stays (Retain)".into(),
        Reclaim::Remove { .. } => "deleting its data".into(),
    };
    let marked = modify_volume_status(&ctx.client, &key, |v| {
        let mut status = v.status.clone().unwrap_or_default();
        status.phase = VolumePhase::Releasing;
        status.message = message.clone();
        status
    })
    .await
    .map_err(api("mark a Volume Releasing"))?;
    let Some(volume) = marked else {
        return Ok(Action::Done);
    };
    let volume = &volume;
    match step {
        Reclaim::Wait(_) => Ok(Action::RequeueAfter(WAIT_RETRY)),
        Reclaim::TakeFinal(name) => {
            let meta = ObjectMeta::named(&name, key.tenant.as_deref());
            let spec = SnapshotSpec {
                volume: volume.metadata.name.clone(),
                origin: SnapshotOrigin::Final,
            };
            ctx.client
                .apply(&Snapshot::new(meta, spec))
                .await
                .map_err(api("create the final Snapshot"))?;
            Ok(Action::RequeueAfter(WAIT_RETRY))
        }
        Reclaim::Remove { node, keep_data } => {
            if let Some(node) = node {
                remove_from(ctx, volume, &node, keep_data).await?;
            }
            finalizers::remove(&ctx.client, volume, VOLUME_FINALIZER)
                .await
                .map_err(api("remove the Volume's finalizer"))?;
            Ok(Action::Done)
        }
    }
}

/// Removes the volume from `node`'s agent; a node that is gone holds nothing to remove.
async fn remove_from(
    ctx: &StorageContext,
    volume: &Volume,
    node: &str,
    keep_data: bool,
) -> Result<()> {
    let Some(agent) = ctx.agent(node).await? else {
        tracing::warn!(volume = %ObjectKey::of(volume), %node, "the volume's node is gone; nothing to remove");
        return Ok(());
    };
    let op = Op::RemoveVolume(RemoveVolume {
        tenant: volume.metadata.tenant.clone().unwrap_or_default(),
        name: volume.metadata.name.clone(),
        keep_data,
    });
    let plan = Plan {
        operations: vec![Operation { op: Some(op) }],
    };
    let result = agent
        .apply(plan)
        .await
        .map_err(|e| agent_failed("remove a volume", node, e))?;
    match result.results.first() {
        Some(outcome) if !outcome.ok => Err(Error::PlanFailed {
            node: node.into(),
            failures: vec![outcome.error.clone()],
        }),
        _ => Ok(()),
    }
}
