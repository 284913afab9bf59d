//! Which running containers have a volume's filesystem mounted: the kernel's view (every
//! mount namespace other than the agent's that holds the filesystem's device), named through
//! the container runtime. A restore in place must not swap the filesystem under them.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use crate::runtime::Runtime;

/// Finds the running containers using a volume.
#[derive(Clone)]
pub struct VolumeUsers {
    runtime: Arc<dyn Runtime>,
}

impl VolumeUsers {
    /// Names containers through `runtime`.
    pub fn new(runtime: Arc<dyn Runtime>) -> VolumeUsers {
        VolumeUsers { runtime }
    }

    /// The names of the running containers (or container ids, or process ids when a process
    /// is in no container) that have the filesystem mounted on `mount` mounted.
    pub async fn of(&self, mount: &Path) -> io::Result<Vec<String>> {
        let mount = mount.to_path_buf();
        let holders = tokio::task::spawn_blocking(move || holders(&mount))
            .await
            .map_err(io::Error::other)??;
        if holders.is_empty() {
            return Ok(Vec::new());
        }
        let containers = self
            .runtime
            .list_containers()
            .await
            .map_err(io::Error::other)?;
        let names = holders
            .into_iter()
            .map(|holder| match holder {
                Holder::Container(id) => containers
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| c.name.clone())
                    .unwrap_or(id),
                Holder::Process(pid) => format!("process {pid}"),
            })
            .collect::<BTreeSet<_>>();
        Ok(names.into_iter().collect())
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Holder {
    Container(String),
    Process(u32),
}

/// One holder per foreign mount namespace that has the device of `mount` mounted.
fn holders(mount: &Path) -> io::Result<BTreeSet<Holder>> {
    let dev = std::fs::metadata(mount)?.dev();
    let device = format!("{}:{}", rustix::fs::major(dev), rustix::fs::minor(dev));
    let own = std::fs::read_link("/proc/self/ns/mnt")?;
    let mut seen = BTreeSet::new();
    let mut holders = BTreeSet::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let proc = Path::new("/proc").join(pid.to_string());
        // A process that exited meanwhile holds nothing.
        let Ok(ns) = std::fs::read_link(proc.join("ns/mnt")) else {
            continue;
        };
        if ns == own || !seen.insert(ns) {
            continue;
        }
        let Ok(mountinfo) = std::fs::read_to_string(proc.join("mountinfo")) else {
            continue;
        };
        if mountinfo.lines().any(|line| uses(line, &device)) {
            holders.insert(match container_of(pid) {
                Some(id) => Holder::Container(id),
                None => Holder::Process(pid),
            });
        }
    }
    Ok(holders)
}

/// Whether a mountinfo line is a use of the filesystem on `device`: a bind of a directory
/// inside it (containers get its `data/`). The whole filesystem mounted at its root is the
/// host's own mount, which mount propagation copies into namespaces made while it was
/// mounted; that is nobody using the volume.
fn uses(line: &str, device: &str) -> bool {
    let mut fields = line.split(' ').skip(2);
    fields.next() == Some(device) && fields.next().is_some_and(|root| root != "/")
}

/// The id of the container `pid` runs in: the `-id` of the containerd shim it descends from.
/// (A cgroup path is no guide: under a nested engine it names the outer container.)
fn container_of(pid: u32) -> Option<String> {
    let mut current = pid;
    for _ in 0..64 {
        let proc = Path::new("/proc").join(current.to_string());
        let cmdline = std::fs::read(proc.join("cmdline")).ok()?;
        if let Some(id) = shim_id(&cmdline) {
            return Some(id);
        }
        current = parent_of(&std::fs::read_to_string(proc.join("stat")).ok()?)?;
        if current <= 1 {
            return None;
        }
    }
    None
}

/// The container id a containerd shim's command line names.
fn shim_id(cmdline: &[u8]) -> Option<String> {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let program = String::from_utf8_lossy(args.first()?);
    if !program.contains("containerd-shim") {
        return None;
    }
    let at = args.iter().position(|a| *a == b"-id")?;
    args.get(at + 1)
        .map(|id| String::from_utf8_lossy(id).into_owned())
}

/// The parent pid in a `/proc/<pid>/stat` line (the field after the parenthesised name).
fn parent_of(stat: &str) -> Option<u32> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bind_of_the_volumes_data_is_a_use_and_a_propagated_host_mount_is_not() {
        let bind = "812 790 7:3 /data /data rw,relatime - ext4 /dev/loop3 rw";
        let host = "655 29 7:3 / /srv/storage/volumes/acme/data/mnt rw - ext4 /dev/loop3 rw";
        assert!(uses(bind, "7:3"));
        assert!(!uses(host, "7:3"));
        assert!(!uses(bind, "7:30"));
    }

    #[test]
    fn a_container_is_found_through_its_shim() {
        let shim =
            b"/usr/bin/containerd-shim-runc-v2\0-namespace\0moby\0-id\0abc123\0-address\0x\0";
        assert_eq!(shim_id(shim), Some("abc123".to_owned()));
        assert_eq!(shim_id(b"/bin/sleep\0sixty\0"), None);
        assert_eq!(parent_of("4242 (sl ee)p) S 17 4242 0"), Some(17));
    }
}
