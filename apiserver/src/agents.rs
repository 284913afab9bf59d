//! Reaching node agents from the API server: where a node's agent listens (its Node's
//! `spec.agentEndpoint`) and one lazily connected client per endpoint, presenting the server's
//! key. The log stream and the usage report read the agents through it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minicloud_manifests::Kind;
use minicloud_proto::bearer::Bearer;
use minicloud_proto::v1::node_agent_client::NodeAgentClient;
use serde_json::Value;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::api::{ApiError, LabelSelector, ObjectRef, RequestContext, ResourceApi, TenantScope};
use crate::wire::DEFAULT_TENANT;

/// A node agent's client, presenting the server's key.
pub type AgentClient = NodeAgentClient<InterceptedService<Channel, Bearer>>;

/// The clients of the node agents, shared by every request.
#[derive(Clone, Default)]
pub struct Agents {
    bearer: Bearer,
    clients: Arc<Mutex<HashMap<String, AgentClient>>>,
}

impl Agents {
    /// Agents reached presenting `bearer`.
    pub fn new(bearer: Bearer) -> Agents {
        Agents {
            bearer,
            clients: Arc::default(),
        }
    }

    /// The client of the agent at `endpoint` (connected on first use); `None` when the
    /// endpoint is not a URL.
    pub fn client(&self, endpoint: &str) -> Option<AgentClient> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(endpoint) {
            return Some(client.clone());
        }
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .ok()?
            .connect_lazy();
        let client = NodeAgentClient::with_interceptor(channel, self.bearer.clone());
        clients.insert(endpoint.to_owned(), client.clone());
        Some(client)
    }
}

/// Where `node`'s agent listens; `None` when the node is gone or names no endpoint. Read as
/// the server: where agents listen is not the caller's business.
pub async fn endpoint_of(api: &ResourceApi, node: &str) -> Result<Option<String>, ApiError> {
    let node_ref = ObjectRef::new(Kind::Node, None, node, DEFAULT_TENANT)?;
    let server = RequestContext::admin(DEFAULT_TENANT);
    match api.get(&server, &node_ref).await {
        Ok(node) => Ok(agent_endpoint(&node)),
        Err(ApiError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Every node whose Node names an agent endpoint, as `(node, endpoint)`. Read as the server.
pub async fn node_endpoints(api: &ResourceApi) -> Result<Vec<(String, String)>, ApiError> {
    let server = RequestContext::admin(DEFAULT_TENANT);
    let everything = LabelSelector::default();
    let (nodes, _) = api
        .list(&server, Kind::Node, &TenantScope::All, &everything)
        .await?;
    Ok(nodes
        .iter()
        .filter_map(|node| {
            let name = node.pointer("/metadata/name").and_then(Value::as_str)?;
            Some((name.to_owned(), agent_endpoint(node)?))
        })
        .collect())
}

/// The agent endpoint a Node object names.
pub fn agent_endpoint(node: &Value) -> Option<String> {
    node.pointer("/spec/agentEndpoint")
        .and_then(Value::as_str)
        .map(str::to_owned)
}
