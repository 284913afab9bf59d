//! The objects the controllers' unit tests start from. Each shape is built in one function
//! here (a container spec only in [`container`]), and tests change what they need on the result,
//! so a change to a kind's fields touches this file alone.

use minicloud_manifests::{
    App, AppSpec, Bytes, ContainerSpec, Cpu, EnvSource, EnvVar, Instance, InstanceSpec, ObjectMeta,
    ResolvedResources, Resources, SecretKeyRef, VolumeMount,
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
