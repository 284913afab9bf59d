//! The volume controller: each Volume gets its finalizer, is bound to a node, settles its
//! phase from what node sync observed, and then carries out an asked-for restore and its
//! snapshot schedule with retention; a deleted Volume's reclaim policy is carried out before
//! its finalizer lets it go.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{Instance, Node, Snapshot, Volume, VolumePhase};

use super::binding::{Binding, bind};
use super::context::StorageContext;
use super::finalizers;
use super::lifecycle::settle;
use super::status::modify_volume_status;
use super::{volume_release, volume_restore, volume_schedule};
use crate::client::TenantScope;
use crate::error::{Result, api};
use crate::labels::VOLUME_FINALIZER;
use crate::object::{ObjectKey, is_deleting};
use crate::runtime::{Action, Cache, Controller, ControllerOptions};
use crate::time;

/// How soon an unbound Volume is tried again without any change.
const UNBOUND_RETRY: Duration = Duration::from_secs(30);

/// The volume controller, following Volumes, the Snapshots they name and Nodes.
pub fn controller(
    volumes: &Cache<Volume>,
    snapshots: &Cache<Snapshot>,
    nodes: &Cache<Node>,
    options: ControllerOptions,
) -> Controller<ObjectKey> {
    let all = volumes.clone();
    Controller::new("volume", options)
        .watches(volumes, |v: &Volume| vec![ObjectKey::of(v)])
        .watches(snapshots, |s: &Snapshot| {
            vec![ObjectKey::new(s.metadata.tenant.as_deref(), &s.spec.volume)]
        })
        .watches(nodes, move |_: &Node| {
            all.snapshot()
                .iter()
                .filter(|v| v.status.as_ref().and_then(|s| s.node.as_ref()).is_none())
                .map(|o| ObjectKey::of(o.as_ref()))
                .collect()
        })
}

/// Moves one Volume a step toward its spec.
pub async fn reconcile(key: ObjectKey, ctx: Arc<StorageContext>) -> Result<Action> {
    let client = &ctx.client;
    let found = client.get_opt::<Volume>(&key).await;
    let Some(volume) = found.map_err(api("read the Volume"))? else {
        return Ok(Action::Done);
    };
    let instances = tenant_instances(&ctx, &key).await?;
    if is_deleting(&volume.metadata) {
        return volume_release::release(&ctx, &volume, &instances).await;
    }
    let added = finalizers::add(client, &volume, VOLUME_FINALIZER).await;
    if added.map_err(api("add the Volume's finalizer"))? {
        return Ok(Action::RequeueAfter(Duration::ZERO));
    }
    if let Some(action) = ensure_bound(&ctx, &volume).await? {
        return Ok(action);
    }
    let now = time::format(SystemTime::now());
    let settled = modify_volume_status(client, &key, |v| settle(v, &now)).await;
    let Some(volume) = settled.map_err(api("write a Volume's status"))? else {
        return Ok(Action::Done);
    };
    let snapshots = client
        .list::<Snapshot>(
            &TenantScope::One(key.tenant.clone().unwrap_or_default()),
            "",
        )
        .await
        .map_err(api("list the tenant's Snapshots"))?
        .items;
    let restoring = volume_restore::restore(&ctx, &volume, &snapshots, &instances).await?;
    let scheduled = match volume.status.as_ref().map(|s| s.phase) {
        Some(VolumePhase::Ready) => volume_schedule::schedule(&ctx, &volume, &snapshots).await?,
        _ => None,
    };
    Ok(match restoring.into_iter().chain(scheduled).min() {
        Some(after) => Action::RequeueAfter(after),
        None => Action::Done,
    })
}

/// The Instances of the Volume's tenant.
async fn tenant_instances(ctx: &StorageContext, key: &ObjectKey) -> Result<Vec<Instance>> {
    let scope = TenantScope::One(key.tenant.clone().unwrap_or_default());
    let listing = ctx.client.list::<Instance>(&scope, "").await;
    Ok(listing.map_err(api("list the tenant's Instances"))?.items)
}

/// Binds an unbound Volume to a node; what to do instead of going on, when it cannot be bound.
async fn ensure_bound(ctx: &StorageContext, volume: &Volume) -> Result<Option<Action>> {
    if volume
        .status
        .as_ref()
        .and_then(|s| s.node.as_ref())
        .is_some()
    {
        return Ok(None);
    }
    let client = &ctx.client;
    let nodes = client.list::<Node>(&TenantScope::All, "").await;
    let nodes = nodes.map_err(api("list Nodes"))?.items;
    let volumes = client.list::<Volume>(&TenantScope::All, "").await;
    let volumes = volumes.map_err(api("list Volumes"))?.items;
    let (node, message, action) = match bind(volume, &nodes, &volumes, SystemTime::now()) {
        Binding::Bound(_) => return Ok(None),
        Binding::Bind(node) => (Some(node), String::new(), None),
        Binding::Wait(why) => (None, why, Some(Action::RequeueAfter(UNBOUND_RETRY))),
    };
    modify_volume_status(client, &ObjectKey::of(volume), |v| {
        let mut status = v.status.clone().unwrap_or_default();
        if status.node.is_none() {
            status.node = node.clone();
            status.message = message.clone();
        }
        status
    })
    .await
    .map_err(api("bind a Volume to a node"))?;
    Ok(action.or(Some(Action::RequeueAfter(Duration::ZERO))))
}
