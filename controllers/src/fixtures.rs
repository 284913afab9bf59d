//! The objects the controllers' unit tests start from. Each shape is built in one function
//! here (a container spec only in [`container`]), and tests change what they need on the result,
//! so a change to a kind's fields touches this file alone.

use minicloud_manifests::{
    App, AppSpec, Bytes, ContainerSpec, Cpu, EnvSource, EnvVar, Instance, InstanceSpec, ObjectMeta,
    ResolvedResources, Resources, SecretKeyRef, Snapshot, SnapshotOrigin, SnapshotPhase,
    SnapshotSpec, SnapshotStatus, Volume, VolumeMount, VolumePhase, VolumeSpec, VolumeStatus,
};

/// The tenant every fixture belongs to.
pub const TENANT: &str = "acme";

/// App `web` (uid `uid-web`) running `image` as `replicas` replicas.
pub fn app(image: &str, replicas: u32) -> App {
    let mut meta = ObjectMeta::named("web", Some(TENANT));
    meta.uid = Some("uid-web".into());
    let spec = AppSpec {
        image: Some(image.into()),
        replicas: Some(replicas),
        ..AppSpec::default()
    };
    App::new(meta, spec)
}

/// A container running `image`, with nothing else set (so the default limits).
pub fn container(image: &str) -> ContainerSpec {
    ContainerSpec {
        image: image.into(),
        command: Vec::new(),
        args: Vec::new(),
        env: Vec::new(),
        ports: Vec::new(),
        resources: Resources::default().resolve(),
        volumes: Vec::new(),
        health_check: None,
        user: None,
        capabilities: Vec::new(),
    }
}

/// `container` limited to `cpu`, `memory` and 256 processes.
pub fn limited(mut container: ContainerSpec, cpu: Cpu, memory: Bytes) -> ContainerSpec {
    container.resources = ResolvedResources {
        cpu,
        memory,
        pids: 256,
    };
    container
}

/// `container` mounting each of `volumes` read-write at `/data`.
pub fn mounting(mut container: ContainerSpec, volumes: &[&str]) -> ContainerSpec {
    container.volumes = volumes
        .iter()
        .map(|volume| VolumeMount {
            name: (*volume).into(),
            mount_path: "/data".into(),
            read_only: false,
            host_path: None,
        })
        .collect();
    container
}

/// Instance `name` of App `app` and its Release `release`, bound to `node` when one is given,
/// running `container`.
pub fn instance(
    name: &str,
    app: &str,
    release: &str,
    node: Option<&str>,
    container: ContainerSpec,
) -> Instance {
    let spec = InstanceSpec {
        app: app.into(),
        release: release.into(),
        node: node.map(str::to_owned),
        container,
    };
    Instance::new(ObjectMeta::named(name, Some(TENANT)), spec)
}

/// Env var `name` set to `value`.
pub fn literal_var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// Env var `name` read from `key` of Secret `secret`.
pub fn secret_var(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvSource {
            secret: SecretKeyRef {
                name: secret.into(),
                key: key.into(),
            },
        }),
    }
}

/// A Ready node `name` with room for 4 cpus and 4 GiB, its heartbeat moments before `now`.
pub fn ready_node(name: &str, now: std::time::SystemTime) -> minicloud_manifests::Node {
    use minicloud_manifests::{Node, NodeCapacity, NodeSpec, NodeStatus};
    let mut node = Node::new(ObjectMeta::named(name, None), NodeSpec::default());
    node.status = Some(NodeStatus {
        allocatable: Some(NodeCapacity {
            cpu: Cpu::from_millis(4000),
            memory: Bytes::gibibytes(4),
            containers: 100,
        }),
        heartbeat_time: Some(crate::time::format(now)),
        ..NodeStatus::default()
    });
    node
}

/// Volume `name` of 1 GiB (uid `uid-<name>`), not bound yet.
pub fn volume(name: &str) -> Volume {
    let mut meta = ObjectMeta::named(name, Some(TENANT));
    meta.uid = Some(format!("uid-{name}"));
    meta.creation_timestamp = Some("2024-01-01T00:00:00Z".into());
    Volume::new(meta, VolumeSpec::new(Bytes::gibibytes(1)))
}

/// Volume `name` bound to `node` and Ready there.
pub fn bound_volume(name: &str, node: &str) -> Volume {
    let mut volume = volume(name);
    volume.status = Some(VolumeStatus {
        phase: VolumePhase::Ready,
        node: Some(node.into()),
        size_bytes: volume.spec.size.get(),
        ..VolumeStatus::default()
    });
    volume
}

/// Snapshot `name` of Volume `volume`, Ready, its archive at `acme/<volume>/uid-<name>`.
pub fn ready_snapshot(name: &str, volume: &str) -> Snapshot {
    let mut meta = ObjectMeta::named(name, Some(TENANT));
    meta.uid = Some(format!("uid-{name}"));
    let spec = SnapshotSpec {
        volume: volume.into(),
        origin: SnapshotOrigin::Manual,
    };
    let mut snapshot = Snapshot::new(meta, spec);
    snapshot.status = Some(SnapshotStatus {
        phase: SnapshotPhase::Ready,
        node: Some("node-a".into()),
        location: format!("{TENANT}/{volume}/uid-{name}"),
        sha256: "ab".repeat(32),
        size_bytes: 512,
        content_bytes: 1024,
        completed_at: Some("2024-01-01T00:00:00Z".into()),
        ..SnapshotStatus::default()
    });
    snapshot
}
