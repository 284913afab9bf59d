//! Snapshots of real volumes (sparse ext4 images on loop devices) through the agent's
//! service, with the local snapshot store: a restore brings back every byte, owner and mode;
//! a tampered archive changes nothing; a cancelled snapshot publishes nothing and leaves the
//! volume writable; a volume a running container mounts is not replaced. These need root,
//! loop devices and Docker, and fail (not skip) without them.

#[allow(dead_code)]
mod snapshot_support;
#[allow(dead_code)]
mod support;

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;
use minicloud_agent::AgentService;
use minicloud_agent::snapshot::{SnapshotStore, Snapshots};
use minicloud_agent::storage::layout::Layout;
use minicloud_proto::v1::node_agent_server::NodeAgent;
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{EnsureVolume, TakeSnapshotRequest};
use snapshot_support::{
    FS_GROUP, TENANT, TestVolume, VOLUME, archive_of, fingerprint, restore, take,
};
use support::{IMAGE, Tenant, apply_ok, docker, docker_ok};
use tonic::Request;

const MIB: u64 = 1 << 20;

/// The agent's service with the volume's local snapshot store.
async fn service(tenant: &Tenant, volume: &TestVolume) -> AgentService {
    let store = SnapshotStore::from_url(volume.store_dir().to_str().unwrap()).unwrap();
    support::agent(tenant)
        .await
        .with_snapshots(volume.layout.clone(), store)
}

/// Files of several owners, modes and sizes, a symlink, a hard link and a read-only directory.
fn fill(data: &Path) {
    fs::create_dir_all(data.join("app/logs")).unwrap();
    for i in 0..50 {
        fs::write(
            data.join(format!("app/logs/{i}.log")),
            format!("line {i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    let big: Vec<u8> = (0..3 * MIB as usize).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(data.join("app/blob.bin"), &big).unwrap();
    fs::write(data.join("app/secret"), b"s3cr3t").unwrap();
    fs::set_permissions(data.join("app/secret"), fs::Permissions::from_mode(0o600)).unwrap();
    chown(data.join("app/secret"), Some(1001), Some(2000)).unwrap();
    fs::write(data.join("app/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(data.join("app/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
    symlink("app/blob.bin", data.join("current")).unwrap();
    fs::hard_link(data.join("app/secret"), data.join("secret-again")).unwrap();
    fs::create_dir(data.join("frozen")).unwrap();
    fs::write(data.join("frozen/keep"), b"kept").unwrap();
    fs::set_permissions(data.join("frozen"), fs::Permissions::from_mode(0o555)).unwrap();
    chown(data.join("app"), Some(1001), Some(2000)).unwrap();
}

#[tokio::test]
async fn a_restore_brings_back_every_byte_owner_and_mode() {
    let tenant = Tenant::new();
    let volume = TestVolume::new(256 * MIB).await;
    let service = service(&tenant, &volume).await;
    let data = &volume.paths.data;
    fill(data);
    let before = fingerprint(data);
    let taken = take(&service, "acme/data/s1").await;
    assert_eq!(taken.location, "acme/data/s1");
    assert_eq!(taken.sha256.len(), 64);
    assert!(taken.archive_bytes > 0 && taken.archive_bytes < taken.bytes_done);
    assert!(
        taken.pause_millis < 1000,
        "writers were held {} ms",
        taken.pause_millis
    );
    assert_eq!(volume.scratch_left(), 0);

    fs::write(data.join("app/blob.bin"), b"overwritten").unwrap();
    fs::remove_file(data.join("app/logs/7.log")).unwrap();
    fs::write(data.join("intruder"), b"new").unwrap();
    assert_ne!(fingerprint(data), before);

    let messages = restore(&service, archive_of(&taken)).await.unwrap();
    let last = messages.last().unwrap();
    assert!(last.done);
    assert_eq!(last.location, "acme/data/s1");
    assert_eq!(fingerprint(data), before);
    assert_eq!(volume.scratch_left(), 0);
    // The restored volume is mounted and writable.
    fs::write(data.join("after"), b"ok").unwrap();
}

#[tokio::test]
async fn a_tampered_archive_is_refused_and_the_volume_is_unchanged() {
    let tenant = Tenant::new();
    let volume = TestVolume::new(64 * MIB).await;
    let service = service(&tenant, &volume).await;
    fill(&volume.paths.data);
    let taken = take(&service, "acme/data/s1").await;
    let archive = volume.store_dir().join("acme/data/s1");
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs::write(&archive, &bytes).unwrap();
    fs::write(
        volume.paths.data.join("since"),
        b"written after the snapshot",
    )
    .unwrap();
    let before = fingerprint(&volume.paths.data);

    let status = restore(&service, archive_of(&taken)).await.unwrap_err();
    let message = status.message();
    assert!(
        message.contains("archive acme/data/s1 is damaged")
            || message.contains("unpacking archive acme/data/s1"),
        "{message}"
    );
    assert!(
        message.contains("nothing was changed") || message.contains("unpacking"),
        "{message}"
    );
    assert_eq!(fingerprint(&volume.paths.data), before);
    assert_eq!(volume.scratch_left(), 0);
}

#[tokio::test]
async fn an_archive_with_the_wrong_checksum_is_refused_as_damaged() {
    let tenant = Tenant::new();
    let volume = TestVolume::new(64 * MIB).await;
    let service = service(&tenant, &volume).await;
    fill(&volume.paths.data);
    let taken = take(&service, "acme/data/s1").await;
    fs::write(
        volume.paths.data.join("since"),
        b"written after the snapshot",
    )
    .unwrap();
    let before = fingerprint(&volume.paths.data);
    let mut archive = archive_of(&taken);
    archive.sha256 = "0".repeat(64);

    let status = restore(&service, archive).await.unwrap_err();
    let expected = format!(
        "archive acme/data/s1 is damaged: SHA-256 {}, expected {}; nothing was changed",
        taken.sha256,
        "0".repeat(64)
    );
    assert_eq!(status.message(), expected);
    assert_eq!(status.code(), tonic::Code::DataLoss);
    assert_eq!(fingerprint(&volume.paths.data), before);
}

#[tokio::test]
async fn a_cancelled_snapshot_publishes_nothing_and_the_volume_stays_writable() {
    let tenant = Tenant::new();
    let volume = TestVolume::new(512 * MIB).await;
    let service = service(&tenant, &volume).await;
    let random = volume.paths.data.join("random.bin");
    let dd = std::process::Command::new("dd")
        .args(["if=/dev/urandom", "bs=1M", "count=300", "status=none"])
        .arg(format!("of={}", random.display()))
        .status()
        .unwrap();
    assert!(dd.success());
    let request = TakeSnapshotRequest {
        tenant: TENANT.into(),
        volume: VOLUME.into(),
        location: "acme/data/cancelled".into(),
    };
    let mut stream = service
        .take_snapshot(Request::new(request))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert!(
        !first.done,
        "the snapshot finished before it could be cancelled"
    );
    drop(stream);

    let deadline = Instant::now() + Duration::from_secs(30);
    while volume.scratch_left() > 0 {
        assert!(
            Instant::now() < deadline,
            "the scratch copy was not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let store = SnapshotStore::from_url(volume.store_dir().to_str().unwrap()).unwrap();
    Snapshots::new(volume.layout.clone(), store)
        .cleanup()
        .await
        .unwrap();
    let location = volume.store_dir().join("acme/data");
    let left: Vec<_> = fs::read_dir(&location)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the store: {left:?}");
    let path = volume.paths.data.join("after-cancel");
    let write = tokio::task::spawn_blocking(move || fs::write(path, b"thawed"));
    tokio::time::timeout(Duration::from_secs(5), write)
        .await
        .expect("the volume is still frozen")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_volume_a_running_container_mounts_is_not_replaced() {
    let tenant = Tenant::new();
    let volume = TestVolume::new(64 * MIB).await;
    let service = service(&tenant, &volume).await;
    fill(&volume.paths.data);
    let taken = take(&service, "acme/data/s1").await;
    let bind = format!("{}:/data", volume.paths.data.display());
    let label = format!("minicloud.tenant={}", tenant.name);
    let id = docker_ok(&[
        "run",
        "-d",
        "--label",
        "minicloud.managed=true",
        "--label",
        &label,
        "-v",
        &bind,
        IMAGE,
        "sleep",
        "600",
    ]);
    let name = docker_ok(&["inspect", "--format", "{{.Name}}", &id]);

    let status = restore(&service, archive_of(&taken)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    let message = status.message();
    assert!(
        message.contains("in use by running containers"),
        "{message}"
    );
    let name = name.trim_start_matches('/');
    assert!(message.contains(name), "{message}; expected {name} ({id})");
    assert_eq!(volume.scratch_left(), 0);

    docker(&["rm", "-f", &id]);
    restore(&service, archive_of(&taken)).await.unwrap();
}

#[tokio::test]
async fn a_volume_created_from_a_snapshot_starts_with_its_content() {
    let tenant = Tenant::new();
    let volume = TestVolume::new(64 * MIB).await;
    let service = service(&tenant, &volume).await;
    fill(&volume.paths.data);
    let before = fingerprint(&volume.paths.data);
    let taken = take(&service, "acme/data/s1").await;
    let ensure = Op::EnsureVolume(EnsureVolume {
        tenant: tenant.name.clone(),
        name: "copy".into(),
        size_bytes: 64 * MIB,
        fs_group: FS_GROUP,
        from_snapshot: Some(archive_of(&taken)),
    });
    apply_ok(&service, vec![ensure]).await;
    let copy = Layout::new(tenant.storage_dir()).volume(&tenant.name, "copy");
    assert_eq!(fingerprint(&copy.data), before);
}
