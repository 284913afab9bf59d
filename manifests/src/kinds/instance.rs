//! Instance: one replica of an App (a Kubernetes Pod), bound to a node by the scheduler.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::container::ContainerSpec;
use super::object_kind;
use crate::meta::Condition;

object_kind!(
    /// One replica of an App, created by the app controller.
    Instance, tag: InstanceKind, spec: InstanceSpec, status: InstanceStatus
);

/// What the instance runs and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceSpec {
    /// The App it belongs to.
    pub app: String,
    /// The Release it runs.
    pub release: String,
    /// The node it is bound to; absent until scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The resolved container.
    pub container: ContainerSpec,
}

/// Lifecycle phase of an instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum InstancePhase {
    /// Not yet running (unscheduled, or starting).
    #[default]
    Pending,
    /// The container is running.
    Running,
    /// The container exited with status 0.
    Succeeded,
    /// The container exited with an error or could not start.
    Failed,
    /// The node stopped reporting.
    Unknown,
}

/// Observed state of an instance, reported through its node's agent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceStatus {
    /// Lifecycle phase.
    #[serde(default)]
    pub phase: InstancePhase,
    /// The Docker container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The container's address on the tenant network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Whether the health check passes (traffic is routed only to ready instances).
    #[serde(default)]
    pub ready: bool,
    /// How many times the container was restarted.
    #[serde(default)]
    pub restarts: u32,
    /// Exit code of the last terminated container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit_code: Option<i32>,
    /// A human-readable note on the current phase.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `lastTransitionTime` of the `Healthy` condition the tenant's alert webhook last
    /// heard of (delivered, or given up on), so each change is sent once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<String>,
}
