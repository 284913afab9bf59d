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
pub mod node;
pub mod observe;
pub mod runtime;
pub mod service;
pub mod snapshot;
pub mod storage;
pub mod watch;

use std::sync::Arc;

use minicloud_manifests::Node;
use minicloud_proto::v1::node_agent_server::NodeAgentServer;

pub use error::{Error, Result};
pub use node::{DEFAULT_HEARTBEAT_INTERVAL, NodeInfo, node_object, run_heartbeat};
pub use runtime::Runtime;
pub use service::AgentService;

use crate::events::EventHub;
use crate::health::Health;
use crate::health::http::HttpChecker;
use crate::observe::Observer;
use crate::runtime::docker::DockerRuntime;

/// How to start an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The node's name: the Node object's name and the `minicloud.node` label on what it creates.
    pub node_name: String,
}

impl AgentConfig {
    /// An agent for the node `node_name`, using the local Docker Engine (`DOCKER_HOST` if set).
    pub fn new(node_name: impl Into<String>) -> AgentConfig {
        AgentConfig {
            node_name: node_name.into(),
        }
    }
}

/// A running agent: a container runtime plus the follower of its events and the prober of its
/// containers' health checks.
#[derive(Clone)]
pub struct Agent {
    runtime: Arc<dyn Runtime>,
    node_name: String,
    hub: EventHub,
    health: Health,
}

impl Agent {
    /// Connects to the Docker Engine and starts following its events; fails when Docker is
    /// unreachable. Must be called within a tokio runtime.
    pub async fn connect(config: AgentConfig) -> Result<Agent> {
        let docker = DockerRuntime::connect().await?;
        Ok(Agent::with_runtime(config, Arc::new(docker)))
    }

    /// An agent over any runtime (the fake in tests). Must be called within a tokio runtime.
    pub fn with_runtime(config: AgentConfig, runtime: Arc<dyn Runtime>) -> Agent {
        let hub = EventHub::spawn(runtime.clone());
        let health = Health::spawn(
            runtime.clone(),
            config.node_name.clone(),
            hub.clone(),
            Arc::new(HttpChecker),
        );
        Agent {
            runtime,
            node_name: config.node_name,
            hub,
            health,
        }
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
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
        );
        AgentService::new(self.runtime.clone(), self.node_name.clone(), observer)
    }

    /// What this host offers, from the engine.
    pub async fn node_info(&self) -> Result<NodeInfo> {
        Ok(self.runtime.info().await?.into())
    }

    /// This node's Node object, with its agent reachable at `endpoint` (`http://10.0.0.5:7071`).
    pub async fn node_object(&self, endpoint: &str) -> Result<Node> {
        let info = self.node_info().await?;
        Ok(node_object(
            &self.node_name,
            endpoint,
            info,
            std::time::SystemTime::now(),
        ))
    }
}
