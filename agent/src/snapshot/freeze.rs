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
    /// Freezes the filesystem mounted on `mount`.
    pub async fn freeze(mount: &Path) -> HostResult<Frozen> {
        host::freeze(mount).await?;
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
