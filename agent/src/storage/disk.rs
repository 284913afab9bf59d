//! The host operations a volume's life is made of, behind a small trait: [`LoopExt4`] runs them
//! on the host ([`super::host`]); the recording fake ([`super::fake`]) lets the volume logic
//! and the executor be tested without root or loop devices.

use std::path::Path;

use async_trait::async_trait;

use super::host::{self, HostResult};

/// What [`super::volumes::Volumes`] needs from the host.
#[async_trait]
pub trait Disk: Send + Sync + 'static {
    /// Creates a sparse image of `size_bytes` holding an empty filesystem whose root is owned by
    /// `0:fs_group`; fails when `image` exists.
    async fn make_image(&self, image: &Path, size_bytes: u64, fs_group: u32) -> HostResult<()>;
    /// Mounts the filesystem in `image` on `dir`, read-write.
    async fn mount(&self, image: &Path, dir: &Path) -> HostResult<()>;
    /// Unmounts `dir`.
    async fn unmount(&self, dir: &Path) -> HostResult<()>;
    /// Whether something is mounted on `dir`; a syscall, no process.
    fn is_mounted(&self, dir: &Path) -> bool;
    /// Grows the image mounted on `dir` and its filesystem to `size_bytes` while it stays mounted.
    async fn grow_online(&self, image: &Path, size_bytes: u64) -> HostResult<()>;
    /// Grows an image that is mounted nowhere, and its filesystem, to `size_bytes`.
    async fn grow_offline(&self, image: &Path, size_bytes: u64) -> HostResult<()>;
    /// Creates the data directory containers see: owned by 65534:`fs_group`, mode 2775.
    fn make_data_dir(&self, data: &Path, fs_group: u32) -> HostResult<()>;
    /// The group owning `dir`.
    fn group_of(&self, dir: &Path) -> HostResult<u32>;
    /// The size and bytes used of the filesystem mounted on `dir`; `None` when not mounted.
    fn usage(&self, dir: &Path) -> HostResult<Option<(u64, u64)>>;
}

/// Sparse ext4 images on loop devices, through the host's tools.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoopExt4;

#[async_trait]
impl Disk for LoopExt4 {
    async fn make_image(&self, image: &Path, size_bytes: u64, fs_group: u32) -> HostResult<()> {
        host::make_image(image, size_bytes, fs_group).await
    }

    async fn mount(&self, image: &Path, dir: &Path) -> HostResult<()> {
        host::mount_image(image, dir, false).await
    }

    async fn unmount(&self, dir: &Path) -> HostResult<()> {
        host::unmount(dir).await
    }

    fn is_mounted(&self, dir: &Path) -> bool {
        host::is_mount_point(dir)
    }

    async fn grow_online(&self, image: &Path, size_bytes: u64) -> HostResult<()> {
        host::grow(image, size_bytes).await
    }

    async fn grow_offline(&self, image: &Path, size_bytes: u64) -> HostResult<()> {
        host::grow_offline(image, size_bytes).await
    }

    fn make_data_dir(&self, data: &Path, fs_group: u32) -> HostResult<()> {
        host::make_data_dir(data, fs_group)
    }

    fn group_of(&self, dir: &Path) -> HostResult<u32> {
        host::group_of(dir)
    }

    fn usage(&self, dir: &Path) -> HostResult<Option<(u64, u64)>> {
        host::mounted_usage(dir)
    }
}
