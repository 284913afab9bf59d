//! minicloud's node agent: the executor on every host. It runs tenant containers on the local
//! Docker Engine with minicloud's isolation defaults, reports what it manages, and serves the
//! `NodeAgent` gRPC API that controllers call. It decides nothing about desired state.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use minicloud_agent::{Agent, AgentConfig};
//!
//! let agent = Agent::connect(AgentConfig::new("node-1")).await?;
//! tonic::transport::Server::builder()
//!     .add_service(agent.service())
//!     .serve("127.0.0.1:7071".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```

pub mod apply;
pub mod container_config;
pub mod error;
pub mod events;
pub mod health;
pub mod ingress;
pub mod labels;
pub mod logs;
pub mod metrics;
pub mod node;
pub mod observe;
pub mod runtime;
pub mod service;
pub mod snapshot;
pub mod storage;
pub mod watch;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use minicloud_manifests::Node;
use minicloud_proto::v1::node_agent_server::NodeAgentServer;

pub use error::{Error, Result};
pub use node::{DEFAULT_HEARTBEAT_INTERVAL, NodeInfo, node_object, node_storage, run_heartbeat};
pub use runtime::Runtime;
pub use service::AgentService;

use crate::events::EventHub;
use crate::health::Health;
use crate::health::http::HttpChecker;
use crate::ingress::IngressMetrics;
use crate::logs::{KeptLogs, Retention};
use crate::metrics::Sampler;
use crate::observe::Observer;
use crate::runtime::docker::DockerRuntime;
use crate::snapshot::Snapshots;
use crate::snapshot::store::{SnapshotStore, SnapshotStoreUrl};
use crate::storage::mechanism::Mechanism;
use crate::storage::volumes::Volumes;

/// Where an agent keeps its volumes unless told otherwise.
pub const DEFAULT_STORAGE_DIR: &str = "/var/lib/minicloud/storage";

/// How to start an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The node's name: the Node object's name and the `minicloud.node` label on what it creates.
    pub node_name: String,
    /// Where the node's volumes (their images and mount points) live.
    pub storage_dir: PathBuf,
    /// Where snapshots are archived; `<storage_dir>/snapshots` when `None`.
    pub snapshot_store: Option<SnapshotStoreUrl>,
    /// How often the instances' resource use is sampled.
    pub metrics_interval: Duration,
    /// Where the instances' output is kept; `<storage_dir>/logs` when `None`.
    pub log_dir: Option<PathBuf>,
    /// How much of each tenant's output is kept.
    pub log_retention: Retention,
    /// Failed health probes in a row that raise an alert.
    pub health_alert_after: u32,
}

impl AgentConfig {
    /// An agent for the node `node_name`, using the local Docker Engine (`DOCKER_HOST` if set)
    /// and keeping volumes in [`DEFAULT_STORAGE_DIR`].
    pub fn new(node_name: impl Into<String>) -> AgentConfig {
        AgentConfig {
            node_name: node_name.into(),
            storage_dir: PathBuf::from(DEFAULT_STORAGE_DIR),
            snapshot_store: None,
            metrics_interval: metrics::DEFAULT_INTERVAL,
            log_dir: None,
            log_retention: Retention::default(),
            health_alert_after: health::alert::DEFAULT_ALERT_AFTER,
        }
    }

    /// The same agent alerting after `failures` failed health probes in a row.
    pub fn with_health_alert_after(mut self, failures: u32) -> AgentConfig {
        self.health_alert_after = failures;
        self
    }

    /// The same agent keeping each tenant's output within `retention`.
    pub fn with_log_retention(mut self, retention: Retention) -> AgentConfig {
        self.log_retention = retention;
        self
    }

    /// The same agent keeping its instances' output in `log_dir`.
    pub fn with_log_dir(mut self, log_dir: impl Into<PathBuf>) -> AgentConfig {
        self.log_dir = Some(log_dir.into());
        self
    }

    /// Where the instances' output is kept: the directory configured, else
    /// `<storage_dir>/logs`.
    pub fn log_dir(&self) -> PathBuf {
        self.log_dir
            .clone()
            .unwrap_or_else(|| self.storage_dir.join("logs"))
    }

    /// The same agent sampling its instances' resource use every `interval`.
    pub fn with_metrics_interval(mut self, interval: Duration) -> AgentConfig {
        self.metrics_interval = interval;
        self
    }

    /// The same agent archiving snapshots into `store`.
    pub fn with_snapshot_store(mut self, store: SnapshotStoreUrl) -> AgentConfig {
        self.snapshot_store = Some(store);
        self
    }

    /// The snapshot store: the one configured, else `<storage_dir>/snapshots`.
    pub fn snapshot_store_url(&self) -> SnapshotStoreUrl {
        self.snapshot_store
            .clone()
            .unwrap_or_else(|| SnapshotStoreUrl::default_for(&self.storage_dir))
    }

    /// The same agent keeping its volumes in `storage_dir`.
    pub fn with_storage_dir(mut self, storage_dir: impl Into<PathBuf>) -> AgentConfig {
        self.storage_dir = storage_dir.into();
        self
    }
}

/// A running agent: a container runtime plus the follower of its events, the prober of its
/// containers' health checks, the sampler of their resource use and the node's volumes.
#[derive(Clone)]
pub struct Agent {
    runtime: Arc<dyn Runtime>,
    node_name: String,
    hub: EventHub,
    health: Health,
    volumes: Arc<Volumes>,
    snapshots: Option<SnapshotStore>,
    sampler: Sampler,
    logs: Option<KeptLogs>,
    ingress: IngressMetrics,
}

impl Agent {
    /// Connects to the Docker Engine, finds out how volumes work in the storage directory,
    /// mounts again every volume a host restart unmounted, opens the kept logs, and starts
    /// following the engine's events and collecting the containers' output; fails when Docker
    /// is unreachable or the log store cannot be opened. Must be called within a tokio runtime.
    pub async fn connect(config: AgentConfig) -> Result<Agent> {
        let docker = DockerRuntime::connect().await?;
        let volumes = Volumes::detect(&config.storage_dir).await;
        if let Mechanism::Unavailable { reason } = volumes.mechanism() {
            tracing::warn!(%reason, "volumes cannot be made on this node");
        }
        for failure in volumes.reattach_all().await {
            tracing::warn!(error = %failure, "a volume could not be attached again");
        }
        let url = config.snapshot_store_url();
        let store = SnapshotStore::open(&url).map_err(|e| Error::SnapshotStore(e.to_string()))?;
        let snapshots = Snapshots::new(volumes.layout().clone(), store.clone());
        match snapshots.cleanup().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed what interrupted snapshots left"),
            Err(error) => tracing::warn!(%error, "cannot clean up after interrupted snapshots"),
        }
        let (log_dir, retention) = (config.log_dir(), config.log_retention);
        let agent = Agent::with_runtime(config, Arc::new(docker), Arc::new(volumes));
        let logs = KeptLogs::start(
            &log_dir,
            retention,
            agent.runtime.clone(),
            agent.node_name.clone(),
            &agent.hub,
        )?;
        Ok(Agent {
            snapshots: Some(store),
            logs: Some(logs),
            ..agent
        })
    }

    /// An agent over any runtime and volumes (fakes in tests). Must be called within a tokio
    /// runtime.
    pub fn with_runtime(
        config: AgentConfig,
        runtime: Arc<dyn Runtime>,
        volumes: Arc<Volumes>,
    ) -> Agent {
        let hub = EventHub::spawn(runtime.clone());
        let health = Health::spawn(
            runtime.clone(),
            (config.node_name.clone(), hub.clone()),
            Arc::new(HttpChecker),
            config.health_alert_after,
        );
        let sampler = Sampler::spawn(
            runtime.clone(),
            config.node_name.clone(),
            config.metrics_interval,
        );
        Agent {
            runtime,
            node_name: config.node_name,
            hub,
            health,
            volumes,
            snapshots: None,
            sampler,
            logs: None,
            ingress: IngressMetrics::default(),
        }
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Registers the per-instance resource series of the sampler into `metrics`.
    pub fn register_metrics(&self, metrics: &minicloud_common::metrics::Metrics) {
        let collector = metrics::SampleCollector::new(self.sampler.clone(), self.node_name.clone());
        metrics.register(|registry| registry.register_collector(Box::new(collector)));
    }

    /// The node's volumes, with the mechanism found at start.
    pub fn volumes(&self) -> &Arc<Volumes> {
        &self.volumes
    }

    /// The counters of this node's ingress, which `Metrics` reports: hand them to the
    /// ingress's [`Proxy`](ingress::Proxy).
    pub fn ingress_metrics(&self) -> IngressMetrics {
        self.ingress.clone()
    }

    /// The gRPC service to mount on a tonic server.
    pub fn service(&self) -> NodeAgentServer<AgentService> {
        NodeAgentServer::new(self.service_impl())
    }

    /// The service itself, for calling it in-process without a server.
    pub fn service_impl(&self) -> AgentService {
        let observer = Observer::new(
            self.runtime.clone(),
            self.node_name.clone(),
            self.hub.clone(),
            self.health.clone(),
        )
        .with_volumes(self.volumes.clone());
        let service = AgentService::new(self.runtime.clone(), self.node_name.clone(), observer)
            .with_sampler(self.sampler.clone())
            .with_ingress(self.ingress.clone());
        let service = match &self.logs {
            Some(logs) => service.with_logs(logs.clone()),
            None => service,
        };
        match &self.snapshots {
            Some(store) => service.with_snapshots(self.volumes.layout().clone(), store.clone()),
            None => service,
        }
    }

    /// What this host offers, from the engine.
    pub async fn node_info(&self) -> Result<NodeInfo> {
        Ok(self.runtime.info().await?.into())
    }

    /// This node's Node object, with its agent reachable at `endpoint` (`http://10.0.0.5:7071`)
    /// and its volume mechanism in `status.storage`.
    pub async fn node_object(&self, endpoint: &str) -> Result<Node> {
        let info = self.node_info().await?;
        let mut node = node_object(
            &self.node_name,
            endpoint,
            info,
            std::time::SystemTime::now(),
        );
        if let Some(status) = &mut node.status {
            status.storage = Some(node_storage(self.volumes.mechanism()));
        }
        Ok(node)
    }
}
