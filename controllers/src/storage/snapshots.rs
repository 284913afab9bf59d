//! The snapshot controller: takes each Pending Snapshot on its volume's node (progress written
//! at most once a second), retries failed attempts with a growing delay, takes again a
//! Snapshot a restart cut off while Taking, and records the result on the Snapshot and as its
//! Volume's `lastSnapshot`. A deleted Snapshot's archive is deleted from the snapshot store
//! before its finalizer lets it go.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use minicloud_manifests::{Snapshot, SnapshotPhase, SnapshotStatus, Volume};
use minicloud_proto::v1::{SnapshotProgress, TakeSnapshotRequest};
use tokio::time::Instant;

use super::context::{StorageContext, agent_failed};
use super::finalizers;
use super::status::{modify_snapshot_status, modify_volume_status};
use super::take::{self, Next};
use crate::agent::AgentError;
use crate::error::{Result, api};
use crate::labels::SNAPSHOT_FINALIZER;
use crate::object::{ObjectKey, is_deleting};
use crate::runtime::{Action, Cache, Controller, ControllerOptions};
use crate::time;

/// How often a Snapshot waiting for its volume is looked at again without any change.
const WAIT_RETRY: Duration = Duration::from_secs(10);
/// Least time between two progress writes of one Snapshot.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The snapshot controller, following Snapshots and the Volumes they archive.
pub fn controller(
    snapshots: &Cache<Snapshot>,
    volumes: &Cache<Volume>,
    options: ControllerOptions,
) -> Controller<ObjectKey> {
    let of_volume = snapshots.clone();
    Controller::new("snapshot", options)
        .watches(snapshots, |s: &Snapshot| vec![ObjectKey::of(s)])
        .watches(volumes, move |v: &Volume| {
            of_volume
                .snapshot()
                .iter()
                .filter(|s| {
                    s.metadata.tenant == v.metadata.tenant && s.spec.volume == v.metadata.name
                })
                .map(|o| ObjectKey::of(o.as_ref()))
                .collect()
        })
}

/// Moves one Snapshot a step: its finalizer, taking it, or deleting its archive.
pub async fn reconcile(key: ObjectKey, ctx: Arc<StorageContext>) -> Result<Action> {
    let client = &ctx.client;
    let found = client.get_opt::<Snapshot>(&key).await;
    let Some(snapshot) = found.map_err(api("read the Snapshot"))? else {
        return Ok(Action::Done);
    };
    if is_deleting(&snapshot.metadata) {
        return release(&ctx, &snapshot).await;
    }
    let added = finalizers::add(client, &snapshot, SNAPSHOT_FINALIZER).await;
    if added.map_err(api("add the Snapshot's finalizer"))? {
        return Ok(Action::RequeueAfter(Duration::ZERO));
    }
    let volume_key = ObjectKey::new(key.tenant.as_deref(), &snapshot.spec.volume);
    let volume = client.get_opt::<Volume>(&volume_key).await;
    let volume = volume.map_err(api("read the Snapshot's Volume"))?;
    match take::next(&snapshot, volume.as_ref(), &ctx.holder, SystemTime::now()) {
        Next::Nothing => Ok(Action::Done),
        Next::Claimed(left) => Ok(Action::RequeueAfter(left + Duration::from_millis(100))),
        Next::Wait(message) => {
            write(&ctx, &key, |s| SnapshotStatus {
                phase: SnapshotPhase::Pending,
                message: message.clone(),
                ..s.clone()
            })
            .await?;
            Ok(Action::RequeueAfter(WAIT_RETRY))
        }
        Next::Fail(message) => {
            write(&ctx, &key, |s| SnapshotStatus {
                phase: SnapshotPhase::Failed,
                message: message.clone(),
                ..s.clone()
            })
            .await?;
            Ok(Action::Done)
        }
        Next::Take { node, location } => take_on(&ctx, &snapshot, &node, location).await,
    }
}

/// Writes the Snapshot's status as `change` makes it from the current one.
async fn write(
    ctx: &StorageContext,
    key: &ObjectKey,
    change: impl Fn(&SnapshotStatus) -> SnapshotStatus + Sync,
) -> Result<Option<Snapshot>> {
    modify_snapshot_status(&ctx.client, key, |s| {
        change(&s.status.clone().unwrap_or_default())
    })
    .await
    .map_err(api("write a Snapshot's status"))
}

/// One attempt at taking `snapshot` on `node`, claimed with a compare-and-swap on the version
/// read, so that of two controllers reading the same Pending Snapshot only one takes it.
async fn take_on(
    ctx: &StorageContext,
    snapshot: &Snapshot,
    node: &str,
    location: String,
) -> Result<Action> {
    let key = ObjectKey::of(snapshot);
    let Some(agent) = ctx.agent(node).await? else {
        let message = format!("waiting for node {node}'s agent, which holds the volume");
        write(ctx, &key, |s| SnapshotStatus {
            message: message.clone(),
            ..s.clone()
        })
        .await?;
        return Ok(Action::RequeueAfter(WAIT_RETRY));
    };
    let now = time::format(SystemTime::now());
    let mut claimed = snapshot.clone();
    let current = snapshot.status.clone().unwrap_or_default();
    claimed.status = Some(take::taking(&current, node, &ctx.holder, &now));
    match ctx.client.update_status(&claimed).await {
        Ok(_) => {}
        // Another writer changed it since it was read (another controller claimed it, or it
        // was deleted): its watch event brings it back here to decide afresh.
        Err(error) if error.is_conflict() || error.is_not_found() => return Ok(Action::Done),
        Err(error) => return Err(api("claim a Snapshot")(error)),
    }
    let request = TakeSnapshotRequest {
        tenant: key.tenant.clone().unwrap_or_default(),
        volume: snapshot.spec.volume.clone(),
        location,
    };
    match follow(ctx, &key, agent.take_snapshot(request).await).await {
        Ok(done) => {
            let now = time::format(SystemTime::now());
            write(ctx, &key, |s| take::ready(s, &done, &now)).await?;
            record_on_volume(ctx, snapshot).await?;
            Ok(Action::Done)
        }
        Err(error) => {
            let error = agent_failed("take a snapshot", node, error).to_string();
            let failed = write(ctx, &key, |s| take::attempt_failed(s, &error)).await?;
            let status = failed.and_then(|s| s.status).unwrap_or_default();
            Ok(match status.phase {
                SnapshotPhase::Failed => Action::Done,
                _ => Action::RequeueAfter(take::retry_delay(status.attempts)),
            })
        }
    }
}

/// Follows the agent's progress, writing `progressBytes` at most once a second and renewing
/// the claim every [`take::CLAIM_RENEW`], to the report with `done` set.
async fn follow(
    ctx: &StorageContext,
    key: &ObjectKey,
    started: Result<crate::agent::ProgressStream, AgentError>,
) -> Result<SnapshotProgress, AgentError> {
    let mut progress = started?;
    let mut last_write: Option<Instant> = None;
    let mut renewals = tokio::time::interval(take::CLAIM_RENEW);
    renewals.tick().await;
    loop {
        let report = tokio::select! {
            report = progress.next() => report,
            _ = renewals.tick() => {
                renew(ctx, key).await;
                continue;
            }
        };
        let Some(report) = report else { break };
        let report = report?;
        if report.done {
            return Ok(report);
        }
        if last_write.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY) {
            last_write = Some(Instant::now());
            let done = report.bytes_done;
            let written = write(ctx, key, |s| SnapshotStatus {
                progress_bytes: done,
                ..s.clone()
            })
            .await;
            if let Err(error) = written {
                tracing::warn!(snapshot = %key, %error, "cannot record a snapshot's progress");
            }
        }
    }
    Err(AgentError::Status(tonic::Status::aborted(
        "the agent ended the snapshot stream before the archive was done",
    )))
}

/// Renews this controller's claim on the Snapshot being taken.
async fn renew(ctx: &StorageContext, key: &ObjectKey) {
    let now = time::format(SystemTime::now());
    let renewed = write(ctx, key, |s| take::renew(s, &ctx.holder, &now)).await;
    if let Err(error) = renewed {
        tracing::warn!(snapshot = %key, %error, "cannot renew the claim on a snapshot being taken");
    }
}

/// Names `snapshot` as its Volume's `lastSnapshot`.
async fn record_on_volume(ctx: &StorageContext, snapshot: &Snapshot) -> Result<()> {
    let key = ObjectKey::new(snapshot.metadata.tenant.as_deref(), &snapshot.spec.volume);
    let name = snapshot.metadata.name.clone();
    modify_volume_status(&ctx.client, &key, |v| {
        let mut status = v.status.clone().unwrap_or_default();
        status.last_snapshot = Some(name.clone());
        status
    })
    .await
    .map_err(api("record a Volume's last snapshot"))?;
    Ok(())
}

/// Deletes a deleted Snapshot's archive, then lets the Snapshot go.
async fn release(ctx: &StorageContext, snapshot: &Snapshot) -> Result<Action> {
    if !finalizers::holds(snapshot, SNAPSHOT_FINALIZER) {
        return Ok(Action::Done);
    }
    let status = snapshot.status.clone().unwrap_or_default();
    if let Some(node) = status
        .node
        .as_deref()
        .filter(|_| !status.location.is_empty())
    {
        match ctx.agent(node).await? {
            Some(agent) => {
                agent
                    .delete_snapshot(&status.location)
                    .await
                    .map_err(|e| agent_failed("delete a snapshot's archive", node, e))?;
            }
            None => tracing::warn!(
                snapshot = %ObjectKey::of(snapshot), %node,
                "the node holding the archive is gone; the Snapshot goes without deleting it"
            ),
        }
    }
    finalizers::remove(&ctx.client, snapshot, SNAPSHOT_FINALIZER)
        .await
        .map_err(api("remove the Snapshot's finalizer"))?;
    Ok(Action::Done)
}
