//! Node: a host running an agent, with its capacity and heartbeat.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_kind;
use crate::meta::Condition;
use crate::quantity::{Bytes, Cpu};

object_kind!(
    /// A host that runs tenant containers, registered and kept alive by its agent.
    Node, tag: NodeKind, spec: NodeSpec, status: NodeStatus
);

/// How to reach a node and whether to schedule on it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    /// The node's addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<NodeAddress>,
    /// The URL of the node's agent API (`http://10.0.0.5:7071`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_endpoint: Option<String>,
    /// Keep new instances off this node (cordon).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unschedulable: bool,
}

/// One address of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAddress {
    /// What kind of address it is.
    #[serde(rename = "type")]
    pub type_: NodeAddressType,
    /// The address itself.
    pub address: String,
}

/// Kinds of node address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum NodeAddressType {
    /// Reachable from other nodes.
    InternalIP,
    /// Reachable from outside the cluster.
    ExternalIP,
    /// The host name.
    Hostname,
}

/// Amounts of node resources.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeCapacity {
    /// CPU.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Bytes,
    /// Number of containers.
    pub containers: u32,
}

/// Observed state of a node, reported by its agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeStatus {
    /// Everything the host has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<NodeCapacity>,
    /// What tenant containers may use (capacity minus reservations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocatable: Option<NodeCapacity>,
    /// When the agent last reported (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_time: Option<String>,
    /// How the node enforces volume sizes (`loop-ext4`), or why it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<NodeStorage>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// How a node enforces volume sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeStorage {
    /// The mechanism (`loop-ext4`), or `none` when the host offers none.
    pub mechanism: String,
    /// What it means, or why no mechanism works on this host and what to install.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}
