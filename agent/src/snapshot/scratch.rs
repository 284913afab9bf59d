//! Scratch space for snapshots and restores: `<storage>/snapshot-work/<random>/` with an
//! image and its mount point, removed (unmounted first) when the work ends, and at startup
//! whatever an agent that died left there.

use std::io;
use std::path::{Path, PathBuf};

use crate::storage::host;

/// One scratch directory holding `disk.img` and `mnt/`.
pub struct Scratch {
    dir: Option<PathBuf>,
}

/// The directory all scratch space is under.
pub fn root(storage_dir: &Path) -> PathBuf {
    storage_dir.join("snapshot-work")
}

impl Scratch {
    /// A new, empty scratch directory under `storage_dir`.
    pub fn create(storage_dir: &Path) -> io::Result<Scratch> {
        let dir = root(storage_dir).join(format!("{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("mnt"))?;
        Ok(Scratch { dir: Some(dir) })
    }

    fn dir(&self) -> &Path {
        self.dir
            .as_deref()
            .expect("a scratch directory exists until removed")
    }

    /// Where its image goes.
    pub fn image(&self) -> PathBuf {
        self.dir().join("disk.img")
    }

    /// Where its image is mounted.
    pub fn mount(&self) -> PathBuf {
        self.dir().join("mnt")
    }

    /// Unmounts its image (when mounted) and removes it.
    pub async fn remove(mut self) -> io::Result<()> {
        let dir = self
            .dir
            .take()
            .expect("a scratch directory exists until removed");
        remove_dir(&dir).await
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            // Dropped mid-work (a panic or a runtime shutting down): clean up synchronously;
            // anything left is removed by the next startup's cleanup.
            let _ = std::process::Command::new("umount")
                .arg(dir.join("mnt"))
                .stderr(std::process::Stdio::null())
                .status();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn remove_dir(dir: &Path) -> io::Result<()> {
    let mount = dir.join("mnt");
    if host::is_mounted(&mount).await {
        host::unmount(&mount).await.map_err(io::Error::other)?;
    }
    tokio::fs::remove_dir_all(dir).await
}

/// Removes every scratch directory under `storage_dir`; returns how many there were.
pub async fn cleanup(storage_dir: &Path) -> io::Result<usize> {
    let mut entries = match tokio::fs::read_dir(root(storage_dir)).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    while let Some(entry) = entries.next_entry().await? {
        remove_dir(&entry.path()).await?;
        removed += 1;
    }
    Ok(removed)
}
