//! ApiKey: a credential with a role. Only a hash of the secret is ever stored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::object_kind;
use crate::meta::Condition;

object_kind!(
    /// An API key. With `metadata.tenant` it is a tenant key (role `tenant-admin` or
    /// `tenant-read`); without, a cluster key (role `admin`). The secret is shown once at
    /// creation and only its hash is kept, in `status.keyHash`.
    ApiKey, tag: ApiKeyKind, spec: ApiKeySpec, status: ApiKeyStatus
);

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, in every tenant (cluster keys only).
    Admin,
    /// Everything within one tenant, including its keys.
    TenantAdmin,
    /// Read-only access to one tenant.
    TenantRead,
}

impl Role {
    /// The role as written in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::TenantAdmin => "tenant-admin",
            Role::TenantRead => "tenant-read",
        }
    }
}

/// What the key grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeySpec {
    /// The key's role.
    pub role: Role,
    /// What the key is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Server-written facts about the key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyStatus {
    /// Hash of the secret (algorithm-prefixed, e.g. `sha256:…`); never the secret itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_hash: Option<String>,
    /// The first characters of the secret, so people can tell keys apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// When the key was issued (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the key was last used to authenticate (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
    /// The `metadata.generation` this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
