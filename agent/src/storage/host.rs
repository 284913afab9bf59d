//! The host operations volumes are made of: sparse ext4 images, loop mounts, freezing a
//! filesystem for a point-in-time copy, online growth and usage. Each runs the standard
//! util-linux / e2fsprogs tool and turns a failure into an error naming the command and what
//! it printed.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

/// A host command that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{command} failed: {output}")]
pub struct HostError {
    /// The command line, for the message.
    pub command: String,
    /// What it printed on stderr (or how it could not be run).
    pub output: String,
}

/// The result of a host operation.
pub type HostResult<T> = std::result::Result<T, HostError>;

/// Runs `program args…`, returning its stdout.
async fn run(program: &str, args: &[&str]) -> HostResult<String> {
    run_accepting(program, args, &[0]).await
}

/// Runs `program args…`, returning its stdout when it exits with one of `ok_codes`.
async fn run_accepting(program: &str, args: &[&str], ok_codes: &[i32]) -> HostResult<String> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| HostError {
            command: command.clone(),
            output: format!("cannot run {program}: {e}"),
        })?;
    if output
        .status
        .code()
        .is_some_and(|code| ok_codes.contains(&code))
    {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        Err(HostError {
            command,
            output: if stderr.is_empty() {
                output.status.to_string()
            } else {
                stderr
            },
        })
    }
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap_or_default()
}

/// Creates a sparse image of `size_bytes` at `image` holding an empty ext4 filesystem whose
/// root is owned by `0:fs_group`. No blocks are reserved for root: the whole size is the
/// tenant's. Fails when `image` exists (an image is never formatted twice).
pub async fn make_image(image: &Path, size_bytes: u64, fs_group: u32) -> HostResult<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(image)
        .map_err(|e| HostError {
            command: format!("create {}", image.display()),
            output: e.to_string(),
        })?;
    file.set_len(size_bytes).map_err(|e| HostError {
        command: format!("truncate {}", image.display()),
        output: e.to_string(),
    })?;
    drop(file);
    let owner = format!("root_owner=0:{fs_group}");
    run(
        "mkfs.ext4",
        &["-q", "-F", "-m", "0", "-E", &owner, text(image)],
    )
    .await
    .map(drop)
}

/// Mounts the filesystem in `image` on `dir` through a loop device (read-only, without
/// replaying its journal, when `read_only`).
pub async fn mount_image(image: &Path, dir: &Path, read_only: bool) -> HostResult<()> {
    let options = if read_only { "loop,ro,noload" } else { "loop" };
    run("mount", &["-o", options, text(image), text(dir)])
        .await
        .map(drop)
}

/// Whether something is mounted on `dir`.
pub async fn is_mounted(dir: &Path) -> bool {
    run("mountpoint", &["-q", text(dir)]).await.is_ok()
}

/// Unmounts `dir` (its loop device is released with it).
pub async fn unmount(dir: &Path) -> HostResult<()> {
    run("umount", &[text(dir)]).await.map(drop)
}

/// Freezes the filesystem mounted on `dir`: its dirty data is flushed, it is consistent on
/// its device, and writers block until [`thaw`].
pub async fn freeze(dir: &Path) -> HostResult<()> {
    run("fsfreeze", &["--freeze", text(dir)]).await.map(drop)
}

/// Lets writers of a frozen filesystem go on.
pub async fn thaw(dir: &Path) -> HostResult<()> {
    run("fsfreeze", &["--unfreeze", text(dir)]).await.map(drop)
}

/// Grows the image to `size_bytes` and the filesystem in it, online: while it stays mounted.
pub async fn grow(image: &Path, size_bytes: u64) -> HostResult<()> {
    let device = loop_device_of(image).await?;
    extend(image, size_bytes)?;
    run("losetup", &["--set-capacity", &device]).await?;
    run("resize2fs", &[&device]).await.map(drop)
}

/// Makes the image file `size_bytes` long (sparse: no block is written).
fn extend(image: &Path, size_bytes: u64) -> HostResult<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(image)
        .and_then(|file| file.set_len(size_bytes))
        .map_err(|e| HostError {
            command: format!("truncate {}", image.display()),
            output: e.to_string(),
        })
}

/// The loop device `image` is attached to.
async fn loop_device_of(image: &Path) -> HostResult<String> {
    let args = [
        "--noheadings",
        "--output",
        "NAME",
        "--associated",
        text(image),
    ];
    let listing = run("losetup", &args).await?;
    listing
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| HostError {
            command: format!("losetup --associated {}", image.display()),
            output: "the image is not attached to a loop device".into(),
        })
}

/// The size and bytes used of the filesystem mounted on `dir`, as `df` counts them.
pub fn usage(dir: &Path) -> HostResult<(u64, u64)> {
    let stats = rustix::fs::statvfs(dir).map_err(|e| HostError {
        command: format!("statvfs {}", dir.display()),
        output: e.to_string(),
    })?;
    let size = stats.f_frsize * stats.f_blocks;
    Ok((size, size.saturating_sub(stats.f_frsize * stats.f_bfree)))
}

/// Whether `dir` is a mount point, as `mountpoint` decides it but without a process: its
/// device differs from its parent's, or it is its parent (`/`). False when it does not exist.
pub fn is_mount_point(dir: &Path) -> bool {
    let (Ok(own), Ok(parent)) = (rustix::fs::stat(dir), rustix::fs::stat(dir.join(".."))) else {
        return false;
    };
    own.st_dev != parent.st_dev || own.st_ino == parent.st_ino
}

/// The size and bytes used of the filesystem mounted on `dir`, or `None` when nothing is
/// mounted there (the host's own filesystem is never reported as the volume's).
pub fn mounted_usage(dir: &Path) -> HostResult<Option<(u64, u64)>> {
    if is_mount_point(dir) {
        usage(dir).map(Some)
    } else {
        Ok(None)
    }
}

/// The user owning a volume's data directory: `nobody`, the default user of tenant containers.
pub const DATA_OWNER: u32 = 65534;

/// Creates `data`, the directory containers see, owned by [`DATA_OWNER`]`:fs_group` with mode
/// 2775: group-writable, and setgid so what is created in it belongs to `fs_group` too.
pub fn make_data_dir(data: &Path, fs_group: u32) -> HostResult<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let failed = |step: &str, e: std::io::Error| HostError {
        command: format!("{step} {}", data.display()),
        output: e.to_string(),
    };
    std::fs::create_dir(data).map_err(|e| failed("mkdir", e))?;
    std::os::unix::fs::chown(data, Some(DATA_OWNER), Some(fs_group))
        .map_err(|e| failed(&format!("chown {DATA_OWNER}:{fs_group}"), e))?;
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o2775))
        .map_err(|e| failed("chmod 2775", e))
}

/// The group owning `dir`.
pub fn group_of(dir: &Path) -> HostResult<u32> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(dir)
        .map(|m| m.gid())
        .map_err(|e| HostError {
            command: format!("stat {}", dir.display()),
            output: e.to_string(),
        })
}

/// Grows the image to `size_bytes` and the filesystem in it while it is not mounted anywhere:
/// checked first (`resize2fs` insists), then resized. For hosts where [`grow`] is refused.
pub async fn grow_offline(image: &Path, size_bytes: u64) -> HostResult<()> {
    extend(image, size_bytes)?;
    // e2fsck exits 1 when it corrected something, which leaves the filesystem consistent.
    run_accepting("e2fsck", &["-f", "-p", text(image)], &[0, 1]).await?;
    run("resize2fs", &[text(image)]).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_a_mount_point_and_a_plain_directory_is_not() {
        assert!(is_mount_point(Path::new("/")));
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        assert!(!is_mount_point(&plain));
        assert!(!is_mount_point(&dir.path().join("missing")));
        assert_eq!(mounted_usage(&plain).unwrap(), None);
    }
}
