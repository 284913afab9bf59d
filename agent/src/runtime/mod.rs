//! The container engine as the agent sees it: a small trait over the few Docker operations the
//! agent needs, with a Docker implementation ([`docker`] and [`docker_stats`], the only modules
//! that know bollard) and a recording fake ([`fake`]) for tests.

pub mod config;
pub mod docker;
pub mod docker_stats;
pub mod fake;
pub mod firewall;
pub mod stats;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use config::{ContainerConfig, Mount};
pub use stats::{ContainerStats, RunningContainer};

/// A boxed error from the engine's client library, kept as the cause of a [`RuntimeError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What failed while talking to the container engine.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be reached or answered garbage.
    #[error("cannot reach the Docker Engine: {0}")]
    Unreachable(#[source] BoxError),
    /// The named object does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The engine refused the request (name taken, network in use, invalid setting, ...).
    #[error("Docker refused to {step}: {message}")]
    Refused {
        /// What the agent tried to do (`create container mc-acme-web-1`).
        step: String,
        /// The engine's explanation.
        message: String,
    },
    /// The host firewall rules that keep tenant networks apart could not be installed.
    #[error(
        "cannot install the tenant isolation rules: {0}; the node agent needs root (or \
         CAP_NET_ADMIN) and iptables"
    )]
    Firewall(String),
    /// Pulling an image that is not present failed.
    #[error(
        "image {image} is not present on this node and pulling it failed: {message}; \
         build or load it on the node, or check the name and the registry"
    )]
    PullFailed {
        /// The image reference.
        image: String,
        /// The engine's explanation.
        message: String,
    },
}

/// The result of a runtime call.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// The host's resources, as the engine reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostInfo {
    /// Number of CPUs.
    pub ncpu: u64,
    /// Total memory in bytes.
    pub memory_bytes: u64,
}

/// A managed container with the details of its inspection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The full container id.
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// All labels.
    pub labels: BTreeMap<String, String>,
    /// Docker's state: created, running, restarting, exited, dead, paused, removing.
    pub state: String,
    /// The exit code Docker reports (meaningful once the container has exited).
    pub exit_code: Option<i32>,
    /// How often Docker restarted the container.
    pub restart_count: u32,
    /// The names of the networks the container is attached to, with its address on each.
    pub networks: BTreeMap<String, String>,
    /// RFC 3339; empty when never started.
    pub started_at: String,
    /// RFC 3339; empty when never finished.
    pub finished_at: String,
    /// The Docker volumes it mounts.
    pub mounts: Vec<Mount>,
}

/// A managed container as a listing shows it, running or not, without an inspection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedContainer {
    /// The full container id.
    pub id: String,
    /// All labels.
    pub labels: BTreeMap<String, String>,
    /// Whether it runs now.
    pub running: bool,
}

/// A managed network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInfo {
    /// The network id.
    pub id: String,
    /// The network name.
    pub name: String,
    /// All labels.
    pub labels: BTreeMap<String, String>,
}

/// A managed volume.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeInfo {
    /// The volume name.
    pub name: String,
    /// All labels.
    pub labels: BTreeMap<String, String>,
}

/// What kind of object an engine event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// A container.
    Container,
    /// A network.
    Network,
    /// A volume.
    Volume,
    /// Anything else (images, the daemon, ...).
    Other,
}

/// One change reported by the engine's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeEvent {
    /// The kind of object.
    pub object: ObjectType,
    /// Docker's action: `create`, `start`, `die`, `destroy`, `connect`, ...
    pub action: String,
    /// The object's id (for volumes, its name).
    pub id: String,
    /// The event's attributes; for containers, these include its labels and, on `die`,
    /// `exitCode`.
    pub attributes: BTreeMap<String, String>,
    /// When it happened.
    pub time: SystemTime,
}

/// Which output a log chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One message of a container's output as the engine logged it: a line with its newline, or a
/// piece of a longer line (the engine cuts lines into pieces of 16 KiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// Where it came from.
    pub stream: LogStream,
    /// When the engine logged it, in nanoseconds since the Unix epoch.
    pub time_unix_nanos: i64,
    /// The bytes written.
    pub data: Vec<u8>,
}

/// Which logs to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// Keep streaming new output.
    pub follow: bool,
    /// Only output written at or after this time (Unix seconds); `None` for all.
    pub since: Option<i64>,
}

/// A tenant network to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The network name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
}

/// A tenant volume to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// The volume name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Options of Docker's `local` driver: `type=none, o=bind, device=<dir>` binds a host
    /// directory (a mounted volume image's data directory).
    pub options: BTreeMap<String, String>,
}

/// The operations the agent needs from a container engine. Listings return only objects labelled
/// as managed by minicloud; nothing else is ever returned, changed or removed.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// The host's CPUs and memory.
    async fn info(&self) -> Result<HostInfo>;
    /// Every managed container, inspected.
    async fn list_containers(&self) -> Result<Vec<ContainerInfo>>;
    /// The managed containers labelled with `node`, inspected: what that node's agent runs,
    /// without inspecting those of other agents sharing the engine.
    async fn list_node_containers(&self, node: &str) -> Result<Vec<ContainerInfo>>;
    /// Every managed network.
    async fn list_networks(&self) -> Result<Vec<NetworkInfo>>;
    /// Every managed volume.
    async fn list_volumes(&self) -> Result<Vec<VolumeInfo>>;
    /// Creates the network unless a managed one with that name exists; true when created.
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<bool>;
    /// Creates the volume unless a managed one with that name exists; true when created.
    async fn ensure_volume(&self, spec: &VolumeSpec) -> Result<bool>;
    /// Pulls the image unless it is present.
    async fn ensure_image(&self, image: &str) -> Result<()>;
    /// Creates and starts a container; returns its id.
    async fn create_container(&self, config: &ContainerConfig) -> Result<String>;
    /// Starts an existing container.
    async fn start_container(&self, id: &str) -> Result<()>;
    /// Restarts a container in place (SIGTERM, SIGKILL after `grace`, then start again), as a
    /// failing health check calls for.
    async fn restart_container(&self, id: &str, grace: Duration) -> Result<()>;
    /// Stops a container (SIGTERM, SIGKILL after `grace`); false when it was gone.
    async fn stop_container(&self, id: &str, grace: Duration) -> Result<bool>;
    /// Stops a container (SIGTERM, SIGKILL after `grace`) and removes it; false when it was
    /// already gone.
    async fn remove_container(&self, id: &str, grace: Duration) -> Result<bool>;
    /// Removes a network by id; false when it was already gone.
    async fn remove_network(&self, id: &str) -> Result<bool>;
    /// Removes a volume by name; false when it was already gone.
    async fn remove_volume(&self, name: &str) -> Result<bool>;
    /// Changes to containers, networks and volumes from `since` on (now when `None`); the
    /// stream ends when the connection to the engine drops.
    fn events(&self, since: Option<SystemTime>) -> BoxStream<'static, Result<RuntimeEvent>>;
    /// Every managed container labelled with `node`, running or not, from one listing.
    async fn list_all(&self, node: &str) -> Result<Vec<ListedContainer>>;
    /// The running managed containers labelled with `node`, from one listing (no inspection).
    async fn list_running(&self, node: &str) -> Result<Vec<RunningContainer>>;
    /// A running container's resource counters now (one reading, not a stream).
    async fn stats(&self, id: &str) -> Result<ContainerStats>;
    /// A container's output.
    fn logs(&self, id: &str, options: LogOptions) -> BoxStream<'static, Result<LogChunk>>;
}
