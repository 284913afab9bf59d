//! Volumes and Snapshots as `mini snapshot` and `mini volume` change and follow them: taking a
//! snapshot, asking for an in-place restore (a compare-and-swap on the Volume, like
//! [`crate::apps::change_app`]), and following either to its end with a progress bar.

use std::time::{Duration, SystemTime};

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{
    Kind, ObjectMeta, RestoreRequest, Snapshot, SnapshotPhase, SnapshotSpec, Volume, VolumeEvent,
};

use crate::apps::{AttemptFailed, typed};
use crate::client::Client;

/// The reasons of the Volume events that say a restore asked for was not carried out.
const RESTORE_FAILURES: [&str; 3] = ["RestoreRefused", "RestoreFailed", "RestoreCancelled"];

/// How often a followed object is read again.
const POLL: Duration = Duration::from_millis(250);

/// The name a snapshot taken on demand gets: `<volume>-<YYYYMMDD-HHMMSS>` (UTC).
pub fn snapshot_name(volume: &str, now: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = stamp.chars().filter(char::is_ascii_digit).collect();
    format!("{volume}-{}-{}", &compact[..8], &compact[8..14])
}

/// Creates a Snapshot of `volume` named `name`.
pub async fn create_snapshot(client: &mut Client, volume: &str, name: &str) -> Result<()> {
    let tenant = client.tenant().to_owned();
    let spec = SnapshotSpec {
        volume: volume.to_owned(),
        origin: Default::default(),
    };
    let snapshot = Snapshot::new(ObjectMeta::named(name, Some(&tenant)), spec);
    let json = serde_json::to_value(&snapshot).expect("Snapshots always serialize");
    client.apply(&json, false).await?;
    Ok(())
}

/// Reads a Volume of the client's tenant.
pub async fn read_volume(client: &mut Client, name: &str) -> Result<Volume> {
    let object = client.get(client.object_ref(Kind::Volume, name)).await?;
    typed(Kind::Volume, object)
}

/// Reads a Snapshot of the client's tenant.
pub async fn read_snapshot(client: &mut Client, name: &str) -> Result<Snapshot> {
    let object = client.get(client.object_ref(Kind::Snapshot, name)).await?;
    typed(Kind::Snapshot, object)
}

/// Asks for `volume`'s content to be replaced with `snapshot`'s, in place; returns the request
/// written, which [`follow_restore`] waits for.
pub async fn request_restore(
    client: &Client,
    volume: &str,
    snapshot: &str,
    now: SystemTime,
) -> Result<RestoreRequest> {
    let request = RestoreRequest {
        snapshot: snapshot.to_owned(),
        requested_at: humantime::format_rfc3339_millis(now).to_string(),
    };
    let request = &request;
    ReadModifyWrite::new(format!("volume/{volume}"), "updated")
        .run(|| {
            let mut client = client.clone();
            async move {
                let mut object = read_volume(&mut client, volume).await?;
                object.spec.restore = Some(request.clone());
                let json = serde_json::to_value(&object).expect("Volumes always serialize");
                client.apply(&json, false).await?;
                Ok::<_, AttemptFailed>(())
            }
        })
        .await
        .map_err(|AttemptFailed(error)| error)?;
    Ok(request.clone())
}

/// A bar for `total` bytes that hides itself when stderr is not a terminal.
fn progress_bar(message: String) -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// Follows a Snapshot until it is Ready (returned) or Failed (an error with its message),
/// showing its progress against the volume's used bytes.
pub async fn follow_snapshot(client: &mut Client, name: &str) -> Result<Snapshot> {
    let bar = progress_bar(format!("snapshot/{name}"));
    loop {
        let snapshot = read_snapshot(client, name).await?;
        let status = snapshot.status.clone().unwrap_or_default();
        match status.phase {
            SnapshotPhase::Ready => {
                bar.finish_and_clear();
                return Ok(snapshot);
            }
            SnapshotPhase::Failed => {
                bar.abandon();
                bail!("snapshot/{name} failed: {}", status.message);
            }
            SnapshotPhase::Pending | SnapshotPhase::Taking => {
                if bar.length() == Some(0) {
                    let volume = read_volume(client, &snapshot.spec.volume).await;
                    let used = volume.ok().and_then(|v| v.status).map(|s| s.used_bytes);
                    bar.set_length(used.unwrap_or_default().max(status.progress_bytes));
                }
                bar.set_position(status.progress_bytes);
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows a Volume until `request` is carried out, handing each new event to `report` (the
/// instances stopped, the restore, the instances started). Fails with the volume's message
/// when the restore cannot go on.
pub async fn follow_restore(
    client: &mut Client,
    volume: &str,
    request: &RestoreRequest,
    mut report: impl FnMut(&VolumeEvent),
) -> Result<Volume> {
    let mut seen = read_volume(client, volume)
        .await?
        .status
        .map_or(0, |s| s.events.len());
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!(
        "restoring volume/{volume} from snapshot/{}",
        request.snapshot
    ));
    bar.enable_steady_tick(Duration::from_millis(120));
    loop {
        let object = read_volume(client, volume).await?;
        let status = object.status.clone().unwrap_or_default();
        let events = &status.events;
        for event in events.iter().skip(seen.min(events.len())) {
            bar.suspend(|| report(event));
            if RESTORE_FAILURES.contains(&event.reason.as_str()) {
                bar.abandon();
                bail!("volume/{volume} was not restored: {}", event.message);
            }
        }
        seen = events.len();
        if status.restored.as_ref() == Some(request) {
            bar.finish_and_clear();
            return Ok(object);
        }
        if object.spec.restore.as_ref() != Some(request) {
            bar.abandon();
            bail!("volume/{volume} was asked for another restore meanwhile; not following it");
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_on_demand_is_named_after_its_volume_and_the_time() {
        let now = humantime::parse_rfc3339("2026-12-03T12:15:30Z").unwrap();
        assert_eq!(snapshot_name("data", now), "data-20261203-121530");
    }
}
