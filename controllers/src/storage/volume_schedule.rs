//! Carrying out a Volume's snapshot schedule (see [`due`]) and retention (see [`prune`]): the
//! newest due slot becomes a Scheduled Snapshot named after it — applying the same name twice
//! (two controllers, or a restart between the Snapshot and the status write) makes one object,
//! so a slot is never taken twice — then `lastScheduledAt` and `nextSnapshotAt` are written and
//! the Volume is looked at again at the next slot. Ready scheduled snapshots the `keep` rules
//! do not keep are deleted (their finalizer deletes the archives).

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use minicloud_manifests::{
    ObjectMeta, Snapshot, SnapshotOrigin, SnapshotPhase, SnapshotSchedule, SnapshotSpec, Volume,
};

use super::context::StorageContext;
use super::events;
use super::names;
use super::retention::prune;
use super::schedule::{Due, due};
use super::status::modify_volume_status;
use crate::error::{Result, api};
use crate::object::ObjectKey;

/// Runs `volume`'s schedule and retention; when to look again (at the next slot).
pub async fn schedule(
    ctx: &StorageContext,
    volume: &Volume,
    snapshots: &[Snapshot],
) -> Result<Option<Duration>> {
    let Some(schedule) = &volume.spec.snapshots else {
        return Ok(None);
    };
    let status = volume.status.clone().unwrap_or_default();
    let after = status
        .last_scheduled_at
        .as_deref()
        .or(volume.metadata.creation_timestamp.as_deref())
        .and_then(parse)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let now = Utc::now();
    let due = match due(schedule, after, now) {
        Ok(due) => due,
        Err(why) => {
            record(ctx, volume, None, None, Some(why)).await?;
            return Ok(None);
        }
    };
    if let Some(slot) = due.slot {
        create(ctx, volume, slot).await?;
    }
    record(ctx, volume, due.slot, due.next, None).await?;
    retain(ctx, volume, schedule, snapshots).await?;
    Ok(next_look(&due, now))
}

/// Applies the Scheduled Snapshot of `slot`.
async fn create(ctx: &StorageContext, volume: &Volume, slot: DateTime<Utc>) -> Result<()> {
    let name = names::scheduled(&volume.metadata.name, slot);
    let meta = ObjectMeta::named(&name, volume.metadata.tenant.as_deref());
    let spec = SnapshotSpec {
        volume: volume.metadata.name.clone(),
        origin: SnapshotOrigin::Scheduled,
    };
    tracing::info!(volume = %ObjectKey::of(volume), snapshot = %name, "taking a scheduled snapshot");
    ctx.client
        .apply(&Snapshot::new(meta, spec))
        .await
        .map_err(api("create a scheduled Snapshot"))?;
    Ok(())
}

/// Writes `lastScheduledAt` (never backwards) and `nextSnapshotAt`; a schedule that cannot be
/// read gets a `ScheduleInvalid` event (once) instead.
async fn record(
    ctx: &StorageContext,
    volume: &Volume,
    slot: Option<DateTime<Utc>>,
    next: Option<DateTime<Utc>>,
    problem: Option<String>,
) -> Result<()> {
    let slot = slot.map(format);
    let next = next.map(format);
    let now = format(Utc::now());
    modify_volume_status(&ctx.client, &ObjectKey::of(volume), |v| {
        let mut status = v.status.clone().unwrap_or_default();
        let newer = |slot: &String| {
            let current = status.last_scheduled_at.as_deref().and_then(parse);
            current.is_none_or(|current| parse(slot).is_some_and(|s| s > current))
        };
        if let Some(slot) = slot.clone().filter(newer) {
            status.last_scheduled_at = Some(slot);
        }
        status.next_snapshot_at = next.clone();
        if let Some(problem) = &problem {
            let told = status.events.last().is_some_and(|e| &e.message == problem);
            if !told {
                events::push(&mut status.events, "ScheduleInvalid", problem.clone(), &now);
            }
        }
        status
    })
    .await
    .map_err(api("record a Volume's snapshot schedule"))?;
    Ok(())
}

/// Deletes the Ready scheduled snapshots of `volume` that `schedule.keep` does not keep.
async fn retain(
    ctx: &StorageContext,
    volume: &Volume,
    schedule: &SnapshotSchedule,
    snapshots: &[Snapshot],
) -> Result<()> {
    let candidates: Vec<(String, DateTime<Utc>)> = snapshots
        .iter()
        .filter(|s| s.spec.volume == volume.metadata.name)
        .filter(|s| {
            s.spec.origin == SnapshotOrigin::Scheduled && s.metadata.deletion_timestamp.is_none()
        })
        .filter_map(|s| {
            let status = s.status.as_ref()?;
            let completed = status.completed_at.as_deref().and_then(parse)?;
            (status.phase == SnapshotPhase::Ready).then(|| (s.metadata.name.clone(), completed))
        })
        .collect();
    for name in prune(&candidates, &schedule.keep) {
        let key = ObjectKey::new(volume.metadata.tenant.as_deref(), &name);
        tracing::info!(snapshot = %key, "pruning a scheduled snapshot the keep rules no longer keep");
        match ctx.client.delete::<Snapshot>(&key, None).await {
            Err(error) if !error.is_not_found() => return Err(api("prune a Snapshot")(error)),
            _ => {}
        }
    }
    Ok(())
}

/// How long until the next slot (at least a second, so a slot at this very second is past).
fn next_look(due: &Due, now: DateTime<Utc>) -> Option<Duration> {
    let next = due.next?;
    let left = (next - now).to_std().unwrap_or_default();
    Some(left.max(Duration::from_millis(200)) + Duration::from_millis(50))
}

fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn format(t: DateTime<Utc>) -> String {
    crate::time::format(SystemTime::from(t))
}
