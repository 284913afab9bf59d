//! Volumes against the real Docker Engine and real loop devices: the size is a hard limit
//! (ENOSPC inside the container, the tenant's other volume unaffected), the default non-root
//! user writes, data survives an agent restart and a host reboot without being formatted
//! again, volumes grow, and removal deletes the data unless it is kept. These tests need
//! Docker, root and loop devices and fail (not skip) without them; each works in a tenant and a
//! storage directory of its own and unmounts and removes what it created even when it fails.

// Shared with the other Docker tests, which use parts these tests do not.
#[allow(dead_code)]
mod support;

use std::path::PathBuf;
use std::process::Output;

use minicloud_agent::{Agent, AgentConfig, AgentService};
use minicloud_proto::v1::node_agent_server::NodeAgent as _;
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{EnsureVolume, ObservedState, RemoveInstance, RemoveVolume};
use serde_json::json;
use support::{Tenant, agent, apply_ok, docker, network, observe, start_spec};

/// Idles until SIGTERM, which it obeys at once.
const SLEEP: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; while true; do sleep 1; done",
];

const MIB: u64 = 1 << 20;

/// EnsureVolume of `name` with `size_bytes` and the default group.
fn volume(tenant: &Tenant, name: &str, size_bytes: u64) -> Op {
    Op::EnsureVolume(EnsureVolume {
        tenant: tenant.name.clone(),
        name: name.into(),
        size_bytes,
        ..EnsureVolume::default()
    })
}

fn remove_volume(tenant: &Tenant, name: &str, keep_data: bool) -> Op {
    Op::RemoveVolume(RemoveVolume {
        tenant: tenant.name.clone(),
        name: name.into(),
        keep_data,
    })
}

/// StartInstance of `app` idling with each of `volumes` mounted at `/<volume>`.
fn start_with(tenant: &Tenant, app: &str, volumes: &[&str]) -> Op {
    let mounts: Vec<_> = volumes
        .iter()
        .map(|v| json!({"volume": v, "mountPath": format!("/{v}")}))
        .collect();
    let spec = json!({"image": support::IMAGE, "command": SLEEP, "volumes": mounts});
    start_spec(tenant, app, spec)
}

/// Applies the network, then starts `app`; its container id.
async fn run(service: &AgentService, tenant: &Tenant, app: &str, volumes: &[&str]) -> String {
    let ops = vec![network(tenant), start_with(tenant, app, volumes)];
    apply_ok(service, ops).await.results[1].container_id.clone()
}

async fn stop(service: &AgentService, id: &str) {
    let op = Op::RemoveInstance(RemoveInstance {
        container_id: id.into(),
        grace_seconds: 1,
    });
    apply_ok(service, vec![op]).await;
}

/// Runs `script` in the container as its own (default) user.
fn sh(container: &str, script: &str) -> Output {
    docker(&["exec", container, "sh", "-c", script])
}

fn sh_ok(container: &str, script: &str) -> String {
    let out = sh(container, script);
    assert!(
        out.status.success(),
        "{script:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The size of the filesystem at `path` inside the container, in KiB, as `df` shows it.
fn df_kib(container: &str, path: &str) -> u64 {
    let table = sh_ok(container, &format!("df -k {path}"));
    let row = table.lines().last().expect("a df row");
    let blocks = row.split_whitespace().nth(1).expect("a size column");
    blocks.parse().unwrap_or_else(|_| panic!("df row {row:?}"))
}

/// The host mount point of the tenant's volume `name`.
fn mount_point(tenant: &Tenant, name: &str) -> PathBuf {
    tenant
        .storage_dir()
        .join("volumes")
        .join(&tenant.name)
        .join(name)
        .join("mnt")
}

fn is_mounted(dir: &std::path::Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let dir = dir.to_str().unwrap();
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(dir))
}

fn observed_volume<'a>(
    state: &'a ObservedState,
    name: &str,
) -> &'a minicloud_proto::v1::ObservedVolume {
    state
        .volumes
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("volume {name} is not observed"))
}

#[tokio::test]
async fn the_node_reports_loop_ext4_as_its_volume_mechanism() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let mechanism = observe(&service).await.volume_mechanism.unwrap();
    assert_eq!(mechanism.name, "loop-ext4", "{}", mechanism.detail);
    assert!(
        mechanism
            .detail
            .starts_with("hard size limits by a sparse ext4 image per volume")
    );
    let config =
        AgentConfig::new(format!("node-{}", tenant.name)).with_storage_dir(tenant.storage_dir());
    let node = Agent::connect(config).await.unwrap();
    let node = node.node_object("http://127.0.0.1:7071").await.unwrap();
    let storage = node.status.unwrap().storage.unwrap();
    assert_eq!(
        (storage.mechanism, storage.detail),
        (mechanism.name, mechanism.detail)
    );
}

#[tokio::test]
async fn writing_past_the_size_fails_with_enospc_while_another_volume_keeps_working() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let volumes = vec![volume(&tenant, "a", 8 * MIB), volume(&tenant, "b", 8 * MIB)];
    apply_ok(&service, volumes).await;
    let id = run(&service, &tenant, "web", &["a", "b"]).await;
    let out = sh(&id, "dd if=/dev/zero of=/a/fill bs=1M count=16");
    let printed = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "writing 16 MiB into 8 MiB succeeded");
    assert!(printed.contains("No space left on device"), "{printed}");
    assert_eq!(sh_ok(&id, "echo fine > /b/note && cat /b/note"), "fine");
    let observed = observe(&service).await;
    let a = observed_volume(&observed, &format!("mc-{}-a", tenant.name));
    assert!(
        a.capacity_bytes > 4 * MIB && a.capacity_bytes <= 8 * MIB,
        "{a:?}"
    );
    assert!(
        a.used_bytes + MIB > a.capacity_bytes,
        "a full volume: {a:?}"
    );
    let mounted: Vec<_> = a
        .mounted_by
        .iter()
        .map(|m| m.container_id.as_str())
        .collect();
    assert_eq!(mounted, [id.as_str()]);
    assert!(!a.mounted_by[0].read_only);
}

#[tokio::test]
async fn the_default_non_root_user_writes_and_its_files_belong_to_the_volumes_group() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let with_group = Op::EnsureVolume(EnsureVolume {
        fs_group: 4321,
        ..match volume(&tenant, "data", 8 * MIB) {
            Op::EnsureVolume(op) => op,
            _ => unreachable!("volume builds an EnsureVolume"),
        }
    });
    apply_ok(&service, vec![with_group]).await;
    let id = run(&service, &tenant, "web", &["data"]).await;
    assert_eq!(sh_ok(&id, "id -u"), "65534");
    assert!(sh_ok(&id, "id -G").split_whitespace().any(|g| g == "4321"));
    sh_ok(&id, "echo hello > /data/greeting");
    let owner = sh_ok(&id, "stat -c '%u:%g %a' /data /data/greeting");
    assert_eq!(
        owner.lines().collect::<Vec<_>>(),
        ["65534:4321 2775", "65534:4321 644"]
    );
}

#[tokio::test]
async fn data_survives_an_agent_restart_and_a_host_reboot_without_being_formatted_again() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    apply_ok(&service, vec![volume(&tenant, "data", 8 * MIB)]).await;
    let id = run(&service, &tenant, "web", &["data"]).await;
    sh_ok(&id, "echo kept > /data/note");
    stop(&service, &id).await;
    let mount = mount_point(&tenant, "data");
    let image = mount.with_file_name("disk.img");
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&image).unwrap());

    let restarted = agent(&tenant).await;
    apply_ok(&restarted, vec![volume(&tenant, "data", 8 * MIB)]).await;
    let id = run(&restarted, &tenant, "web", &["data"]).await;
    assert_eq!(sh_ok(&id, "cat /data/note"), "kept");
    stop(&restarted, &id).await;

    let out = std::process::Command::new("umount")
        .arg(&mount)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!is_mounted(&mount));
    let rebooted = agent(&tenant).await;
    assert!(
        is_mounted(&mount),
        "the agent's start attaches the volume again"
    );
    apply_ok(&rebooted, vec![volume(&tenant, "data", 8 * MIB)]).await;
    let id = run(&rebooted, &tenant, "web", &["data"]).await;
    assert_eq!(sh_ok(&id, "cat /data/note"), "kept");
    let same = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&image).unwrap());
    assert_eq!(same, inode, "the image is the same file");
}

#[tokio::test]
async fn a_larger_size_grows_the_volume_that_df_shows_inside_the_container() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    apply_ok(&service, vec![volume(&tenant, "data", 16 * MIB)]).await;
    let id = run(&service, &tenant, "web", &["data"]).await;
    sh_ok(&id, "echo kept > /data/note");
    let before = df_kib(&id, "/data");
    let mechanism = observe(&service).await.volume_mechanism.unwrap();
    let online = !mechanism.detail.contains("CAP_SYS_RESOURCE");
    let grow = support::plan(vec![volume(&tenant, "data", 48 * MIB)]);
    let result = service.apply(tonic::Request::new(grow)).await;
    let result = result.unwrap().into_inner();
    let id = if online {
        assert!(result.results[0].ok, "{}", result.results[0].error);
        id
    } else {
        // This host cannot grow a mounted ext4: the volume grows once nothing mounts it.
        let error = &result.results[0].error;
        assert!(error.contains("while a container mounts it"), "{error}");
        stop(&service, &id).await;
        apply_ok(&service, vec![volume(&tenant, "data", 48 * MIB)]).await;
        run(&service, &tenant, "web", &["data"]).await
    };
    let after = df_kib(&id, "/data");
    assert!(
        after > before + 24 * 1024,
        "df shows {before} KiB, then {after} KiB"
    );
    assert_eq!(sh_ok(&id, "cat /data/note"), "kept");
    apply_ok(&service, vec![volume(&tenant, "data", 16 * MIB)]).await;
    assert_eq!(df_kib(&id, "/data"), after, "a volume never shrinks");
}

#[tokio::test]
async fn removal_deletes_everything_unless_the_data_is_kept_for_the_next_ensure() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let docker_name = format!("mc-{}-data", tenant.name);
    apply_ok(&service, vec![volume(&tenant, "data", 8 * MIB)]).await;
    let id = run(&service, &tenant, "web", &["data"]).await;
    sh_ok(&id, "echo kept > /data/note");
    stop(&service, &id).await;
    let mount = mount_point(&tenant, "data");

    apply_ok(&service, vec![remove_volume(&tenant, "data", true)]).await;
    assert!(
        !docker(&["volume", "inspect", &docker_name])
            .status
            .success()
    );
    assert!(!is_mounted(&mount) && mount.with_file_name("disk.img").is_file());
    apply_ok(&service, vec![volume(&tenant, "data", 8 * MIB)]).await;
    let id = run(&service, &tenant, "web", &["data"]).await;
    assert_eq!(sh_ok(&id, "cat /data/note"), "kept");
    stop(&service, &id).await;

    apply_ok(&service, vec![remove_volume(&tenant, "data", false)]).await;
    assert!(
        !docker(&["volume", "inspect", &docker_name])
            .status
            .success()
    );
    assert!(!is_mounted(&mount));
    assert!(
        !mount.parent().unwrap().exists(),
        "the volume's directory is gone"
    );
    apply_ok(&service, vec![volume(&tenant, "data", 8 * MIB)]).await;
    let id = run(&service, &tenant, "web", &["data"]).await;
    assert_eq!(
        sh_ok(&id, "ls /data | wc -l"),
        "0",
        "a new volume starts empty"
    );
}
