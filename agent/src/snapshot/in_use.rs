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
        if mountinfo
            .lines()
            .any(|line| line.split(' ').nth(2) == Some(device.as_str()))
        {
            let cgroup = std::fs::read_to_string(proc.join("cgroup")).unwrap_or_default();
            holders.insert(match container_id(&cgroup) {
                Some(id) => Holder::Container(id),
                None => Holder::Process(pid),
            });
        }
    }
    Ok(holders)
}

/// The 64-hex-digit container id in a process's cgroup path, if it is in a container.
fn container_id(cgroup: &str) -> Option<String> {
    cgroup
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|run| run.len() == 64)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_id_is_read_from_either_cgroup_layout() {
        let id = "a".repeat(64);
        let v2 = format!("0::/system.slice/docker-{id}.scope\n");
        let v1 = format!("12:memory:/docker/{id}\n");
        assert_eq!(container_id(&v2), Some(id.clone()));
        assert_eq!(container_id(&v1), Some(id));
        assert_eq!(container_id("0::/user.slice/session-1.scope\n"), None);
    }
}
