//! Turns a StartInstance operation into the container the engine creates, with every isolation
//! default of DESIGN.md: the tenant network only, no capabilities, no new privileges, a read-only
//! root with a small tmpfs at /tmp, limits always set, a non-root user, no published ports, log
//! rotation and an `always` restart policy. Pure: data in, data out.

use std::collections::BTreeMap;

use minicloud_manifests::{ContainerSpec, Protocol};
use minicloud_proto::v1::StartInstance;

use crate::health::spec as health_spec;
use crate::labels;
use crate::runtime::config::{ContainerConfig, Env, Limits, LogConfig, Mount, RestartPolicy};

/// The uid (and gid) tenant containers run as unless their spec names one: `nobody`.
pub const DEFAULT_USER_ID: u32 = 65534;
/// Mount options of the writable tmpfs at `/tmp`; the container's user owns it (see
/// [`tmp_options`]).
pub const TMP_OPTIONS: &str = "rw,noexec,nosuid,nodev,size=64m";
/// Largest size of one json-file log before rotation.
pub const LOG_MAX_SIZE: &str = "10m";
/// Number of rotated json-file logs kept.
pub const LOG_MAX_FILE: &str = "3";

/// Why a StartInstance cannot become a container.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `container_json` is not a valid ContainerSpec.
    #[error("the instance's container spec is not valid: {0}")]
    InvalidSpec(#[source] serde_json::Error),
    /// An env var reads a Secret but the plan carries no value for it.
    #[error(
        "environment variable {0} reads a Secret, but the plan carries no value for it in \
         secret_env"
    )]
    MissingSecretValue(String),
    /// The spec adds a capability outside minicloud's allowlist (admission refuses such specs;
    /// the agent checks again rather than trust its input).
    #[error(
        "the container spec adds capability {0:?}, which tenant containers may not have; \
         allowed: {allowed}",
        allowed = minicloud_manifests::validate::ALLOWED_CAPABILITIES.join(", ")
    )]
    CapabilityNotAllowed(String),
    /// The health check probes a port the container does not declare.
    #[error(
        "the health check probes port {0:?}, which the container's ports do not declare; \
         name a declared port or give its number"
    )]
    UnknownHealthCheckPort(String),
    /// A volume mount path is not an absolute path below `/`.
    #[error("volume {volume} has mount path {path:?}; use an absolute path other than /")]
    InvalidMountPath {
        /// The Volume's name.
        volume: String,
        /// The offending path.
        path: String,
    },
}

/// The container for `op` on `node`, with minicloud's defaults.
pub fn container_config(op: &StartInstance, node: &str) -> Result<ContainerConfig, ConfigError> {
    let spec: ContainerSpec =
        serde_json::from_str(&op.container_json).map_err(ConfigError::InvalidSpec)?;
    let user = spec.user.unwrap_or(DEFAULT_USER_ID);
    Ok(ContainerConfig {
        name: labels::container_name(&op.tenant, &op.instance),
        image: spec.image.clone(),
        entrypoint: non_empty(&spec.command),
        cmd: non_empty(&spec.args),
        env: env(&spec, &op.secret_env)?,
        hostname: op.instance.clone(),
        user: format!("{user}:{user}"),
        labels: container_labels(op, node, &spec)?,
        exposed_ports: spec.ports.iter().map(port_key).collect(),
        network: labels::network_name(&op.tenant),
        aliases: vec![op.app.clone(), format!("{}.{}.internal", op.app, op.tenant)],
        limits: limits(&spec),
        cap_drop: vec!["ALL".to_owned()],
        cap_add: capabilities(&spec)?,
        security_opt: vec!["no-new-privileges".to_owned()],
        read_only_root: true,
        init: true,
        tmpfs: BTreeMap::from([("/tmp".to_owned(), tmp_options(user))]),
        mounts: mounts(&op.tenant, &spec)?,
        group_add: Vec::new(),
        log: json_file_log(),
        restart: RestartPolicy::Always,
    })
}

/// The `/tmp` tmpfs options for a container running as `user`. The tmpfs is owned by that user:
/// Docker mounts it world-writable (1777) on the first start only — on every later start it
/// takes the mode of the mount point it created (755, root's), which the container's user could
/// no longer write to after a restart.
pub fn tmp_options(user: u32) -> String {
    format!("{TMP_OPTIONS},uid={user},gid={user}")
}

/// The capabilities the spec adds back, each checked against the allowlist.
fn capabilities(spec: &ContainerSpec) -> Result<Vec<String>, ConfigError> {
    let allowed = minicloud_manifests::validate::ALLOWED_CAPABILITIES;
    match spec
        .capabilities
        .iter()
        .find(|c| !allowed.contains(&c.as_str()))
    {
        Some(refused) => Err(ConfigError::CapabilityNotAllowed(refused.clone())),
        None => Ok(spec.capabilities.clone()),
    }
}

fn non_empty(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

/// Literal values in spec order, Secret references resolved from `secret_env`, then any
/// resolved values the spec does not name.
fn env(
    spec: &ContainerSpec,
    secret_env: &std::collections::HashMap<String, String>,
) -> Result<Env, ConfigError> {
    let mut out = Vec::with_capacity(spec.env.len() + secret_env.len());
    for var in &spec.env {
        let value = match (&var.value, &var.value_from) {
            (_, Some(_)) => secret_env
                .get(&var.name)
                .cloned()
                .ok_or_else(|| ConfigError::MissingSecretValue(var.name.clone()))?,
            (Some(value), None) => value.clone(),
            (None, None) => String::new(),
        };
        out.push((var.name.clone(), value));
    }
    let mut extra: Vec<_> = secret_env
        .iter()
        .filter(|(name, _)| !spec.env.iter().any(|var| &var.name == *name))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    extra.sort();
    out.extend(extra);
    Ok(Env(out))
}

fn container_labels(
    op: &StartInstance,
    node: &str,
    spec: &ContainerSpec,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = labels::tenant_labels(node, &op.tenant);
    for (key, value) in [
        (labels::APP, &op.app),
        (labels::INSTANCE, &op.instance),
        (labels::INSTANCE_UID, &op.instance_uid),
        (labels::RELEASE, &op.release),
        (labels::SPEC_HASH, &op.spec_hash),
    ] {
        out.insert(key.to_owned(), value.clone());
    }
    if !spec.ports.is_empty() {
        let ports: Vec<_> = spec.ports.iter().map(port_key).collect();
        out.insert(labels::PORTS.to_owned(), ports.join(","));
    }
    if let Some(check) = &spec.health_check {
        let resolved = health_spec::resolve(check, &spec.ports)
            .ok_or_else(|| ConfigError::UnknownHealthCheckPort(check.http.port.to_string()))?;
        let json = serde_json::to_string(&resolved).map_err(ConfigError::InvalidSpec)?;
        out.insert(labels::HEALTH.to_owned(), json);
    }
    Ok(out)
}

fn port_key(port: &minicloud_manifests::Port) -> String {
    let protocol = match port.protocol {
        Some(Protocol::Udp) => "udp",
        Some(Protocol::Tcp) | None => "tcp",
    };
    format!("{}/{protocol}", port.port)
}

fn limits(spec: &ContainerSpec) -> Limits {
    let resources = &spec.resources;
    Limits {
        memory_bytes: resources.memory.get(),
        nano_cpus: resources.cpu.millis() * 1_000_000,
        pids: resources.pids,
    }
}

fn mounts(tenant: &str, spec: &ContainerSpec) -> Result<Vec<Mount>, ConfigError> {
    spec.volumes
        .iter()
        .map(|mount| {
            let path = &mount.mount_path;
            if !path.starts_with('/') || path.trim_end_matches('/').is_empty() {
                return Err(ConfigError::InvalidMountPath {
                    volume: mount.name.clone(),
                    path: path.clone(),
                });
            }
            Ok(Mount {
                volume: labels::volume_name(tenant, &mount.name),
                target: path.clone(),
                read_only: mount.read_only,
            })
        })
        .collect()
}

fn json_file_log() -> LogConfig {
    LogConfig {
        driver: "json-file".to_owned(),
        options: BTreeMap::from([
            ("max-size".to_owned(), LOG_MAX_SIZE.to_owned()),
            ("max-file".to_owned(), LOG_MAX_FILE.to_owned()),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The StartInstance of the container an App spec written as `app_spec` resolves to, as
    /// the app controller makes it.
    fn start(app_spec: serde_json::Value) -> StartInstance {
        let spec: minicloud_manifests::AppSpec = serde_json::from_value(app_spec).unwrap();
        let container = serde_json::to_value(spec.container()).unwrap();
        StartInstance {
            tenant: "acme".into(),
            app: "web".into(),
            instance: "web-1".into(),
            instance_uid: "uid-1".into(),
            release: "web-r1".into(),
            container_json: container.to_string(),
            secret_env: Default::default(),
            spec_hash: "h1".into(),
        }
    }

    #[test]
    fn only_allowlisted_capabilities_are_added_back() {
        let spec =
            |caps: &[&str]| start(json!({"image": "hello:1", "capabilities": {"add": caps}}));
        let config = container_config(&spec(&["NET_BIND_SERVICE", "CHOWN"]), "n1").unwrap();
        assert_eq!(config.cap_drop, ["ALL"]);
        assert_eq!(config.cap_add, ["NET_BIND_SERVICE", "CHOWN"]);
        let refused = container_config(&spec(&["CHOWN", "SYS_ADMIN"]), "n1").unwrap_err();
        assert!(
            matches!(&refused, ConfigError::CapabilityNotAllowed(c) if c == "SYS_ADMIN"),
            "{refused}"
        );
    }

    #[test]
    fn a_minimal_spec_gets_every_isolation_default() {
        let minimal = json!({"image": "hello:1"});
        let config = container_config(&start(minimal), "n1").unwrap();
        assert_eq!(config.name, "mc-acme-web-1");
        assert_eq!((config.entrypoint, config.cmd), (None, None));
        assert_eq!(config.hostname, "web-1");
        assert_eq!(config.user, "65534:65534");
        assert_eq!(config.network, "mc-acme");
        assert_eq!(config.aliases, ["web", "web.acme.internal"]);
        assert_eq!(config.cap_drop, ["ALL"]);
        assert!(config.cap_add.is_empty());
        assert_eq!(config.security_opt, ["no-new-privileges"]);
        assert!(config.read_only_root);
        assert_eq!(
            config.tmpfs["/tmp"],
            "rw,noexec,nosuid,nodev,size=64m,uid=65534,gid=65534"
        );
        assert_eq!(
            config.limits,
            Limits {
                memory_bytes: 128 * 1024 * 1024,
                nano_cpus: 250_000_000,
                pids: 256
            }
        );
        assert!(config.exposed_ports.is_empty() && config.mounts.is_empty());
        assert_eq!(config.log.driver, "json-file");
        assert_eq!(config.log.options["max-size"], "10m");
        assert_eq!(config.log.options["max-file"], "3");
        assert_eq!(config.restart, RestartPolicy::Always);
    }

    #[test]
    fn labels_name_node_tenant_app_instance_release_and_spec_hash() {
        let config = container_config(&start(json!({"image": "hello:1"})), "n1").unwrap();
        let expected = [
            ("minicloud.managed", "true"),
            ("minicloud.node", "n1"),
            ("minicloud.tenant", "acme"),
            ("minicloud.app", "web"),
            ("minicloud.instance", "web-1"),
            ("minicloud.instance-uid", "uid-1"),
            ("minicloud.release", "web-r1"),
            ("minicloud.spec-hash", "h1"),
        ];
        let expected: BTreeMap<String, String> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(config.labels, expected);
    }

    #[test]
    fn a_full_spec_sets_command_env_ports_limits_volumes_and_user() {
        let mut op = start(json!({
            "image": "hello:1",
            "command": ["httpd"], "args": ["-f", "-p", "8080"],
            "env": [
                {"name": "GREETING", "value": "hi"},
                {"name": "DB_PASSWORD", "valueFrom": {"secret": {"name": "db", "key": "password"}}}
            ],
            "ports": [{"name": "http", "port": 8080}, {"port": 53, "protocol": "UDP"}],
            "resources": {"cpu": "1500m", "memory": "64Mi", "pids": 32},
            "volumes": [{"volume": "data", "mountPath": "/data", "readOnly": true}],
            "user": 1000
        }));
        op.secret_env.insert("DB_PASSWORD".into(), "s3cr3t".into());
        let config = container_config(&op, "n1").unwrap();
        assert_eq!(config.entrypoint.unwrap(), ["httpd"]);
        assert_eq!(config.cmd.unwrap(), ["-f", "-p", "8080"]);
        assert_eq!(
            config.env.to_docker(),
            ["GREETING=hi", "DB_PASSWORD=s3cr3t"]
        );
        assert_eq!(config.exposed_ports, ["8080/tcp", "53/udp"]);
        assert_eq!(config.labels["minicloud.ports"], "8080/tcp,53/udp");
        assert_eq!(
            config.limits,
            Limits {
                memory_bytes: 64 * 1024 * 1024,
                nano_cpus: 1_500_000_000,
                pids: 32
            }
        );
        let mount = Mount {
            volume: "mc-acme-data".into(),
            target: "/data".into(),
            read_only: true,
        };
        assert_eq!(config.mounts, [mount]);
        assert_eq!(config.user, "1000:1000");
        assert!(config.tmpfs["/tmp"].ends_with(",uid=1000,gid=1000"));
    }

    #[test]
    fn the_health_check_is_stored_resolved_in_a_label() {
        let op = start(json!({
            "image": "hello:1",
            "ports": [{"name": "http", "port": 8080}],
            "healthCheck": {"http": {"path": "/healthz", "port": "http"}, "periodSeconds": 2}
        }));
        let config = container_config(&op, "n1").unwrap();
        let stored: serde_json::Value =
            serde_json::from_str(&config.labels["minicloud.health"]).unwrap();
        let expected = json!({
            "http": {"path": "/healthz", "port": 8080},
            "initialDelaySeconds": 0, "periodSeconds": 2, "timeoutSeconds": 1,
            "failureThreshold": 3, "successThreshold": 1
        });
        assert_eq!(stored, expected);
    }

    #[test]
    fn a_health_check_on_an_undeclared_port_is_refused() {
        let op = start(json!({
            "image": "hello:1",
            "healthCheck": {"http": {"path": "/healthz", "port": "http"}}
        }));
        let err = container_config(&op, "n1").unwrap_err();
        assert!(matches!(err, ConfigError::UnknownHealthCheckPort(port) if port == "http"));
    }

    #[test]
    fn secret_values_never_appear_in_debug_output() {
        let mut op = start(json!({"image": "hello:1"}));
        op.secret_env.insert("TOKEN".into(), "s3cr3t".into());
        let config = container_config(&op, "n1").unwrap();
        assert_eq!(config.env.to_docker(), ["TOKEN=s3cr3t"]);
        let printed = format!("{config:?}");
        assert!(printed.contains("TOKEN") && !printed.contains("s3cr3t"));
    }

    #[test]
    fn a_secret_reference_without_a_value_is_refused() {
        let op = start(json!({
            "image": "hello:1",
            "env": [{"name": "DB", "valueFrom": {"secret": {"name": "db", "key": "k"}}}]
        }));
        let err = container_config(&op, "n1").unwrap_err();
        assert!(matches!(err, ConfigError::MissingSecretValue(name) if name == "DB"));
    }

    #[test]
    fn invalid_json_and_relative_mount_paths_are_refused() {
        let mut op = start(json!({"image": "hello:1"}));
        op.container_json = "{not json".into();
        assert!(matches!(
            container_config(&op, "n1"),
            Err(ConfigError::InvalidSpec(_))
        ));
        let op = start(json!({
            "image": "hello:1",
            "volumes": [{"volume": "data", "mountPath": "data"}]
        }));
        assert!(matches!(
            container_config(&op, "n1"),
            Err(ConfigError::InvalidMountPath { .. })
        ));
    }
}
