//! Volumes and Snapshots through the controllers and a fake agent: a Volume is bound and
//! provisioned, an App mounting it runs on its node; snapshots are taken (again after a
//! restart cut one off) and their archives deleted with them; schedules make one snapshot per
//! slot even with two controllers, and retention prunes the oldest; an in-place restore stops,
//! restores and restarts the instances in that order; deletion follows the reclaim policy.

use minicloud_controllers::agent::fake::FakeAgent;
use minicloud_controllers::object::ObjectKey;
use minicloud_manifests::{
    AccessMode, App, AppSpec, Bytes, KeepPolicy, ObjectMeta, ReclaimPolicy, Resources,
    RestoreRequest, Snapshot, SnapshotOrigin, SnapshotPhase, SnapshotSchedule, SnapshotSpec,
    Volume, VolumeMount, VolumePhase, VolumeSpec,
};
use minicloud_proto::v1::operation::Op;

use crate::converged;
use crate::harness::{Cluster, TENANT, eventually};

fn volume(name: &str) -> Volume {
    Volume::new(
        ObjectMeta::named(name, Some(TENANT)),
        VolumeSpec::new(Bytes::gibibytes(1)),
    )
}

fn snapshot(name: &str, volume: &str) -> Snapshot {
    let spec = SnapshotSpec {
        volume: volume.into(),
        origin: SnapshotOrigin::Manual,
    };
    Snapshot::new(ObjectMeta::named(name, Some(TENANT)), spec)
}

/// App `web` with `replicas` replicas mounting Volume `data` at /data.
fn app_mounting(replicas: u32) -> App {
    let spec = AppSpec {
        image: Some("hello:1".into()),
        replicas: Some(replicas),
        resources: Some(Resources {
            memory: Some(Bytes::mebibytes(64)),
            ..Resources::default()
        }),
        volumes: vec![VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            read_only: false,
            host_path: None,
        }],
        ..AppSpec::default()
    };
    App::new(ObjectMeta::named("web", Some(TENANT)), spec)
}

async fn get_volume(cluster: &Cluster, name: &str) -> Option<Volume> {
    let key = ObjectKey::new(Some(TENANT), name);
    cluster
        .client
        .get_opt::<Volume>(&key)
        .await
        .expect("read a volume")
}

async fn get_snapshot(cluster: &Cluster, name: &str) -> Option<Snapshot> {
    let key = ObjectKey::new(Some(TENANT), name);
    cluster
        .client
        .get_opt::<Snapshot>(&key)
        .await
        .expect("read a snapshot")
}

async fn snapshots(cluster: &Cluster) -> Vec<Snapshot> {
    let scope = minicloud_controllers::client::TenantScope::One(TENANT.into());
    cluster
        .client
        .list::<Snapshot>(&scope, "")
        .await
        .expect("list snapshots")
        .items
}

/// The Volume once its phase is `phase`.
async fn in_phase(cluster: &Cluster, name: &str, phase: VolumePhase) -> Volume {
    eventually(&format!("Volume {name} is {phase:?}"), || async {
        get_volume(cluster, name)
            .await
            .filter(|v| v.status.as_ref().is_some_and(|s| s.phase == phase))
    })
    .await
}

/// The Snapshot once its phase is `phase`.
async fn snapshot_in(cluster: &Cluster, name: &str, phase: SnapshotPhase) -> Snapshot {
    eventually(&format!("Snapshot {name} is {phase:?}"), || async {
        get_snapshot(cluster, name)
            .await
            .filter(|s| s.status.as_ref().is_some_and(|s| s.phase == phase))
    })
    .await
}

/// A cluster with node-a and a Ready Volume `data`.
async fn with_volume(spec: impl FnOnce(&mut Volume)) -> Cluster {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    let mut data = volume("data");
    spec(&mut data);
    cluster.client.apply(&data).await.expect("apply the volume");
    in_phase(&cluster, "data", VolumePhase::Ready).await;
    cluster
}

fn removals(agent: &FakeAgent) -> Vec<(String, bool)> {
    agent
        .operations()
        .into_iter()
        .filter_map(|o| match o.op {
            Some(Op::RemoveVolume(r)) => Some((r.name, r.keep_data)),
            _ => None,
        })
        .collect()
}

fn event_reasons(volume: &Volume) -> Vec<String> {
    let status = volume.status.clone().unwrap_or_default();
    status.events.iter().map(|e| e.reason.clone()).collect()
}

#[tokio::test]
async fn a_volume_is_bound_provisioned_and_its_app_runs_on_its_node() {
    let cluster = with_volume(|_| {}).await;
    let data = get_volume(&cluster, "data").await.unwrap();
    let status = data.status.clone().unwrap();
    assert_eq!(status.node.as_deref(), Some("node-a"));
    assert_eq!(status.size_bytes, 1 << 30);
    assert!(
        data.metadata
            .finalizers
            .iter()
            .any(|f| f == "minicloud.dev/volume-data")
    );
    let ensured = cluster
        .agent("node-a")
        .operations()
        .into_iter()
        .find_map(|o| match o.op {
            Some(Op::EnsureVolume(v)) => Some(v),
            _ => None,
        });
    let ensured = ensured.expect("the volume was ensured");
    assert_eq!((ensured.size_bytes, ensured.fs_group), (1 << 30, 65534));

    cluster.client.apply(&app_mounting(1)).await.unwrap();
    eventually("the app runs", || converged(&cluster, "web", 1)).await;
    let users = eventually("the volume names its user", || async {
        let status = get_volume(&cluster, "data").await?.status?;
        (!status.mounted_by.is_empty()).then_some(status.mounted_by)
    })
    .await;
    let instances = cluster.instances().await;
    assert_eq!(users[0].instance, instances[0].metadata.name);
    assert_eq!(instances[0].spec.node.as_deref(), Some("node-a"));
    cluster.stop().await;
}

#[tokio::test]
async fn a_larger_size_grows_the_volume_online() {
    let cluster = with_volume(|_| {}).await;
    let mut data = get_volume(&cluster, "data").await.unwrap();
    data.metadata.resource_version = None;
    data.spec.size = Bytes::gibibytes(2);
    cluster.client.apply(&data).await.unwrap();
    eventually("the volume reports its new size", || async {
        let status = get_volume(&cluster, "data").await?.status?;
        (status.size_bytes == 2 << 30).then_some(())
    })
    .await;
    let sizes: Vec<u64> = cluster
        .agent("node-a")
        .operations()
        .into_iter()
        .filter_map(|o| match o.op {
            Some(Op::EnsureVolume(v)) => Some(v.size_bytes),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [1 << 30, 2 << 30]);
    cluster.stop().await;
}

#[tokio::test]
async fn a_snapshot_is_taken_and_its_archive_goes_with_it() {
    let cluster = with_volume(|_| {}).await;
    cluster
        .client
        .apply(&snapshot("first", "data"))
        .await
        .unwrap();
    let taken = snapshot_in(&cluster, "first", SnapshotPhase::Ready).await;
    let status = taken.status.clone().unwrap();
    let uid = taken.metadata.uid.clone().unwrap();
    assert_eq!(status.location, format!("acme/data/{uid}"));
    assert_eq!(
        (status.size_bytes, status.content_bytes, status.attempts),
        (512, 1024, 1)
    );
    assert_eq!(status.node.as_deref(), Some("node-a"));
    assert!(status.completed_at.is_some() && status.pause_millis.is_some());
    assert_eq!(
        cluster.agent("node-a").archives(),
        std::slice::from_ref(&status.location)
    );
    eventually("the volume names its last snapshot", || async {
        let status = get_volume(&cluster, "data").await?.status?;
        (status.last_snapshot.as_deref() == Some("first")).then_some(())
    })
    .await;

    let key = ObjectKey::new(Some(TENANT), "first");
    cluster.client.delete::<Snapshot>(&key, None).await.unwrap();
    eventually("the snapshot and its archive are gone", || async {
        let gone = get_snapshot(&cluster, "first").await.is_none();
        (gone && cluster.agent("node-a").archives().is_empty()).then_some(())
    })
    .await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_failed_attempt_is_retried_and_a_snapshot_of_a_missing_volume_is_refused() {
    let cluster = with_volume(|_| {}).await;
    let agent = cluster.agent("node-a");
    agent.fail_next_snapshot(tonic::Status::unavailable("snapshot store is busy"));
    cluster
        .client
        .apply(&snapshot("retried", "data"))
        .await
        .unwrap();
    let taken = snapshot_in(&cluster, "retried", SnapshotPhase::Ready).await;
    assert_eq!(taken.status.unwrap().attempts, 2);

    let refused = cluster
        .client
        .apply(&snapshot("orphan", "nope"))
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("Volume \"nope\" in tenant \"acme\" does not exist"),
        "{refused}"
    );
    assert!(get_snapshot(&cluster, "orphan").await.is_none());
    cluster.stop().await;
}

#[tokio::test]
async fn a_snapshot_cut_off_by_a_restart_is_taken_again() {
    let mut cluster = with_volume(|_| {}).await;
    let agent = cluster.agent("node-a");
    agent.hold_snapshots();
    cluster
        .client
        .apply(&snapshot("cut", "data"))
        .await
        .unwrap();
    snapshot_in(&cluster, "cut", SnapshotPhase::Taking).await;
    cluster.kill_controllers().await;
    agent.finish_snapshots();
    assert!(
        agent.archives().is_empty(),
        "a cut-off snapshot publishes nothing"
    );

    cluster.start_controllers();
    let taken = snapshot_in(&cluster, "cut", SnapshotPhase::Ready).await;
    let status = taken.status.unwrap();
    assert_eq!(status.attempts, 2);
    assert_eq!(agent.archives(), [status.location]);
    assert_eq!(agent.takes().len(), 2);
    cluster.stop().await;
}

#[tokio::test]
async fn an_in_place_restore_stops_restores_and_restarts_the_instances() {
    let cluster = with_volume(|v| v.spec.access_mode = AccessMode::ReadWriteMany).await;
    cluster.client.apply(&app_mounting(2)).await.unwrap();
    eventually("the app runs", || converged(&cluster, "web", 2)).await;
    cluster
        .client
        .apply(&snapshot("good", "data"))
        .await
        .unwrap();
    snapshot_in(&cluster, "good", SnapshotPhase::Ready).await;
    let before = crate::container_uids(&cluster, "node-a");
    let agent = cluster.agent("node-a");
    let containers_before: Vec<String> = agent
        .observed()
        .containers
        .iter()
        .map(|c| c.id.clone())
        .collect();

    let mut data = get_volume(&cluster, "data").await.unwrap();
    data.metadata.resource_version = None;
    data.spec.restore = Some(RestoreRequest {
        snapshot: "good".into(),
        requested_at: "2026-01-01T00:00:00Z".into(),
    });
    cluster.client.apply(&data).await.unwrap();
    let restored = eventually("the instances run again after the restore", || async {
        let volume = get_volume(&cluster, "data").await?;
        event_reasons(&volume)
            .contains(&"InstancesStarted".to_string())
            .then_some(volume)
    })
    .await;
    let reasons = event_reasons(&restored);
    assert_eq!(
        reasons,
        ["InstancesStopped", "Restored", "InstancesStarted"]
    );
    let status = restored.status.unwrap();
    assert_eq!(status.restored, data.spec.restore);
    assert!(
        status.events[0].message.starts_with("stopping web-"),
        "{:?}",
        status.events[0]
    );
    assert_eq!(agent.restores().len(), 1);
    eventually("the app is back", || converged(&cluster, "web", 2)).await;
    assert_eq!(
        crate::container_uids(&cluster, "node-a"),
        before,
        "the same instances"
    );
    let containers_after: Vec<String> = agent
        .observed()
        .containers
        .iter()
        .map(|c| c.id.clone())
        .collect();
    assert!(
        containers_after
            .iter()
            .all(|c| !containers_before.contains(c)),
        "every container was stopped for the restore and started anew"
    );
    cluster.stop().await;
}

#[tokio::test]
async fn a_restore_from_a_snapshot_not_ready_stops_nothing_and_says_why() {
    let cluster = with_volume(|_| {}).await;
    cluster.client.apply(&app_mounting(1)).await.unwrap();
    eventually("the app runs", || converged(&cluster, "web", 1)).await;
    cluster.agent("node-a").hold_snapshots();
    cluster
        .client
        .apply(&snapshot("unfinished", "data"))
        .await
        .unwrap();
    snapshot_in(&cluster, "unfinished", SnapshotPhase::Taking).await;
    let mut data = get_volume(&cluster, "data").await.unwrap();
    data.metadata.resource_version = None;
    data.spec.restore = Some(RestoreRequest {
        snapshot: "unfinished".into(),
        requested_at: "2026-01-01T00:00:00Z".into(),
    });
    cluster.client.apply(&data).await.unwrap();
    let refused = eventually("the restore is refused", || async {
        let volume = get_volume(&cluster, "data").await?;
        event_reasons(&volume)
            .contains(&"RestoreRefused".to_string())
            .then_some(volume)
    })
    .await;
    let status = refused.status.unwrap();
    assert_eq!(status.phase, VolumePhase::Ready);
    assert!(
        status
            .message
            .contains("from Snapshot \"unfinished\": it is Taking, not Ready"),
        "{}",
        status.message
    );
    assert!(cluster.agent("node-a").restores().is_empty());
    converged(&cluster, "web", 1)
        .await
        .expect("the app kept running");
    cluster.stop().await;
}

#[tokio::test]
async fn deleting_volumes_follows_their_reclaim_policy() {
    let cluster = Cluster::start().await;
    cluster.add_node("node-a", 4000, 4096).await;
    for (name, policy) in [
        ("gone", ReclaimPolicy::Delete),
        ("kept", ReclaimPolicy::Retain),
        ("saved", ReclaimPolicy::Snapshot),
    ] {
        let mut v = volume(name);
        v.spec.reclaim_policy = policy;
        cluster.client.apply(&v).await.unwrap();
        in_phase(&cluster, name, VolumePhase::Ready).await;
    }
    let saved_uid = get_volume(&cluster, "saved")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    for name in ["gone", "kept", "saved"] {
        let key = ObjectKey::new(Some(TENANT), name);
        cluster.client.delete::<Volume>(&key, None).await.unwrap();
    }
    eventually("every volume is released", || async {
        for name in ["gone", "kept", "saved"] {
            if get_volume(&cluster, name).await.is_some() {
                return None;
            }
        }
        Some(())
    })
    .await;
    let mut removed = removals(&cluster.agent("node-a"));
    removed.sort();
    assert_eq!(
        removed,
        [
            ("gone".into(), false),
            ("kept".into(), true),
            ("saved".into(), false)
        ]
    );
    let final_name = format!("saved-final-{}", &saved_uid.replace('-', "")[..8]);
    let final_snapshot = get_snapshot(&cluster, &final_name)
        .await
        .expect("the final snapshot stays");
    let status = final_snapshot.status.unwrap();
    assert_eq!(
        (final_snapshot.spec.origin, status.phase),
        (SnapshotOrigin::Final, SnapshotPhase::Ready)
    );
    assert_eq!(cluster.agent("node-a").archives(), [status.location]);
    cluster.stop().await;
}

#[tokio::test]
async fn a_mounted_volume_waits_for_its_apps_to_go() {
    let cluster = with_volume(|_| {}).await;
    cluster.client.apply(&app_mounting(1)).await.unwrap();
    eventually("the app runs", || converged(&cluster, "web", 1)).await;
    let key = ObjectKey::new(Some(TENANT), "data");
    cluster.client.delete::<Volume>(&key, None).await.unwrap();
    let waiting = in_phase(&cluster, "data", VolumePhase::Releasing).await;
    let message = waiting.status.unwrap().message;
    assert!(message.contains("still mounted by web-"), "{message}");
    assert!(removals(&cluster.agent("node-a")).is_empty());
    converged(&cluster, "web", 1)
        .await
        .expect("the app keeps running meanwhile");

    let app = ObjectKey::new(Some(TENANT), "web");
    cluster.client.delete::<App>(&app, None).await.unwrap();
    eventually("the volume goes after its app", || async {
        get_volume(&cluster, "data").await.is_none().then_some(())
    })
    .await;
    assert_eq!(
        removals(&cluster.agent("node-a")),
        [("data".to_string(), false)]
    );
    cluster.stop().await;
}

/// Takes Scheduled snapshot `name` of `data` and waits until it is Ready.
async fn scheduled_by_hand(cluster: &Cluster, name: &str) {
    let mut older = snapshot(name, "data");
    older.spec.origin = SnapshotOrigin::Scheduled;
    cluster.client.apply(&older).await.unwrap();
    snapshot_in(cluster, name, SnapshotPhase::Ready).await;
}

/// Sets `data`'s `lastScheduledAt` back to `at`, so the current slot is due.
async fn schedule_back_to(cluster: &Cluster, at: &str) {
    loop {
        let mut data = get_volume(cluster, "data").await.unwrap();
        data.status.as_mut().unwrap().last_scheduled_at = Some(at.into());
        match cluster.client.update_status(&data).await {
            Ok(_) => return,
            Err(error) if error.is_conflict() => continue,
            Err(error) => panic!("cannot set lastScheduledAt: {error}"),
        }
    }
}

#[tokio::test]
async fn a_schedule_fires_once_per_slot_with_two_controllers_and_retention_prunes_the_oldest() {
    let cluster = with_volume(|v| {
        v.spec.snapshots = Some(SnapshotSchedule {
            schedule: "* * * * *".into(),
            time_zone: None,
            keep: KeepPolicy {
                last: Some(2),
                ..KeepPolicy::default()
            },
        });
    })
    .await;
    for name in ["old-1", "old-2", "old-3"] {
        scheduled_by_hand(&cluster, name).await;
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let second = cluster.spawn_controllers();
    schedule_back_to(&cluster, "2020-01-01T00:00:00Z").await;
    let agent = cluster.agent("node-a");
    let slot = eventually(
        "the current slot is snapshotted and the oldest pruned",
        || async {
            let names: Vec<String> = snapshots(&cluster)
                .await
                .iter()
                .filter(|s| {
                    s.status
                        .as_ref()
                        .is_some_and(|s| s.phase == SnapshotPhase::Ready)
                })
                .map(|s| s.metadata.name.clone())
                .collect();
            let slot = names.iter().find(|n| n.starts_with("data-20"))?.clone();
            (names.len() == 2 && names.contains(&"old-3".to_string())).then_some(slot)
        },
    )
    .await;
    eventually("the pruned archives are deleted", || async {
        (agent.archives().len() == 2).then_some(())
    })
    .await;
    let status = get_volume(&cluster, "data").await.unwrap().status.unwrap();
    let last = status.last_scheduled_at.expect("lastScheduledAt");
    assert_eq!(
        slot,
        format!(
            "data-{}",
            last.replace(['-', ':'], "")
                .replace('T', "-")
                .trim_end_matches('Z')
        )
    );
    assert!(status.next_snapshot_at.is_some_and(|next| next > last));
    let slot_takes = agent
        .takes()
        .iter()
        .filter(|t| !t.location.is_empty())
        .count();
    assert_eq!(
        slot_takes,
        4,
        "three by hand and one for the slot, taken once: {:?}",
        agent.takes()
    );
    let scheduled: Vec<String> = snapshots(&cluster)
        .await
        .iter()
        .map(|s| s.metadata.name.clone())
        .filter(|n| n.starts_with("data-"))
        .collect();
    assert_eq!(
        scheduled,
        [slot],
        "one Snapshot for the slot, though two controllers saw it due"
    );
    second.0.cancel();
    let _ = second.1.await;
    cluster.stop().await;
}

#[tokio::test]
async fn a_read_write_once_volume_has_one_writer_and_its_rollout_stops_the_old_instance_first() {
    let cluster = with_volume(|_| {}).await;
    cluster.client.apply(&app_mounting(2)).await.unwrap();
    let message = eventually("the second writer is held back", || async {
        let instances = cluster.instances().await;
        instances.iter().find_map(|i| {
            let status = i.status.as_ref()?;
            status
                .message
                .contains("waiting for instance")
                .then(|| status.message.clone())
        })
    })
    .await;
    assert!(
        message.contains("is ReadWriteOnce and web-")
            && message.ends_with("set accessMode: ReadWriteMany to share it"),
        "{message}"
    );
    assert_eq!(crate::container_uids(&cluster, "node-a").len(), 1);

    cluster.client.apply(&app_mounting(1)).await.unwrap();
    eventually("one replica runs", || converged(&cluster, "web", 1)).await;
    let mut changed = app_mounting(1);
    changed.spec.image = Some("hello:2".into());
    cluster.client.apply(&changed).await.unwrap();
    eventually("the rollout finishes without a deadlock", || async {
        converged(&cluster, "web", 1).await?;
        let instances = cluster.instances().await;
        (instances[0].spec.container.image == "hello:2").then_some(())
    })
    .await;
    cluster.stop().await;
}
