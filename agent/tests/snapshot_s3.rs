//! The S3-compatible snapshot store against a real S3 server (moto's, started on a free
//! loopback port for the test): a snapshot round trip through multipart upload, an abandoned
//! write leaving no object, idempotent deletes. Fails, never skips, without moto: install it
//! with scripts/deps.sh.

#[allow(dead_code)]
mod snapshot_support;
#[allow(dead_code)]
mod support;

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, stream};
use minicloud_agent::snapshot::SnapshotStore;
use minicloud_agent::snapshot::store::{ArchiveStore, S3Store, StoreError};
use minicloud_proto::v1::DeleteSnapshotRequest;
use minicloud_proto::v1::node_agent_server::NodeAgent;
use object_store::aws::AmazonS3Builder;
use snapshot_support::{TestVolume, archive_of, fingerprint, restore, take};
use support::Tenant;
use tonic::Request;

const MOTO_VENV: &str = "/opt/minicloud/moto-venv";
const BUCKET: &str = "snapshots";

/// A moto S3 server on a free loopback port, stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let server = Path::new(MOTO_VENV).join("bin/moto_server");
        assert!(
            server.exists(),
            "{} is missing: the S3 store's tests need moto's server; run scripts/deps.sh",
            server.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto.create_bucket();
        moto
    }

    /// Creates the bucket with boto3, which moto's virtualenv has.
    fn create_bucket(&self) {
        let python = Path::new(MOTO_VENV).join("bin/python");
        let script = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test')\
             .create_bucket(Bucket='{BUCKET}')",
            self.endpoint
        );
        let out = Command::new(python).args(["-c", &script]).output().unwrap();
        assert!(
            out.status.success(),
            "creating the bucket failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn store(&self, prefix: &str) -> S3Store {
        let builder = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test");
        S3Store::with_builder(BUCKET, prefix, builder).unwrap()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_snapshot_round_trips_through_an_s3_bucket() {
    let moto = Moto::start();
    let tenant = Tenant::new();
    let volume = TestVolume::new(128 * (1 << 20)).await;
    let store = SnapshotStore::new(Arc::new(moto.store("node-1")));
    let service = support::agent(&tenant)
        .await
        .with_snapshots(volume.layout.clone(), store.clone());
    let data = &volume.paths.data;
    fs::create_dir(data.join("docs")).unwrap();
    for i in 0..200 {
        fs::write(
            data.join(format!("docs/{i}.txt")),
            format!("doc {i}\n").repeat(100),
        )
        .unwrap();
    }
    // Larger than one 5 MiB part even compressed, so the upload has several parts.
    let mut random = vec![0u8; 12 << 20];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
    fs::write(data.join("random.bin"), &random).unwrap();
    let before = fingerprint(data);

    let taken = take(&service, "acme/data/s3-1").await;
    assert!(taken.archive_bytes > 5 << 20, "{taken:?}");
    fs::remove_dir_all(data.join("docs")).unwrap();
    fs::write(data.join("random.bin"), b"gone").unwrap();
    restore(&service, archive_of(&taken)).await.unwrap();
    assert_eq!(fingerprint(data), before);

    let delete = |location: &str| {
        Request::new(DeleteSnapshotRequest {
            location: location.into(),
        })
    };
    let first = service
        .delete_snapshot(delete("acme/data/s3-1"))
        .await
        .unwrap();
    assert!(first.into_inner().deleted);
    let again = service
        .delete_snapshot(delete("acme/data/s3-1"))
        .await
        .unwrap();
    assert!(!again.into_inner().deleted);
    let error = store.get("acme/data/s3-1").await.err().unwrap();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error}");
}

#[tokio::test]
async fn an_abandoned_upload_leaves_no_object() {
    let moto = Moto::start();
    let store = moto.store("");
    let chunk = Bytes::from(vec![1u8; 6 << 20]);
    let broken = stream::iter([Ok(chunk.clone()), Ok(chunk)])
        .chain(stream::once(async {
            Err(std::io::Error::other("tar failed"))
        }))
        .boxed();
    let error = store.put("acme/data/broken", broken).await.unwrap_err();
    assert!(matches!(error, StoreError::SourceFailed { .. }), "{error}");
    let dropped = stream::once(async { Ok(Bytes::from_static(b"part")) })
        .chain(stream::pending())
        .boxed();
    let put = store.put("acme/data/dropped", dropped);
    assert!(
        tokio::time::timeout(Duration::from_millis(500), put)
            .await
            .is_err()
    );
    for location in ["acme/data/broken", "acme/data/dropped"] {
        let error = store.get(location).await.err().unwrap();
        assert!(
            matches!(error, StoreError::NotFound { .. }),
            "{location}: {error}"
        );
    }
    assert_eq!(store.cleanup().await.unwrap(), 0);
}
