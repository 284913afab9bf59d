//! The container the runtime creates, in the agent's own terms: what [`Runtime::create_container`]
//! takes, whoever builds it.
//!
//! [`Runtime::create_container`]: super::Runtime::create_container

use std::collections::BTreeMap;
use std::fmt;

/// Environment variables; `Debug` shows only the names, so values (secrets among them) never
/// reach a log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env(pub Vec<(String, String)>);

impl Env {
    /// The variables as Docker takes them: `NAME=value`.
    pub fn to_docker(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| format!("{name}=<redacted>")))
            .finish()
    }
}

/// Limits always applied to a tenant container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// CPU limit in billionths of a CPU.
    pub nano_cpus: u64,
    /// Maximum number of processes.
    pub pids: u32,
}

/// A tenant volume mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The Docker volume name (`mc-<tenant>-<volume>`).
    pub volume: String,
    /// Absolute path inside the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
}

/// The container's logging driver and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The driver (`json-file`).
    pub driver: String,
    /// Driver options (`max-size`, `max-file`).
    pub options: BTreeMap<String, String>,
}

/// When the engine restarts a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Always, whatever the exit code: the agent reports restarts, controllers decide the rest.
    Always,
}

/// Everything needed to create a tenant container, in the agent's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The container name (`mc-<tenant>-<instance>`).
    pub name: String,
    /// The image reference.
    pub image: String,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command when set.
    pub cmd: Option<Vec<String>>,
    /// Environment variables, literal and resolved from Secrets.
    pub env: Env,
    /// The host name inside the container (the instance name).
    pub hostname: String,
    /// `uid:gid` to run as.
    pub user: String,
    /// minicloud's labels.
    pub labels: BTreeMap<String, String>,
    /// Ports the container listens on (`8080/tcp`), exposed on its network, never published.
    pub exposed_ports: Vec<String>,
    /// The only network the container joins: its tenant's.
    pub network: String,
    /// DNS names of the container on that network.
    pub aliases: Vec<String>,
    /// Memory, CPU and process limits.
    pub limits: Limits,
    /// Capabilities dropped (`ALL`).
    pub cap_drop: Vec<String>,
    /// Capabilities added back: only those the spec asks for among
    /// [`ALLOWED_CAPABILITIES`](minicloud_manifests::validate::ALLOWED_CAPABILITIES). They take
    /// effect for processes running as root (`user: 0`, where the tenant allows it).
    pub cap_add: Vec<String>,
    /// Security options (`no-new-privileges`).
    pub security_opt: Vec<String>,
    /// Mount the image's filesystem read-only.
    pub read_only_root: bool,
    /// Run a minimal init as PID 1 that forwards signals and reaps zombies: a process that is
    /// PID 1 itself ignores SIGTERM unless it handles it, and every stop would wait the grace
    /// period out.
    pub init: bool,
    /// tmpfs mounts: path → options.
    pub tmpfs: BTreeMap<String, String>,
    /// Tenant volumes.
    pub mounts: Vec<Mount>,
    /// Supplementary groups: the group of each mounted volume, so the container's user can
    /// write to it whatever its uid.
    pub group_add: Vec<String>,
    /// Logging with rotation.
    pub log: LogConfig,
    /// The restart policy.
    pub restart: RestartPolicy,
}
