//! Shared set-up of the snapshot tests: a real volume (a sparse ext4 image on a loop device,
//! mounted) in a temporary storage directory, unmounted when dropped; a fingerprint of every
//! entry of a tree; and the snapshot calls collected into their final message.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use futures::StreamExt;
use minicloud_agent::AgentService;
use minicloud_agent::storage::host;
use minicloud_agent::storage::layout::{Layout, VolumePaths};
use minicloud_proto::v1::node_agent_server::NodeAgent;
use minicloud_proto::v1::{
    RestoreVolumeRequest, SnapshotArchive, SnapshotProgress, TakeSnapshotRequest,
};
use sha2::{Digest, Sha256};
use tonic::{Request, Status};

/// The tenant and name of every test volume.
pub const TENANT: &str = "acme";
/// The volume's name.
pub const VOLUME: &str = "data";
/// The group owning the volume's root.
pub const FS_GROUP: u32 = 2000;

/// A mounted volume in a storage directory of its own.
pub struct TestVolume {
    /// The storage directory.
    pub dir: tempfile::TempDir,
    /// Its layout.
    pub layout: Layout,
    /// The volume's paths.
    pub paths: VolumePaths,
}

impl TestVolume {
    /// A fresh, mounted volume of `size` bytes whose `data/` is owned by `0:FS_GROUP`.
    pub async fn new(size: u64) -> TestVolume {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path());
        let paths = layout.volume(TENANT, VOLUME);
        fs::create_dir_all(&paths.mount).unwrap();
        host::make_image(&paths.image, size, FS_GROUP)
            .await
            .unwrap();
        host::mount_image(&paths.image, &paths.mount, false)
            .await
            .unwrap();
        fs::create_dir(&paths.data).unwrap();
        std::os::unix::fs::chown(&paths.data, Some(0), Some(FS_GROUP)).unwrap();
        TestVolume { dir, layout, paths }
    }

    /// The local snapshot store's directory.
    pub fn store_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("snapshots")
    }

    /// Scratch directories left under the storage directory.
    pub fn scratch_left(&self) -> usize {
        fs::read_dir(self.dir.path().join("snapshot-work")).map_or(0, |d| d.count())
    }
}

impl Drop for TestVolume {
    fn drop(&mut self) {
        let work = self.dir.path().join("snapshot-work");
        let scratch = fs::read_dir(&work).into_iter().flatten().flatten();
        for mount in scratch
            .map(|e| e.path().join("mnt"))
            .chain([self.paths.mount.clone()])
        {
            let _ = std::process::Command::new("umount")
                .arg(&mount)
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Every entry under `root` by relative path: kind, content SHA-256 or link target, owner,
/// group and mode.
pub fn fingerprint(root: &Path) -> BTreeMap<String, String> {
    let mut entries = BTreeMap::new();
    walk(root, root, &mut entries);
    entries
}

fn walk(root: &Path, path: &Path, entries: &mut BTreeMap<String, String>) {
    let meta = fs::symlink_metadata(path).unwrap();
    let owner = format!("{}:{} {:o}", meta.uid(), meta.gid(), meta.mode());
    let name = path.strip_prefix(root).unwrap().display().to_string();
    let what = if meta.is_dir() {
        for child in fs::read_dir(path).unwrap() {
            walk(root, &child.unwrap().path(), entries);
        }
        "dir".to_owned()
    } else if meta.file_type().is_symlink() {
        format!("symlink {}", fs::read_link(path).unwrap().display())
    } else {
        let sha = Sha256::digest(fs::read(path).unwrap());
        format!("file {sha:x} links {}", meta.nlink())
    };
    entries.insert(name, format!("{what} {owner}"));
}

/// Collects a snapshot call's messages, failing on an error message.
pub async fn collect(
    stream: Result<
        tonic::Response<futures::stream::BoxStream<'static, Result<SnapshotProgress, Status>>>,
        Status,
    >,
) -> Result<Vec<SnapshotProgress>, Status> {
    let mut stream = stream?.into_inner();
    let mut messages = Vec::new();
    while let Some(message) = stream.next().await {
        messages.push(message?);
    }
    Ok(messages)
}

/// Takes a snapshot of the test volume to `location`; returns its final message.
pub async fn take(service: &AgentService, location: &str) -> SnapshotProgress {
    let request = TakeSnapshotRequest {
        tenant: TENANT.into(),
        volume: VOLUME.into(),
        location: location.into(),
    };
    let messages = collect(service.take_snapshot(Request::new(request)).await)
        .await
        .unwrap();
    let last = messages.last().cloned().unwrap();
    assert!(last.done, "the last message is not done: {last:?}");
    last
}

/// Restores the test volume in place from `archive`.
pub async fn restore(
    service: &AgentService,
    archive: SnapshotArchive,
) -> Result<Vec<SnapshotProgress>, Status> {
    let request = RestoreVolumeRequest {
        tenant: TENANT.into(),
        volume: VOLUME.into(),
        archive: Some(archive),
    };
    collect(service.restore_volume(Request::new(request)).await).await
}

/// The archive a snapshot's final message names.
pub fn archive_of(taken: &SnapshotProgress) -> SnapshotArchive {
    SnapshotArchive {
        location: taken.location.clone(),
        sha256: taken.sha256.clone(),
    }
}
