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
    if output.status.success() {
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
    std::fs::OpenOptions::new()
        .write(true)
        .open(image)
        .and_then(|file| file.set_len(size_bytes))
        .map_err(|e| HostError {
            command: format!("truncate {}", image.display()),
            output: e.to_string(),
        })?;
    run("losetup", &["--set-capacity", &device]).await?;
    run("resize2fs", &[&device]).await.map(drop)
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
