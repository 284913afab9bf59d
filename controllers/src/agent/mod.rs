//! The controllers' side of the NodeAgent API, behind small traits: [`AgentClient`] talks to
//! one node's agent, [`AgentConnector`] finds the client for a Node. The gRPC implementation is
//! here; a recording fake is in [`fake`].

pub mod fake;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use minicloud_manifests::Node;
use minicloud_proto::bearer::{Authorized, Bearer, authorized};
use minicloud_proto::v1::node_agent_client::NodeAgentClient;
use minicloud_proto::v1::{
    DeleteSnapshotRequest, ObserveRequest, ObservedState, Plan, PlanResult, RestoreVolumeRequest,
    SnapshotProgress, TakeSnapshotRequest,
};
use tonic::transport::Endpoint;

/// Why a call to an agent failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The Node names no agent endpoint yet.
    #[error("the node has no spec.agentEndpoint yet")]
    NoEndpoint,
    /// The Node's agent endpoint is not a usable URL.
    #[error("agent endpoint {endpoint:?} is not a usable URL: {source}")]
    InvalidEndpoint {
        /// The endpoint given.
        endpoint: String,
        /// Why it was refused.
        #[source]
        source: tonic::transport::Error,
    },
    /// The agent answered with an error, or could not be reached.
    #[error("the agent answered {}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
}

/// Observed states of a node as its agent pushes them; an error ends the stream.
pub type ObservedStream = BoxStream<'static, Result<ObservedState, AgentError>>;

/// Progress of a snapshot or restore, the last item with `done` set; an error ends the stream.
pub type ProgressStream = BoxStream<'static, Result<SnapshotProgress, AgentError>>;

/// One node's agent.
#[async_trait]
pub trait AgentClient: Send + Sync {
    /// A snapshot of everything minicloud manages on the node.
    async fn observe(&self) -> Result<ObservedState, AgentError>;

    /// A snapshot now, then one whenever something managed changes.
    async fn watch_observed(&self) -> Result<ObservedStream, AgentError>;

    /// Applies the plan's operations in order; each reports its own result.
    async fn apply(&self, plan: Plan) -> Result<PlanResult, AgentError>;

    /// Archives a volume into the node's snapshot store.
    async fn take_snapshot(
        &self,
        request: TakeSnapshotRequest,
    ) -> Result<ProgressStream, AgentError>;

    /// Replaces a volume's content with an archive from the snapshot store.
    async fn restore_volume(
        &self,
        request: RestoreVolumeRequest,
    ) -> Result<ProgressStream, AgentError>;

    /// Deletes an archive from the snapshot store; false when it was already gone.
    async fn delete_snapshot(&self, location: &str) -> Result<bool, AgentError>;
}

/// Finds the agent of a Node.
pub trait AgentConnector: Send + Sync {
    /// The client of `node`'s agent (connecting lazily).
    fn connect(&self, node: &Node) -> Result<Arc<dyn AgentClient>, AgentError>;
}

/// An agent reached over gRPC.
#[derive(Clone, Debug)]
pub struct GrpcAgent {
    inner: NodeAgentClient<Authorized>,
}

impl GrpcAgent {
    /// A client of the agent at `endpoint` that connects on first use and presents `bearer`.
    pub fn connect_lazy(endpoint: &str, bearer: Bearer) -> Result<Self, AgentError> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .map_err(|source| AgentError::InvalidEndpoint {
                endpoint: endpoint.to_owned(),
                source,
            })?
            .connect_lazy();
        Ok(Self {
            inner: NodeAgentClient::new(authorized(channel, bearer)),
        })
    }
}

#[async_trait]
impl AgentClient for GrpcAgent {
    async fn observe(&self) -> Result<ObservedState, AgentError> {
        Ok(self
            .inner
            .clone()
            .observe(ObserveRequest {})
            .await?
            .into_inner())
    }

    async fn watch_observed(&self) -> Result<ObservedStream, AgentError> {
        let stream = self
            .inner
            .clone()
            .watch_observed(ObserveRequest {})
            .await?
            .into_inner();
        Ok(stream.map(|item| item.map_err(AgentError::from)).boxed())
    }

    async fn apply(&self, plan: Plan) -> Result<PlanResult, AgentError> {
        Ok(self.inner.clone().apply(plan).await?.into_inner())
    }

    async fn take_snapshot(
        &self,
        request: TakeSnapshotRequest,
    ) -> Result<ProgressStream, AgentError> {
        let stream = self
            .inner
            .clone()
            .take_snapshot(request)
            .await?
            .into_inner();
        Ok(stream.map(|item| item.map_err(AgentError::from)).boxed())
    }

    async fn restore_volume(
        &self,
        request: RestoreVolumeRequest,
    ) -> Result<ProgressStream, AgentError> {
        let stream = self
            .inner
            .clone()
            .restore_volume(request)
            .await?
            .into_inner();
        Ok(stream.map(|item| item.map_err(AgentError::from)).boxed())
    }

    async fn delete_snapshot(&self, location: &str) -> Result<bool, AgentError> {
        let request = DeleteSnapshotRequest {
            location: location.to_owned(),
        };
        let result = self.inner.clone().delete_snapshot(request).await?;
        Ok(result.into_inner().deleted)
    }
}

/// Connects to each Node's `spec.agentEndpoint` over gRPC, reusing one channel per endpoint.
#[derive(Debug, Default)]
pub struct GrpcConnector {
    bearer: Bearer,
    agents: Mutex<HashMap<String, GrpcAgent>>,
}

impl GrpcConnector {
    /// A connector presenting `bearer` (an admin key) to every agent.
    pub fn new(bearer: Bearer) -> GrpcConnector {
        GrpcConnector {
            bearer,
            agents: Mutex::default(),
        }
    }
}

impl AgentConnector for GrpcConnector {
    fn connect(&self, node: &Node) -> Result<Arc<dyn AgentClient>, AgentError> {
        let endpoint = node
            .spec
            .agent_endpoint
            .as_deref()
            .ok_or(AgentError::NoEndpoint)?;
        let mut agents = self.agents.lock().unwrap_or_else(|p| p.into_inner());
        let agent = match agents.get(endpoint) {
            Some(agent) => agent.clone(),
            None => {
                let agent = GrpcAgent::connect_lazy(endpoint, self.bearer.clone())?;
                agents.insert(endpoint.to_owned(), agent.clone());
                agent
            }
        };
        Ok(Arc::new(agent))
    }
}
