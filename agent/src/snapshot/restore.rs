//! Restoring a snapshot: the archive is unpacked into a fresh staging filesystem and checked
//! against its SHA-256; only then does it replace the volume (in place), or become the new
//! volume (a volume created from a snapshot). A damaged archive changes nothing.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use minicloud_proto::v1::SnapshotArchive;
use tokio_util::io::{StreamReader, SyncIoBridge};
use tokio_util::sync::CancellationToken;

use super::archive::{Counter, unpack};
use super::in_use::VolumeUsers;
use super::progress::Progress;
use super::scratch::Scratch;
use super::{Result, SnapshotError, Snapshots};
use crate::storage::host;

/// Fills the empty directory `data` (inside a staging filesystem) from `archive`, reporting
/// progress; fails with [`SnapshotError::Damaged`] when the SHA-256 does not match, in which
/// case the staging filesystem must be discarded. Returns the content bytes restored.
pub async fn fill(
    snapshots: &Snapshots,
    archive: &SnapshotArchive,
    data: &Path,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<u64> {
    let bytes = snapshots.store.get(&archive.location).await?;
    tokio::fs::create_dir_all(data)
        .await
        .map_err(SnapshotError::io(format!("creating {}", data.display())))?;
    let counter = Counter::default();
    let unpacking = {
        let reader = Cancellable {
            inner: SyncIoBridge::new(StreamReader::new(bytes)),
            cancel: cancel.clone(),
        };
        let (data, counter) = (data.to_path_buf(), counter.clone());
        tokio::task::spawn_blocking(move || unpack::unpack(reader, &data, &counter))
    };
    tokio::pin!(unpacking);
    let mut ticker = Progress::ticker();
    let unpacked = loop {
        tokio::select! {
            unpacked = &mut unpacking => break unpacked,
            _ = ticker.tick() => progress.report(counter.get(), 0),
        }
    };
    if cancel.is_cancelled() {
        return Err(SnapshotError::Cancelled("the restore"));
    }
    let step = format!("unpacking archive {}", archive.location);
    let got = unpacked
        .map_err(std::io::Error::other)
        .and_then(|sha| sha)
        .map_err(SnapshotError::io(step))?;
    if !got.eq_ignore_ascii_case(&archive.sha256) {
        return Err(SnapshotError::Damaged {
            location: archive.location.clone(),
            got,
            want: archive.sha256.clone(),
        });
    }
    Ok(counter.get())
}

/// Replaces the content of `tenant`'s attached volume `volume` with `archive`: a staging
/// image of the same size and group is filled and verified, then swapped in while no running
/// container mounts the volume. Returns the content bytes restored.
pub async fn in_place(
    snapshots: &Snapshots,
    users: &VolumeUsers,
    (tenant, volume): (&str, &str),
    archive: &SnapshotArchive,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<u64> {
    let paths = snapshots.layout.volume(tenant, volume);
    if !host::is_mounted(&paths.mount).await {
        return Err(SnapshotError::NotAttached {
            tenant: tenant.to_owned(),
            volume: volume.to_owned(),
            mount: paths.mount,
        });
    }
    refuse_if_in_use(users, &paths.mount, tenant, volume).await?;
    let size = std::fs::metadata(&paths.image)
        .map_err(SnapshotError::io(format!(
            "reading {}",
            paths.image.display()
        )))?
        .len();
    let fs_group = std::fs::metadata(&paths.mount)
        .map_err(SnapshotError::io(format!(
            "reading {}",
            paths.mount.display()
        )))?
        .gid();
    let scratch = Scratch::create(snapshots.layout.root())
        .map_err(SnapshotError::io("creating the restore's staging space"))?;
    let staged = stage(
        snapshots,
        &scratch,
        (size, fs_group),
        &paths.data,
        archive,
        progress,
        cancel,
    )
    .await;
    let swapped = match staged {
        Ok(restored) => swap(users, &scratch, &paths, (tenant, volume))
            .await
            .map(|()| restored),
        Err(e) => Err(e),
    };
    let removed = scratch
        .remove()
        .await
        .map_err(SnapshotError::io("removing the restore's staging space"));
    let restored = swapped?;
    removed?;
    Ok(restored)
}

/// Makes and fills the staging image, leaving it unmounted.
async fn stage(
    snapshots: &Snapshots,
    scratch: &Scratch,
    (size, fs_group): (u64, u32),
    data: &Path,
    archive: &SnapshotArchive,
    progress: &Progress,
    cancel: &CancellationToken,
) -> Result<u64> {
    host::make_image(&scratch.image(), size, fs_group).await?;
    host::mount_image(&scratch.image(), &scratch.mount(), false).await?;
    let parent = data.parent().unwrap_or(data);
    let inside = data.strip_prefix(parent).unwrap_or(Path::new("data"));
    let restored = fill(
        snapshots,
        archive,
        &scratch.mount().join(inside),
        progress,
        cancel,
    )
    .await;
    let unmounted = host::unmount(&scratch.mount()).await;
    let restored = restored?;
    unmounted?;
    Ok(restored)
}

/// Puts the staging image in the volume's place and mounts it there.
async fn swap(
    users: &VolumeUsers,
    scratch: &Scratch,
    paths: &crate::storage::layout::VolumePaths,
    (tenant, volume): (&str, &str),
) -> Result<()> {
    refuse_if_in_use(users, &paths.mount, tenant, volume).await?;
    host::unmount(&paths.mount).await?;
    let moved = tokio::fs::rename(scratch.image(), &paths.image)
        .await
        .map_err(SnapshotError::io(format!(
            "moving the restored image to {} (the volume keeps its old content)",
            paths.image.display()
        )));
    let mounted = host::mount_image(&paths.image, &paths.mount, false).await;
    moved?;
    mounted?;
    Ok(())
}

async fn refuse_if_in_use(
    users: &VolumeUsers,
    mount: &Path,
    tenant: &str,
    volume: &str,
) -> Result<()> {
    let found = users.of(mount).await.map_err(SnapshotError::io(format!(
        "finding the containers that mount {}",
        mount.display()
    )))?;
    if found.is_empty() {
        return Ok(());
    }
    Err(SnapshotError::InUse {
        tenant: tenant.to_owned(),
        volume: volume.to_owned(),
        users: found.join(", "),
    })
}

/// A reader that fails once the restore is cancelled, stopping the unpacker.
struct Cancellable<R> {
    inner: R,
    cancel: CancellationToken,
}

impl<R: Read> Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(std::io::Error::other("the restore was cancelled"));
        }
        self.inner.read(buf)
    }
}
