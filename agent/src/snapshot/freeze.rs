//! Holding a volume's writers for a point-in-time copy: a frozen filesystem is thawed on
//! every path, also when the work fails, panics or is dropped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::storage::host::{self, HostResult};

/// A frozen filesystem; thawed by [`Frozen::thaw`], or synchronously when dropped.
pub struct Frozen {
    mount: Option<PathBuf>,
    since: Instant,
}

impl Frozen {
    /// Freezes the filesystem mounted on `mount`. One still frozen by an agent that died
    /// mid-snapshot (the kernel answers "busy") is thawed and frozen afresh.
    pub async fn freeze(mount: &Path) -> HostResult<Frozen> {
        if let Err(error) = host::freeze(mount).await {
            if !error.output.contains("Device or resource busy") {
                return Err(error);
            }
            host::thaw(mount).await?;
            host::freeze(mount).await?;
        }
        Ok(Frozen {
            mount: Some(mount.to_path_buf()),
            since: Instant::now(),
        })
    }

    /// Thaws it, returning how long writers were held.
    pub async fn thaw(mut self) -> HostResult<Duration> {
        let mount = self.mount.take().expect("a frozen filesystem has a mount");
        let result = host::thaw(&mount).await;
        let held = self.since.elapsed();
        if result.is_err() {
            self.mount = Some(mount);
        }
        result.map(|()| held)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(mount) = self.mount.take() {
            let thawed = std::process::Command::new("fsfreeze")
                .arg("--unfreeze")
                .arg(&mount)
                .status();
            if !thawed.is_ok_and(|s| s.success()) {
                tracing::error!(
                    "cannot thaw {}; its writers stay blocked until `fsfreeze --unfreeze {0}`",
                    mount.display()
                );
            }
        }
    }
}

/// Thaws every mounted volume under `volumes` (`<tenant>/<volume>/mnt`) that an agent which
/// died mid-snapshot left frozen, so its writers go on; returns how many were thawed.
pub async fn thaw_left_frozen(volumes: &Path) -> usize {
    let mut thawed = 0;
    for tenant in subdirectories(volumes) {
        for volume in subdirectories(&tenant) {
            let mount = volume.join("mnt");
            if host::is_mounted(&mount).await && host::thaw(&mount).await.is_ok() {
                thawed += 1;
            }
        }
    }
    thawed
}

fn subdirectories(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    entries.map(|e| e.path()).filter(|p| p.is_dir()).collect()
}
