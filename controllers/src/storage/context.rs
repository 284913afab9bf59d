//! What the storage controllers share: the resource API and the way to each node's agent.

use std::sync::Arc;

use minicloud_manifests::Node;

use crate::agent::{AgentClient, AgentConnector, AgentError};
use crate::client::ApiClient;
use crate::error::{Error, Result, api};
use crate::object::ObjectKey;

/// What the volume and snapshot controllers' reconciles share.
pub struct StorageContext {
    /// The resource API.
    pub client: ApiClient,
    /// Finds each node's agent.
    pub agents: Arc<dyn AgentConnector>,
    /// Names this controller process in the claims it holds on Snapshots it takes.
    pub holder: String,
}

impl StorageContext {
    /// The context of a controller process with a fresh random holder name.
    pub fn new(client: ApiClient, agents: Arc<dyn AgentConnector>) -> Self {
        Self {
            client,
            agents,
            holder: format!("controllers-{:016x}", rand::random::<u64>()),
        }
    }

    /// The agent of `node`; `None` when the Node is gone or names no agent yet.
    pub async fn agent(&self, node: &str) -> Result<Option<Arc<dyn AgentClient>>> {
        let found = self
            .client
            .get_opt::<Node>(&ObjectKey::new(None, node))
            .await;
        let Some(found) = found.map_err(api("read the Node"))? else {
            return Ok(None);
        };
        match self.agents.connect(&found) {
            Ok(agent) => Ok(Some(agent)),
            Err(AgentError::NoEndpoint) => Ok(None),
            Err(source) => Err(agent_failed("connect", node, source)),
        }
    }
}

/// A failed call to `node`'s agent while doing `step`.
pub fn agent_failed(step: &'static str, node: &str, source: AgentError) -> Error {
    Error::Agent {
        step,
        node: node.into(),
        source,
    }
}
