//! Volumes and snapshots end to end, on the real Docker Engine and real loop devices: data
//! outlives its App and a server crash, the kernel enforces a volume's size, a restored
//! snapshot has the very bytes it archived, schedules fire and retention prunes, a crash
//! mid-snapshot leaves no half snapshot, and a volume deleted with `reclaimPolicy: Snapshot`
//! can be restored into a new one.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::docker::{self, docker};
use crate::{World, eventually, eventually_explained};

/// Applies a Volume of the world's tenant with `spec` (YAML lines under `spec:`).
fn apply_volume(world: &World, name: &str, spec: &str) {
    world.apply(&format!(
        "apiVersion: minicloud/v1\nkind: Volume\nmetadata:\n  name: {name}\n  tenant: {tenant}\nspec:\n{spec}",
        tenant = world.tenant
    ));
}

/// Applies App `app` (busybox httpd) mounting each of `mounts` (volume, path).
fn apply_app_with(world: &World, app: &str, mounts: &[(&str, &str)]) {
    let mounts: Vec<String> = mounts
        .iter()
        .map(|(volume, path)| format!("{{name: {volume}, mountPath: {path}}}"))
        .collect();
    world.apply_app(app, 1, &format!("  volumes: [{}]\n", mounts.join(", ")));
}

/// The one running container of `app`, once its Instance is Running.
fn running_container(world: &World, app: &str) -> String {
    eventually_explained(&format!("app {app} runs one container"), || {
        let running = docker(&[
            "ps",
            "--filter",
            &format!("label=minicloud.tenant={}", world.tenant),
            "--filter",
            &format!("label=minicloud.app={app}"),
            "-q",
        ]);
        let ids: Vec<&str> = running.lines().collect();
        let instances = world.objects("instances");
        let phases: Vec<String> = instances
            .iter()
            .filter(|i| i["spec"]["app"] == app)
            .map(|i| i["status"]["phase"].as_str().unwrap_or("").to_owned())
            .collect();
        match (ids.as_slice(), phases.as_slice()) {
            ([id], [phase]) if phase == "Running" => Ok((*id).to_owned()),
            _ => Err(format!("containers {ids:?}, instance phases {phases:?}")),
        }
    })
}

/// Deletes App `app` and waits until its containers are gone.
fn delete_app(world: &World, app: &str) {
    world
        .server
        .run(&["delete", "app", app, "-t", &world.tenant])
        .ok();
    eventually("the app's containers are gone", || {
        docker::app_containers(&world.tenant, app)
            .is_empty()
            .then_some(())
    });
}

/// Runs `script` with sh in the container, as the container's own (non-root) user.
fn exec(container: &str, script: &str) -> String {
    docker(&["exec", container, "sh", "-c", script])
}

/// `sha256sum` of every file under `dir` in the container, sorted by path.
fn checksums(container: &str, dir: &str) -> String {
    exec(
        container,
        &format!("cd {dir} && find . -type f | sort | xargs sha256sum"),
    )
}

/// The object `kind/name` of the world's tenant, once it exists.
fn object(world: &World, kind: &str, name: &str) -> Option<Value> {
    world
        .objects(kind)
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
}

/// Waits until the Volume is Ready and returns it.
fn ready_volume(world: &World, name: &str) -> Value {
    eventually_explained(&format!("volume {name} is Ready"), || {
        let volume = object(world, "volumes", name).ok_or("no such volume")?;
        match volume["status"]["phase"].as_str() {
            Some("Ready") => Ok(volume),
            _ => Err(volume["status"].to_string()),
        }
    })
}

pub fn data_survives_the_app_and_a_server_crash_and_the_app_user_can_write() {
    let mut world = World::start(&[]);
    apply_volume(&world, "data", "  size: 64Mi\n");
    apply_app_with(&world, "web", &[("data", "/data")]);
    let container = running_container(&world, "web");
    let written = exec(
        &container,
        "id -u && echo kept > /data/note && cat /data/note",
    );
    assert_eq!(
        written, "65534\nkept\n",
        "the app's default non-root user writes"
    );
    let volume = ready_volume(&world, "data");
    assert_eq!(volume["status"]["mechanism"], "loop-ext4", "{volume}");

    delete_app(&world, "web");
    apply_app_with(&world, "web", &[("data", "/data")]);
    let container = running_container(&world, "web");
    assert_eq!(exec(&container, "cat /data/note"), "kept\n");

    world.restart_server();
    world.apply_app("probe", 1, "");
    running_container(&world, "probe");
    let container = running_container(&world, "web");
    assert_eq!(exec(&container, "cat /data/note"), "kept\n");
    let volume = eventually_explained("the volume reports the bytes used", || {
        let volume = ready_volume(&world, "data");
        let used = volume["status"]["usedBytes"].as_u64().unwrap_or(0);
        let mounted = volume["status"]["mountedBy"].as_array().map_or(0, Vec::len);
        if used > 0 && mounted == 1 {
            Ok(volume)
        } else {
            Err(volume["status"].to_string())
        }
    });
    assert_eq!(volume["status"]["mountedBy"][0]["app"], "web", "{volume}");
}

pub fn a_write_past_the_size_fails_inside_the_container_and_another_volume_works() {
    let world = World::start(&[]);
    apply_volume(&world, "small", "  size: 32Mi\n");
    apply_volume(&world, "other", "  size: 32Mi\n");
    apply_app_with(&world, "web", &[("small", "/small"), ("other", "/other")]);
    let container = running_container(&world, "web");
    let filled = exec(
        &container,
        "dd if=/dev/zero of=/small/fill bs=1M count=64 2>&1; echo exit=$?",
    );
    assert!(filled.contains("No space left on device"), "{filled}");
    assert!(!filled.contains("exit=0"), "{filled}");
    let other = exec(&container, "echo fine > /other/f && cat /other/f");
    assert_eq!(other, "fine\n");
    let host_free = docker(&["exec", &container, "df", "-k", "/small"]);
    assert!(
        host_free.contains("/small"),
        "the volume is its own filesystem: {host_free}"
    );
}

pub fn a_restored_snapshot_has_the_bytes_it_archived() {
    let world = World::start(&[]);
    apply_volume(&world, "data", "  size: 64Mi\n");
    apply_app_with(&world, "web", &[("data", "/data")]);
    let container = running_container(&world, "web");
    exec(
        &container,
        "mkdir -p /data/d && for i in 1 2 3 4 5; do head -c 300000 /dev/urandom > /data/d/f$i; done \
         && echo text > /data/t && ln -s d/f1 /data/link",
    );
    let before = checksums(&container, "/data");

    let taken = world
        .server
        .run(&[
            "snapshot",
            "create",
            "data",
            "--name",
            "s1",
            "-t",
            &world.tenant,
        ])
        .ok();
    assert!(taken.contains("snapshot/s1 Ready"), "{taken}");
    let snapshot = object(&world, "snapshots", "s1").expect("the snapshot exists");
    assert_eq!(
        snapshot["status"]["sha256"].as_str().map(str::len),
        Some(64)
    );

    exec(
        &container,
        "rm /data/d/f1 && echo damaged > /data/d/f2 && echo extra > /data/new",
    );
    assert_ne!(checksums(&container, "/data"), before);

    let restored = world
        .server
        .run(&[
            "volume",
            "restore",
            "data",
            "--snapshot",
            "s1",
            "-t",
            &world.tenant,
        ])
        .ok();
    assert!(restored.contains("restored from snapshot/s1"), "{restored}");
    let container = running_container(&world, "web");
    assert_eq!(checksums(&container, "/data"), before);
    let volume = ready_volume(&world, "data");
    let reasons: Vec<&str> = volume["status"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"Restored"), "{volume}");
}

pub fn a_schedule_fires_and_retention_keeps_the_newest() {
    let world = World::start(&[]);
    apply_volume(
        &world,
        "data",
        "  size: 32Mi\n  snapshots: {schedule: \"*/2 * * * * *\", keep: {last: 2}}\n",
    );
    ready_volume(&world, "data");
    let mut seen = BTreeSet::new();
    eventually_explained("3 scheduled snapshots were taken and 2 are kept", || {
        let snapshots = world.objects("snapshots");
        let ready: Vec<String> = snapshots
            .iter()
            .filter(|s| s["spec"]["origin"] == "Scheduled" && s["status"]["phase"] == "Ready")
            .map(|s| s["metadata"]["name"].as_str().unwrap_or("").to_owned())
            .collect();
        seen.extend(ready.iter().cloned());
        let oldest_gone = seen.first().is_some_and(|oldest| !ready.contains(oldest));
        if seen.len() >= 3 && ready.len() <= 2 && oldest_gone {
            Ok(())
        } else {
            Err(format!("seen {seen:?}, ready now {ready:?}"))
        }
    });
}

pub fn a_server_killed_mid_snapshot_leaves_no_half_snapshot() {
    let mut world = World::start(&[]);
    apply_volume(&world, "data", "  size: 384Mi\n");
    apply_app_with(&world, "web", &[("data", "/data")]);
    let container = running_container(&world, "web");
    exec(
        &container,
        "for i in 1 2 3 4 5 6; do head -c 50000000 /dev/urandom > /data/f$i; done",
    );
    world
        .server
        .run(&[
            "snapshot",
            "create",
            "data",
            "--name",
            "s1",
            "--no-wait",
            "-t",
            &world.tenant,
        ])
        .ok();
    let phase = eventually("the snapshot is being taken", || {
        let snapshot = object(&world, "snapshots", "s1")?;
        let phase = snapshot["status"]["phase"].as_str().unwrap_or("Pending");
        (phase != "Pending").then(|| phase.to_owned())
    });
    world.restart_server();
    eprintln!("the server was killed while the snapshot was {phase}");
    let snapshot = object(&world, "snapshots", "s1").expect("the snapshot is kept");
    if snapshot["status"]["phase"] != "Ready" {
        assert_eq!(snapshot["status"]["location"], Value::Null, "{snapshot}");
    }
    let snapshot = eventually_explained("the snapshot converges to Ready", || {
        let snapshot = object(&world, "snapshots", "s1").ok_or("gone")?;
        match snapshot["status"]["phase"].as_str() {
            Some("Ready") => Ok(snapshot),
            _ => Err(snapshot["status"].to_string()),
        }
    });
    let store = world.data_dir().join("storage").join("snapshots");
    let leftovers = files_under(&store)
        .into_iter()
        .filter(|path| path.contains(".partial"))
        .collect::<Vec<_>>();
    assert!(leftovers.is_empty(), "partial archives left: {leftovers:?}");
    assert!(snapshot["status"]["sizeBytes"].as_u64().unwrap_or(0) > 0);
}

pub fn a_volume_deleted_with_reclaim_snapshot_can_be_restored_into_a_new_one() {
    let world = World::start(&[]);
    apply_volume(&world, "data", "  size: 32Mi\n  reclaimPolicy: Snapshot\n");
    apply_app_with(&world, "web", &[("data", "/data")]);
    let container = running_container(&world, "web");
    exec(&container, "echo precious > /data/keep");
    delete_app(&world, "web");
    world
        .server
        .run(&["delete", "volume", "data", "-t", &world.tenant])
        .ok();
    eventually("the volume is gone", || {
        object(&world, "volumes", "data").is_none().then_some(())
    });
    let last = eventually("a final snapshot is Ready", || {
        world
            .objects("snapshots")
            .into_iter()
            .find(|s| s["spec"]["origin"] == "Final" && s["status"]["phase"] == "Ready")
    });
    let name = last["metadata"]["name"].as_str().unwrap().to_owned();
    apply_volume(
        &world,
        "copy",
        &format!("  size: 32Mi\n  fromSnapshot: {name}\n"),
    );
    apply_app_with(&world, "reader", &[("copy", "/data")]);
    let container = running_container(&world, "reader");
    assert_eq!(exec(&container, "cat /data/keep"), "precious\n");
}

/// Every file under `dir`, as paths.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path.display().to_string());
            }
        }
    }
    files
}
