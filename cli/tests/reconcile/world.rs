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
pub struct World {
    /// The tenant all of this test's objects live in.
    pub tenant: String,
    /// The all-in-one server.
    pub server: Server,
    /// Where the server's ingress listens.
    pub ingress: SocketAddr,
    _data: tempfile::TempDir,
    _cleanup: docker::TenantCleanup,
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
        let server = Server::start(&all);
        let line = server.next_line();
        let ingress = line
            .strip_prefix("minicloud ingress listening on http://")
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("expected the ingress's address, got {line:?}"));
        World {
            tenant,
            server,
            ingress,
            _data: data,
            _cleanup: cleanup,
        }
    }
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
