//! A node's volumes on its disk: creating one (empty, or filled before it is moved into place),
//! attaching it again after a restart, growing it, removing it with or without its data, and
//! measuring it. An image is never formatted twice: whatever exists is attached, never made
//! again. Docker knows nothing of this module; the executor makes the Docker volume on top.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minicloud_manifests::validate::is_dns_subdomain;

use super::disk::{Disk, LoopExt4};
use super::fill::FillError;
use super::host::HostError;
use super::layout::{Layout, VolumePaths};
use super::mechanism::{self, Mechanism};

/// What failed while handling a volume.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// No mechanism enforcing sizes works on this node; volumes are refused, never unlimited.
    #[error("volumes cannot be made on this node: {0}")]
    Unavailable(String),
    /// A tenant or volume name that cannot be a directory name safely.
    #[error("{what} {value:?} cannot name a volume; use lowercase letters, digits, '-' and '.'")]
    InvalidName {
        /// `tenant` or `volume`.
        what: &'static str,
        /// The name given.
        value: String,
    },
    /// A host command failed.
    #[error("volume {volume}: {source}")]
    Host {
        /// `<tenant>/<name>`.
        volume: String,
        /// The command and what it printed.
        #[source]
        source: HostError,
    },
    /// A file operation in the storage directory failed.
    #[error("volume {volume}: cannot {step} {}: {source}", path.display())]
    Io {
        /// `<tenant>/<name>`.
        volume: String,
        /// What was being done (`create`, `move`, `delete`).
        step: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The host cannot grow a mounted filesystem and a container mounts this one.
    #[error(
        "volume {volume} cannot grow from {from} to {to} bytes while a container mounts it: \
         growing a mounted ext4 filesystem needs CAP_SYS_RESOURCE, which the agent lacks; stop \
         the instances that mount it (it grows on the next EnsureVolume), or give the agent \
         CAP_SYS_RESOURCE"
    )]
    GrowWhileMounted {
        /// `<tenant>/<name>`.
        volume: String,
        /// Its size now.
        from: u64,
        /// The size asked.
        to: u64,
    },
    /// Filling a new volume failed; nothing of it is left.
    #[error(
        "volume {volume}: filling it from its snapshot failed: {source}; the volume was not \
         created, and the next EnsureVolume starts again from an empty image"
    )]
    FillFailed {
        /// `<tenant>/<name>`.
        volume: String,
        /// What the filler said.
        #[source]
        source: FillError,
    },
    /// Unmounting reported success but something is still mounted; the data is kept.
    #[error("volume {volume} is still mounted on {}; its data was not deleted", mount.display())]
    StillMounted {
        /// `<tenant>/<name>`.
        volume: String,
        /// The mount point.
        mount: PathBuf,
    },
}

/// The result of a volume operation.
pub type Result<T, E = VolumeError> = std::result::Result<T, E>;

/// A volume whose filesystem is mounted on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Its paths; containers get `paths.data`.
    pub paths: VolumePaths,
    /// Its image's size: the volume's size.
    pub size_bytes: u64,
    /// The group owning its data directory.
    pub fs_group: u32,
    /// Whether this call created it.
    pub created: bool,
}

/// The volumes under one storage directory, made with one mechanism.
pub struct Volumes {
    layout: Layout,
    mechanism: Mechanism,
    disk: Arc<dyn Disk>,
}

impl Volumes {
    /// Volumes laid out by `layout`, made by `disk`, refused unless `mechanism` is available.
    pub fn new(layout: Layout, mechanism: Mechanism, disk: Arc<dyn Disk>) -> Volumes {
        Volumes {
            layout,
            mechanism,
            disk,
        }
    }

    /// Probes `storage_dir` (see [`mechanism::detect`]) and manages the volumes under it.
    pub async fn detect(storage_dir: &Path) -> Volumes {
        let (root, mechanism) = mechanism::detect(storage_dir).await;
        Volumes::new(Layout::new(root), mechanism, Arc::new(LoopExt4))
    }

    /// No volumes at all, for `reason`: every operation that would make one is refused.
    pub fn unavailable(reason: impl Into<String>) -> Volumes {
        let mechanism = Mechanism::Unavailable {
            reason: reason.into(),
        };
        Volumes::new(Layout::new(PathBuf::new()), mechanism, Arc::new(LoopExt4))
    }

    /// Where the volumes are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// How their sizes are enforced.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// The paths of `tenant`'s volume `name`, once both names are checked.
    pub fn paths(&self, tenant: &str, name: &str) -> Result<VolumePaths> {
        self.available()?;
        check_name("tenant", tenant)?;
        check_name("volume", name)?;
        Ok(self.layout.volume(tenant, name))
    }

    fn available(&self) -> Result<()> {
        match &self.mechanism {
            Mechanism::LoopExt4 { .. } => Ok(()),
            Mechanism::Unavailable { reason } => Err(VolumeError::Unavailable(reason.clone())),
        }
    }

    /// Mounts the volume again if its image exists and is not mounted (after a restart of the
    /// agent or the host); `None` when the volume does not exist.
    pub async fn attach(&self, tenant: &str, name: &str) -> Result<Option<Attached>> {
        let paths = self.paths(tenant, name)?;
        if !paths.image.is_file() {
            return Ok(None);
        }
        let volume = id(tenant, name);
        if !self.disk.is_mounted(&paths.mount) {
            self.mount(&volume, &paths).await?;
        }
        self.attached(&volume, paths, false).map(Some)
    }

    /// Creates an empty volume of `size_bytes` whose data directory belongs to `fs_group`, or
    /// attaches the one that exists.
    pub async fn create(
        &self,
        tenant: &str,
        name: &str,
        size_bytes: u64,
        fs_group: u32,
    ) -> Result<Attached> {
        self.create_filled(tenant, name, size_bytes, fs_group, |_| async { Ok(()) })
            .await
    }

    /// Creates a volume and lets `fill` write its content before the volume exists: the image
    /// is made and mounted under a staging name, its data directory (owned by
    /// 65534:`fs_group`, mode 2775) is handed to `fill`, and only when `fill` succeeds is the
    /// volume moved into place and mounted there. A crash or an error midway leaves at most a
    /// staging directory, which the next attempt (or the agent's next start) deletes. When the
    /// volume exists already it is attached and `fill` is not called: a volume that exists is
    /// complete.
    pub async fn create_filled<F, Fut>(
        &self,
        tenant: &str,
        name: &str,
        size_bytes: u64,
        fs_group: u32,
        fill: F,
    ) -> Result<Attached>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), FillError>>,
    {
        if let Some(existing) = self.attach(tenant, name).await? {
            return Ok(existing);
        }
        let volume = id(tenant, name);
        let staging = self.layout.staging(tenant, name);
        self.clear_staging(&volume, &staging).await?;
        let staged = self
            .stage(&volume, &staging, size_bytes, fs_group, fill)
            .await;
        if staged.is_err() {
            // The error is what the caller needs; a failed clean-up is retried next time.
            let _ = self.clear_staging(&volume, &staging).await;
        }
        staged?;
        let live = self.layout.volume(tenant, name);
        self.move_into_place(&volume, &staging, &live)?;
        self.mount(&volume, &live).await?;
        self.attached(&volume, live, true)
    }

    /// Makes, mounts and fills the staged image, and unmounts it again.
    async fn stage<F, Fut>(
        &self,
        volume: &str,
        staging: &VolumePaths,
        size_bytes: u64,
        fs_group: u32,
        fill: F,
    ) -> Result<()>
    where
        F: FnOnce(PathBuf) -> Fut,
        Fut: Future<Output = Result<(), FillError>>,
    {
        create_dir(volume, &staging.mount)?;
        self.disk
            .make_image(&staging.image, size_bytes, fs_group)
            .await
            .map_err(|e| host(volume, e))?;
        self.mount(volume, staging).await?;
        self.disk
            .make_data_dir(&staging.data, fs_group)
            .map_err(|e| host(volume, e))?;
        fill(staging.data.clone())
            .await
            .map_err(|source| VolumeError::FillFailed {
                volume: volume.to_owned(),
                source,
            })?;
        self.disk
            .unmount(&staging.mount)
            .await
            .map_err(|e| host(volume, e))
    }

    /// Moves a complete staged volume to its place, where no image is (a directory left there
    /// without one is an unfinished removal and goes).
    fn move_into_place(
        &self,
        volume: &str,
        staging: &VolumePaths,
        live: &VolumePaths,
    ) -> Result<()> {
        if live.dir.exists() {
            if self.disk.is_mounted(&live.mount) {
                return Err(VolumeError::StillMounted {
                    volume: volume.to_owned(),
                    mount: live.mount.clone(),
                });
            }
            remove_dir(volume, &live.dir)?;
        }
        if let Some(parent) = live.dir.parent() {
            create_dir(volume, parent)?;
        }
        std::fs::rename(&staging.dir, &live.dir).map_err(|source| VolumeError::Io {
            volume: volume.to_owned(),
            step: "move the staged volume to",
            path: live.dir.clone(),
            source,
        })
    }

    /// Deletes what an earlier, unfinished creation left, unmounting it first.
    async fn clear_staging(&self, volume: &str, staging: &VolumePaths) -> Result<()> {
        if self.disk.is_mounted(&staging.mount) {
            self.disk
                .unmount(&staging.mount)
                .await
                .map_err(|e| host(volume, e))?;
        }
        if staging.dir.exists() {
            remove_dir(volume, &staging.dir)?;
        }
        Ok(())
    }

    /// Whether the volume is smaller than `size_bytes` (and so [`Volumes::grow`] would change it).
    pub fn needs_growth(&self, attached: &Attached, size_bytes: u64) -> bool {
        size_bytes > attached.size_bytes
    }

    /// Grows an attached volume to `size_bytes`; a smaller size changes nothing (a volume never
    /// shrinks). Online when the host allows it; otherwise only when `mounted_by_containers`
    /// is false, by unmounting, growing and mounting again. True when it grew.
    pub async fn grow(
        &self,
        attached: &Attached,
        size_bytes: u64,
        mounted_by_containers: bool,
    ) -> Result<bool> {
        if !self.needs_growth(attached, size_bytes) {
            return Ok(false);
        }
        let paths = &attached.paths;
        let volume = volume_of(&self.layout, paths);
        match self.mechanism {
            Mechanism::LoopExt4 {
                online_growth: true,
            } => self.disk.grow_online(&paths.image, size_bytes).await,
            Mechanism::LoopExt4 {
                online_growth: false,
            } if mounted_by_containers => {
                return Err(VolumeError::GrowWhileMounted {
                    volume,
                    from: attached.size_bytes,
                    to: size_bytes,
                });
            }
            Mechanism::LoopExt4 {
                online_growth: false,
            } => {
                self.unmount(&volume, paths).await?;
                let grown = self.disk.grow_offline(&paths.image, size_bytes).await;
                self.mount(&volume, paths).await?;
                grown
            }
            Mechanism::Unavailable { ref reason } => {
                return Err(VolumeError::Unavailable(reason.clone()));
            }
        }
        .map_err(|e| host(&volume, e))?;
        Ok(true)
    }

    /// Detaches the volume and deletes its directory, image and all — or keeps the image when
    /// `keep_data`, so a later [`Volumes::attach`] finds the same data. Nothing to remove is
    /// success.
    pub async fn remove(&self, tenant: &str, name: &str, keep_data: bool) -> Result<()> {
        let paths = self.paths(tenant, name)?;
        let volume = id(tenant, name);
        if self.disk.is_mounted(&paths.mount) {
            self.unmount(&volume, &paths).await?;
        }
        if keep_data {
            return Ok(());
        }
        if self.disk.is_mounted(&paths.mount) {
            return Err(VolumeError::StillMounted {
                volume,
                mount: paths.mount,
            });
        }
        if paths.dir.exists() {
            remove_dir(&volume, &paths.dir)?;
        }
        if let Some(tenant_dir) = paths.dir.parent() {
            // Only an empty tenant directory goes; one with other volumes stays.
            let _ = std::fs::remove_dir(tenant_dir);
        }
        Ok(())
    }

    /// At agent start: deletes unfinished creations and mounts every volume whose image is not
    /// mounted (after a host reboot). Returns what failed; the rest is attached.
    pub async fn reattach_all(&self) -> Vec<VolumeError> {
        if self.available().is_err() {
            return Vec::new();
        }
        let mut failures = Vec::new();
        for (tenant, name) in listed(&self.layout.staging_root()) {
            let staging = self.layout.staging(&tenant, &name);
            if let Err(e) = self.clear_staging(&id(&tenant, &name), &staging).await {
                failures.push(e);
            }
        }
        for (tenant, name) in listed(&self.layout.volumes()) {
            if let Err(e) = self.attach(&tenant, &name).await {
                failures.push(e);
            }
        }
        failures
    }

    /// The size and bytes used of the volume's filesystem, when it is mounted: one statvfs,
    /// no process.
    pub fn usage(&self, tenant: &str, name: &str) -> Option<(u64, u64)> {
        let paths = self.paths(tenant, name).ok()?;
        self.disk.usage(&paths.mount).ok().flatten()
    }

    async fn mount(&self, volume: &str, paths: &VolumePaths) -> Result<()> {
        self.disk
            .mount(&paths.image, &paths.mount)
            .await
            .map_err(|e| host(volume, e))
    }

    async fn unmount(&self, volume: &str, paths: &VolumePaths) -> Result<()> {
        self.disk
            .unmount(&paths.mount)
            .await
            .map_err(|e| host(volume, e))
    }

    fn attached(&self, volume: &str, paths: VolumePaths, created: bool) -> Result<Attached> {
        let size_bytes = std::fs::metadata(&paths.image)
            .map_err(|source| VolumeError::Io {
                volume: volume.to_owned(),
                step: "read the size of",
                path: paths.image.clone(),
                source,
            })?
            .len();
        let fs_group = self
            .disk
            .group_of(&paths.data)
            .map_err(|e| host(volume, e))?;
        Ok(Attached {
            paths,
            size_bytes,
            fs_group,
            created,
        })
    }
}

/// `<tenant>/<name>`, as volumes are named in messages.
fn id(tenant: &str, name: &str) -> String {
    format!("{tenant}/{name}")
}

/// `<tenant>/<name>` of a volume's paths under `layout`.
fn volume_of(layout: &Layout, paths: &VolumePaths) -> String {
    paths.dir.strip_prefix(layout.volumes()).map_or_else(
        |_| paths.dir.display().to_string(),
        |p| p.display().to_string(),
    )
}

fn check_name(what: &'static str, value: &str) -> Result<()> {
    if is_dns_subdomain(value) {
        Ok(())
    } else {
        Err(VolumeError::InvalidName {
            what,
            value: value.to_owned(),
        })
    }
}

fn host(volume: &str, source: HostError) -> VolumeError {
    VolumeError::Host {
        volume: volume.to_owned(),
        source,
    }
}

fn create_dir(volume: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| VolumeError::Io {
        volume: volume.to_owned(),
        step: "create",
        path: dir.to_path_buf(),
        source,
    })
}

fn remove_dir(volume: &str, dir: &Path) -> Result<()> {
    std::fs::remove_dir_all(dir).map_err(|source| VolumeError::Io {
        volume: volume.to_owned(),
        step: "delete",
        path: dir.to_path_buf(),
        source,
    })
}

/// The `(tenant, name)` of every directory two levels below `root`.
fn listed(root: &Path) -> Vec<(String, String)> {
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().is_dir())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect()
    };
    let mut out = Vec::new();
    for tenant in names(root) {
        for name in names(&root.join(&tenant)) {
            out.push((tenant.clone(), name));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::fake::{DiskCall, FakeDisk};

    fn volumes(online_growth: bool) -> (tempfile::TempDir, FakeDisk, Volumes) {
        let dir = tempfile::tempdir().unwrap();
        let disk = FakeDisk::new();
        let mechanism = Mechanism::LoopExt4 { online_growth };
        let volumes = Volumes::new(Layout::new(dir.path()), mechanism, Arc::new(disk.clone()));
        (dir, disk, volumes)
    }

    #[tokio::test]
    async fn a_new_volume_is_made_staged_then_moved_into_place_and_mounted() {
        let (_dir, disk, volumes) = volumes(true);
        let made = volumes.create("acme", "data", 1 << 20, 1000).await.unwrap();
        assert!(made.created);
        assert_eq!((made.size_bytes, made.fs_group), (1 << 20, 1000));
        let live = volumes.layout().volume("acme", "data");
        let staging = volumes.layout().staging("acme", "data");
        assert_eq!(made.paths, live);
        assert!(live.image.is_file() && !staging.dir.exists());
        let calls = disk.calls();
        assert_eq!(
            calls,
            [
                DiskCall::MakeImage(staging.image.clone(), 1 << 20, 1000),
                DiskCall::Mount(staging.image, staging.mount.clone()),
                DiskCall::Unmount(staging.mount),
                DiskCall::Mount(live.image, live.mount.clone()),
            ]
        );
        assert_eq!(volumes.usage("acme", "data"), Some((1 << 20, 0)));
    }

    #[tokio::test]
    async fn an_existing_image_is_attached_again_and_never_made_twice() {
        let (_dir, disk, volumes) = volumes(true);
        volumes.create("acme", "data", 1 << 20, 0).await.unwrap();
        disk.reboot();
        disk.clear_calls();
        let again = volumes.create("acme", "data", 1 << 20, 0).await.unwrap();
        assert!(!again.created);
        let live = volumes.layout().volume("acme", "data");
        assert_eq!(disk.calls(), [DiskCall::Mount(live.image, live.mount)]);
        disk.clear_calls();
        assert!(volumes.attach("acme", "data").await.unwrap().is_some());
        assert_eq!(disk.calls(), [], "a mounted volume is left as it is");
        assert!(volumes.attach("acme", "other").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_filler_writes_into_the_staged_data_directory_before_the_volume_exists() {
        let (_dir, _disk, volumes) = volumes(true);
        let live = volumes.layout().volume("acme", "data");
        let seen = live.image.clone();
        let made = volumes
            .create_filled("acme", "data", 1 << 20, 0, |data| async move {
                assert!(!seen.exists(), "nothing is in place while filling");
                std::fs::write(data.join("restored.txt"), "hello")?;
                Ok(())
            })
            .await
            .unwrap();
        let restored = std::fs::read_to_string(made.paths.data.join("restored.txt")).unwrap();
        assert_eq!(restored, "hello");
    }

    #[tokio::test]
    async fn a_failed_fill_leaves_nothing_and_the_next_attempt_starts_afresh() {
        let (_dir, disk, volumes) = volumes(true);
        let failed = volumes
            .create_filled("acme", "data", 1 << 20, 0, |_| async {
                Err::<(), FillError>("archive checksum mismatch".into())
            })
            .await
            .unwrap_err();
        assert!(
            failed.to_string().contains("archive checksum mismatch"),
            "{failed}"
        );
        let staging = volumes.layout().staging("acme", "data");
        assert!(!staging.dir.exists() && !disk.is_mounted(&staging.mount));
        assert!(volumes.attach("acme", "data").await.unwrap().is_none());
        std::fs::create_dir_all(&staging.mount).unwrap();
        std::fs::write(&staging.image, "left by a crash").unwrap();
        let made = volumes.create("acme", "data", 1 << 20, 0).await.unwrap();
        assert!(made.created && !staging.dir.exists());
    }

    #[tokio::test]
    async fn growth_is_online_when_the_host_allows_it_and_never_shrinks() {
        let (_dir, disk, volumes) = volumes(true);
        let made = volumes.create("acme", "data", 1 << 20, 0).await.unwrap();
        disk.clear_calls();
        assert!(!volumes.grow(&made, 1 << 19, true).await.unwrap());
        assert!(volumes.grow(&made, 2 << 20, true).await.unwrap());
        assert_eq!(
            disk.calls(),
            [DiskCall::GrowOnline(made.paths.image.clone(), 2 << 20)]
        );
        let now = volumes.attach("acme", "data").await.unwrap().unwrap();
        assert_eq!(now.size_bytes, 2 << 20);
    }

    #[tokio::test]
    async fn without_online_growth_a_volume_grows_only_while_no_container_mounts_it() {
        let (_dir, disk, volumes) = volumes(false);
        let made = volumes.create("acme", "data", 1 << 20, 0).await.unwrap();
        disk.clear_calls();
        let refused = volumes.grow(&made, 2 << 20, true).await.unwrap_err();
        assert!(
            refused.to_string().contains("CAP_SYS_RESOURCE"),
            "{refused}"
        );
        assert_eq!(disk.calls(), []);
        assert!(volumes.grow(&made, 2 << 20, false).await.unwrap());
        let paths = made.paths;
        assert_eq!(
            disk.calls(),
            [
                DiskCall::Unmount(paths.mount.clone()),
                DiskCall::GrowOffline(paths.image.clone(), 2 << 20),
                DiskCall::Mount(paths.image, paths.mount.clone()),
            ]
        );
        assert!(disk.is_mounted(&paths.mount));
    }

    #[tokio::test]
    async fn removal_deletes_the_data_unless_it_is_kept_for_the_next_attach() {
        let (_dir, disk, volumes) = volumes(true);
        let made = volumes.create("acme", "data", 1 << 20, 0).await.unwrap();
        volumes.remove("acme", "data", true).await.unwrap();
        assert!(made.paths.image.is_file() && !disk.is_mounted(&made.paths.mount));
        let again = volumes.attach("acme", "data").await.unwrap().unwrap();
        assert!(!again.created && disk.is_mounted(&made.paths.mount));
        volumes.remove("acme", "data", false).await.unwrap();
        assert!(!made.paths.dir.exists());
        assert!(!volumes.layout().volumes().join("acme").exists());
        volumes.remove("acme", "data", false).await.unwrap();
    }

    #[tokio::test]
    async fn reattaching_at_start_mounts_every_image_and_clears_unfinished_ones() {
        let (_dir, disk, volumes) = volumes(true);
        volumes.create("acme", "a", 1 << 20, 0).await.unwrap();
        volumes.create("beta", "b", 1 << 20, 0).await.unwrap();
        let stale = volumes.layout().staging("acme", "c");
        std::fs::create_dir_all(&stale.mount).unwrap();
        disk.reboot();
        assert!(volumes.reattach_all().await.is_empty());
        for (tenant, name) in [("acme", "a"), ("beta", "b")] {
            let paths = volumes.layout().volume(tenant, name);
            assert!(disk.is_mounted(&paths.mount), "{tenant}/{name}");
        }
        assert!(!stale.dir.exists());
    }

    #[tokio::test]
    async fn without_a_mechanism_or_with_unsafe_names_nothing_is_made() {
        let none = Volumes::unavailable("mkfs.ext4 not found: apt-get install e2fsprogs");
        let refused = none.create("acme", "data", 1 << 20, 0).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "volumes cannot be made on this node: mkfs.ext4 not found: apt-get install e2fsprogs"
        );
        assert!(none.reattach_all().await.is_empty());
        let (_dir, _disk, volumes) = volumes(true);
        for (tenant, name) in [("acme", "../x"), ("a/b", "data"), ("acme", "")] {
            let refused = volumes.create(tenant, name, 1 << 20, 0).await.unwrap_err();
            assert!(
                matches!(refused, VolumeError::InvalidName { .. }),
                "{refused}"
            );
        }
    }
}
