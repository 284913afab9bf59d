//! A private etcd process for one test: its own loopback ports and data directory, stopped when
//! dropped. Used where a test must not share etcd with others (compaction is cluster-wide).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd member that is killed and cleaned up on drop.
pub struct EtcdServer {
    child: Child,
    /// The client URL, e.g. `http://127.0.0.1:41234`.
    pub endpoint: String,
    /// Where etcd keeps its files (its write-ahead log and database), removed on drop. Only
    /// the canary test reads it; the other binaries sharing this file just own it.
    #[allow(dead_code)]
    pub data_dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

impl EtcdServer {
    /// Starts etcd and waits until it accepts client connections.
    pub async fn start() -> EtcdServer {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let (client_port, peer_port) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(data_dir.path())
            .args([
                "--listen-client-urls",
                &client_url,
                "--advertise-client-urls",
                &client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer_url,
                "--initial-advertise-peer-urls",
                &peer_url,
            ])
            .args(["--initial-cluster", &format!("test={peer_url}")])
            .args(["--log-level", "error", "--logger", "zap"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start etcd ({error}): install Debian's etcd-server \
                     (scripts/test.sh does) so `etcd` is on PATH"
                )
            });
        let server = EtcdServer {
            child,
            endpoint: client_url,
            data_dir,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let endpoints = [self.endpoint.clone()];
        loop {
            if let Ok(mut client) = etcd_client::Client::connect(&endpoints, None).await
                && client.status().await.is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd at {} did not start in 20 s",
                self.endpoint
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
