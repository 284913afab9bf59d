//! How this node enforces volume sizes, found out once when the agent starts: a probe makes a
//! tiny ext4 image in the storage directory, mounts it through a loop device, grows it while
//! mounted, unmounts and deletes it. If that works the mechanism is `loop-ext4`; otherwise
//! `none`, with why and what to install — and volumes are refused, never made unlimited.

use std::path::{Path, PathBuf};

use super::host;

/// The name of the mechanism of sparse ext4 images on loop devices.
pub const LOOP_EXT4: &str = "loop-ext4";
/// The name reported when no mechanism works on this host.
pub const NONE: &str = "none";

/// The tools volumes are made with, and the Debian package each comes in.
pub const TOOLS: &[(&str, &str)] = &[
    ("mkfs.ext4", "e2fsprogs"),
    ("e2fsck", "e2fsprogs"),
    ("resize2fs", "e2fsprogs"),
    ("mount", "mount"),
    ("umount", "mount"),
    ("losetup", "mount"),
    ("fsfreeze", "util-linux"),
];

/// The size of the probe image: large enough for an ext4 with a journal.
const PROBE_BYTES: u64 = 16 << 20;

/// How this node enforces volume sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// A sparse ext4 image per volume on a loop device: the kernel refuses writes past its size.
    LoopExt4 {
        /// Whether a mounted filesystem can grow (the kernel wants CAP_SYS_RESOURCE for it);
        /// without it a volume grows only while no container mounts it.
        online_growth: bool,
    },
    /// No mechanism works here.
    Unavailable {
        /// Why, and what to do about it.
        reason: String,
    },
}

impl Mechanism {
    /// `loop-ext4` or `none`.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::LoopExt4 { .. } => LOOP_EXT4,
            Mechanism::Unavailable { .. } => NONE,
        }
    }

    /// One sentence on what it means, or why volumes cannot be made here.
    pub fn detail(&self) -> String {
        match self {
            Mechanism::LoopExt4 {
                online_growth: true,
            } => "hard size limits by a sparse ext4 image per volume".to_owned(),
            Mechanism::LoopExt4 {
                online_growth: false,
            } => "hard size limits by a sparse ext4 image per volume; without CAP_SYS_RESOURCE a \
                  volume grows only while no container mounts it"
                .to_owned(),
            Mechanism::Unavailable { reason } => reason.clone(),
        }
    }

    /// Whether volumes can be made at all.
    pub fn is_available(&self) -> bool {
        matches!(self, Mechanism::LoopExt4 { .. })
    }

    /// The line `mini server` and `mini agent` print at start.
    pub fn summary(&self) -> String {
        format!("volumes: {} ({})", self.name(), self.detail())
    }
}

/// The first of [`TOOLS`] found in none of the directories of `path` (a `PATH` value), as
/// "mkfs.ext4 not found: apt-get install e2fsprogs".
pub fn missing_tool(path: &str, exists: impl Fn(&Path) -> bool) -> Option<String> {
    let dirs: Vec<&Path> = path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(Path::new)
        .collect();
    TOOLS
        .iter()
        .find(|(tool, _)| !dirs.iter().any(|dir| exists(&dir.join(tool))))
        .map(|(tool, package)| format!("{tool} not found: apt-get install {package}"))
}

/// Creates the storage directory and probes it. Returns the directory as an absolute path
/// (Docker binds volumes by absolute path) with the mechanism found.
pub async fn detect(storage_dir: &Path) -> (PathBuf, Mechanism) {
    let none = |reason: String| Mechanism::Unavailable { reason };
    if let Err(e) = std::fs::create_dir_all(storage_dir) {
        let reason = format!(
            "cannot create the storage directory {}: {e}; create it, or give the agent one it \
             may write (--storage-dir)",
            storage_dir.display()
        );
        return (storage_dir.to_path_buf(), none(reason));
    }
    let root = std::fs::canonicalize(storage_dir).unwrap_or_else(|_| storage_dir.to_path_buf());
    let path = std::env::var("PATH").unwrap_or_default();
    if let Some(reason) = missing_tool(&path, Path::is_file) {
        return (root, none(reason));
    }
    if !Path::new("/dev/loop-control").exists() {
        let reason = "no loop devices (/dev/loop-control is missing): load the loop module \
                      (modprobe loop), or give the agent's container the host's loop devices"
            .to_owned();
        return (root, none(reason));
    }
    let probe = root.join(format!("probe-{}", std::process::id()));
    let mechanism = probe_in(&probe).await;
    if host::is_mount_point(&probe.join("mnt")) {
        let _ = host::unmount(&probe.join("mnt")).await;
    }
    let _ = std::fs::remove_dir_all(&probe);
    (root, mechanism.unwrap_or_else(none))
}

/// Makes, mounts, grows and unmounts an image in `dir` (which it creates); the caller removes
/// `dir`. `Err` holds the reason volumes cannot work.
async fn probe_in(dir: &Path) -> Result<Mechanism, String> {
    let mount = dir.join("mnt");
    let image = dir.join("disk.img");
    std::fs::create_dir_all(&mount)
        .map_err(|e| format!("cannot create the probe directory {}: {e}", mount.display()))?;
    host::make_image(&image, PROBE_BYTES, 0)
        .await
        .map_err(|e| format!("cannot make an ext4 image in the storage directory: {e}"))?;
    host::mount_image(&image, &mount, false)
        .await
        .map_err(|e| {
            format!(
                "cannot mount an ext4 image through a loop device: {e}; the agent needs root (or \
             CAP_SYS_ADMIN) and access to /dev/loop*"
            )
        })?;
    let online_growth = host::grow(&image, PROBE_BYTES * 2).await.is_ok();
    host::unmount(&mount)
        .await
        .map_err(|e| format!("cannot unmount the probe image: {e}"))?;
    Ok(Mechanism::LoopExt4 { online_growth })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_tool_is_named_with_its_package() {
        let only = |present: Vec<&'static str>| {
            move |p: &Path| present.iter().any(|t| p == Path::new("/usr/sbin").join(t))
        };
        let all = || TOOLS.iter().map(|(tool, _)| *tool).collect::<Vec<_>>();
        assert_eq!(missing_tool("/usr/bin:/usr/sbin", only(all())), None);
        assert_eq!(
            missing_tool("/usr/bin:/usr/sbin", only(vec!["mount"])).as_deref(),
            Some("mkfs.ext4 not found: apt-get install e2fsprogs")
        );
        let no_e2fsck = all().into_iter().filter(|t| *t != "e2fsck").collect();
        assert_eq!(
            missing_tool("/usr/sbin", only(no_e2fsck)).as_deref(),
            Some("e2fsck not found: apt-get install e2fsprogs")
        );
        assert_eq!(
            missing_tool("/usr/bin", only(all())).as_deref(),
            Some("mkfs.ext4 not found: apt-get install e2fsprogs")
        );
    }

    #[test]
    fn the_summary_names_the_mechanism_and_what_it_means() {
        let online = Mechanism::LoopExt4 {
            online_growth: true,
        };
        assert_eq!(
            online.summary(),
            "volumes: loop-ext4 (hard size limits by a sparse ext4 image per volume)"
        );
        let offline = Mechanism::LoopExt4 {
            online_growth: false,
        };
        assert!(offline.detail().contains("CAP_SYS_RESOURCE"));
        let none = Mechanism::Unavailable {
            reason: "no loop devices".into(),
        };
        assert_eq!(none.summary(), "volumes: none (no loop devices)");
        assert!(!none.is_available() && online.is_available());
    }

    #[tokio::test]
    async fn a_storage_directory_that_cannot_be_created_is_reported_with_what_to_do() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let (_, mechanism) = detect(&file.path().join("storage")).await;
        assert_eq!(mechanism.name(), NONE);
        let detail = mechanism.detail();
        assert!(
            detail.contains("cannot create the storage directory"),
            "{detail}"
        );
        assert!(detail.contains("--storage-dir"), "{detail}");
    }
}
