//! One end-to-end test's world, shared by the real-Docker test binaries: a tenant of its own, a
//! `mini server` whose agent is a node of its own with the ingress on a free loopback port, and
//! the removal of the tenant's Docker objects when the test ends, even when it fails; and the
//! polling every such test waits with.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::docker;
use crate::support::Server;

/// A unique DNS-label name with a prefix.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{:x}{:x}", std::process::id(), nanos % 0xffff_ffff)
}

/// One test's world: a tenant, a server whose agent is a node of its own, and cleanup.
/// Fields drop in order: the server stops, the tenant's containers go, the volumes' filesystems
/// are unmounted, then the data directory is removed.
pub struct World {
    /// The tenant all of this test's objects live in.
    pub tenant: String,
    /// The all-in-one server.
    pub server: Server,
    /// Where the server's ingress listens.
    pub ingress: SocketAddr,
    args: Vec<String>,
    _cleanup: docker::TenantCleanup,
    _mounts: UnmountUnder,
    data: tempfile::TempDir,
}

/// Unmounts, when dropped, every filesystem mounted under a directory (the loop-mounted
/// volumes of a test's data directory), so that the directory can be removed.
struct UnmountUnder(std::path::PathBuf);

impl Drop for UnmountUnder {
    fn drop(&mut self) {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let prefix = self.0.display().to_string();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|line| line.split_whitespace().nth(1))
            .filter(|point| point.starts_with(&prefix))
            .collect();
        points.sort_by_key(|point| std::cmp::Reverse(point.len()));
        for point in points {
            let _ = std::process::Command::new("umount")
                .args(["-l", point])
                .status();
        }
    }
}

impl World {
    /// Starts `mini server` with its own node, data directory and ingress port, plus `args`.
    pub fn start(args: &[&str]) -> World {
        docker::ensure_example_image();
        let tenant = unique("t");
        let cleanup = docker::TenantCleanup(tenant.clone());
        let data = tempfile::tempdir().unwrap();
        let node = unique("node");
        let mut all = vec![
            "--data-dir",
            data.path().to_str().unwrap(),
            "--node-name",
            &node,
            "--ingress-listen",
            "127.0.0.1:0",
        ];
        all.extend_from_slice(args);
        let args: Vec<String> = all.iter().map(|a| a.to_string()).collect();
        let (server, ingress) = start_server(&args);
        World {
            tenant,
            server,
            ingress,
            args,
            _cleanup: cleanup,
            _mounts: UnmountUnder(data.path().to_owned()),
            data,
        }
    }

    /// Kills the server (SIGKILL, as a crash would) and starts it again on the same data
    /// directory and node; the tenant's containers keep running meanwhile.
    pub fn restart_server(&mut self) {
        let _ = self.server.process.0.kill();
        let _ = self.server.process.0.wait();
        let (server, ingress) = start_server(&self.args);
        self.server = server;
        self.ingress = ingress;
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }
}

/// Starts `mini server` with `args` and reads its ingress address.
fn start_server(args: &[String]) -> (Server, SocketAddr) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    let line = server.next_line();
    let ingress = line
        .strip_prefix("minicloud ingress listening on http://")
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("expected the ingress's address, got {line:?}"));
    (server, ingress)
}

impl World {
    /// Applies `manifest` (YAML) with the server's admin key, failing the test if it is refused.
    pub fn apply(&self, manifest: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::support::write_file(dir.path(), "manifest.yaml", manifest);
        self.server.run(&["apply", "-f", &path]).ok();
    }
}

/// Polls `check` every 200 ms until it returns `Ok`, failing with `what` and the last `Err`
/// (what was seen instead) after `timeout`.
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}; last seen: {seen}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
