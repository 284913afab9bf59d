//! Tenant: a cluster-scoped owner of apps, with a quota.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeyRef;
use super::object_kind;
use crate::meta::Condition;
use crate::quantity::{Bytes, Cpu};

object_kind!(
    /// A tenant (the namespace of its objects) and its quota.
    Tenant, tag: TenantKind, spec: TenantSpec, status: TenantStatus
);

/// What an admin grants a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantSpec {
    /// Upper bounds on what the tenant may use.
    #[serde(default)]
    pub quota: Quota,
    /// Whether the tenant's Apps may run as root (`user: 0`); refused when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_root: bool,
    /// Where the tenant hears of its instances' repeated health failures and recoveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Alerts>,
}

/// A tenant's alert settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Alerts {
    /// An HTTP endpoint each alert is POSTed to as JSON.
    pub webhook: Webhook,
}

/// An endpoint alerts are POSTed to, each body signed with HMAC-SHA256 under a key of one of
/// the tenant's Secrets (header `X-Minicloud-Signature: sha256=<hex>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// An `http://` or `https://` URL.
    pub url: String,
    /// The key of a Secret in the tenant holding the signing key.
    pub secret: SecretKeyRef,
}

/// Limits on a tenant's total usage. An absent field means no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    /// Maximum number of running containers (instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<u32>,
    /// Maximum total CPU limit of all containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Maximum total memory limit of all containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Bytes>,
    /// Maximum total size of all volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Bytes>,
}

/// Observed state of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantStatus {
    /// What the tenant currently uses, to compare with the quota.
    #[serde(default)]
    pub usage: Usage,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations (`Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// A tenant's current consumption, in the units of [`Quota`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Usage {
    /// Containers (instances) counted against the quota.
    #[serde(default)]
    pub containers: u32,
    /// Sum of container CPU limits.
    #[serde(default)]
    pub cpu: Cpu,
    /// Sum of container memory limits.
    #[serde(default)]
    pub memory: Bytes,
    /// Sum of volume sizes.
    #[serde(default)]
    pub storage: Bytes,
}
