//! Taking a snapshot: freeze the volume, copy its image, thaw (the pause), then archive the
//! copy mounted read-only into the store while the volume is in use again.

use std::path::Path;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::archive::{Counter, pack};
use super::copy::sparse_copy;
use super::freeze::Frozen;
use super::progress::Progress;
use super::scratch::Scratch;
use super::store::check_location;
use super::{Result, SnapshotError, Snapshots};
use crate::storage::host;
use crate::storage::layout::VolumePaths;

/// A published snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The archive's size.
    pub archive_bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
    /// How long the volume's writers were held.
    pub pause: Duration,
    /// Content bytes archived.
    pub content_bytes: u64,
}

/// Archives `tenant`'s volume `volume` to `location` in the store, reporting progress. When
/// `cancel` fires, the work stops and nothing is published.
pub async fn take(
    snapshots: &Snapshots,
    tenant: &str,
    volume: &str,
    location: &str,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<Taken> {
    check_location(location)?;
    let paths = snapshots.layout.volume(tenant, volume);
    if !host::is_mounted(&paths.mount).await {
        return Err(SnapshotError::NotAttached {
            tenant: tenant.to_owned(),
            volume: volume.to_owned(),
            mount: paths.mount,
        });
    }
    let (_, used) = host::usage(&paths.mount)?;
    let scratch = Scratch::create(snapshots.layout.root()).map_err(SnapshotError::io(format!(
        "creating scratch space under {}",
        snapshots.layout.root().display()
    )))?;
    let result = archive_copy(
        snapshots, &paths, &scratch, location, used, progress, cancel,
    )
    .await;
    let removed = scratch
        .remove()
        .await
        .map_err(SnapshotError::io("removing the snapshot's scratch copy"));
    let taken = result?;
    removed?;
    Ok(taken)
}

async fn archive_copy(
    snapshots: &Snapshots,
    paths: &VolumePaths,
    scratch: &Scratch,
    location: &str,
    used: u64,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<Taken> {
    let pause = copy_frozen(paths, &scratch.image()).await?;
    if cancel.is_cancelled() {
        return Err(SnapshotError::Cancelled("the snapshot"));
    }
    host::mount_image(&scratch.image(), &scratch.mount(), true).await?;
    let inside = paths
        .data
        .strip_prefix(&paths.mount)
        .unwrap_or(Path::new("data"));
    let data = scratch.mount().join(inside);
    let counter = Counter::default();
    let (packer, bytes) = pack::channel();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    let packing = {
        let (data, counter) = (data.clone(), counter.clone());
        tokio::task::spawn_blocking(move || packer.pack(&data, &counter, threads))
    };
    let mut put = snapshots.store.put(location, bytes);
    let mut ticker = Progress::ticker();
    let stored = loop {
        tokio::select! {
            stored = &mut put => break Some(stored),
            _ = ticker.tick() => progress.report(counter.get(), used),
            () = cancel.cancelled() => break None,
        }
    };
    // Dropping the write abandons it and stops the packer, whose files must be closed before
    // the copy is unmounted.
    drop(put);
    let packed = packing
        .await
        .map_err(|e| SnapshotError::io("packing the archive")(std::io::Error::other(e)));
    let Some(stored) = stored else {
        return Err(SnapshotError::Cancelled("the snapshot"));
    };
    stored?;
    let packed = packed?.map_err(SnapshotError::io(format!("archiving {}", data.display())))?;
    Ok(Taken {
        archive_bytes: packed.archive_bytes,
        sha256: packed.sha256,
        pause,
        content_bytes: counter.get(),
    })
}

/// Copies the volume's image to `copy` with its filesystem frozen; returns the pause.
async fn copy_frozen(paths: &VolumePaths, copy: &Path) -> Result<Duration> {
    let frozen = Frozen::freeze(&paths.mount).await?;
    let (from, to) = (paths.image.clone(), copy.to_path_buf());
    let copied = tokio::task::spawn_blocking(move || sparse_copy(&from, &to)).await;
    let pause = frozen.thaw().await?;
    let step = format!("copying {} to {}", paths.image.display(), copy.display());
    copied
        .map_err(std::io::Error::other)
        .and_then(|copied| copied)
        .map_err(SnapshotError::io(step))?;
    Ok(pause)
}
