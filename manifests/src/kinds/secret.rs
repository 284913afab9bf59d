//! Secret: key/value data for a tenant's Apps, encrypted at rest by the server.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::meta::{ApiVersion, ObjectMeta};

/// The `kind` field of [`Secret`] objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SecretKind {
    /// `Secret`.
    #[default]
    Secret,
}

/// Key/value secrets. Values are plain strings in manifests; the server encrypts them at rest
/// and never returns them in plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secret {
    /// Always `minicloud/v1`.
    #[serde(default)]
    pub api_version: ApiVersion,
    /// Always `Secret`.
    pub kind: SecretKind,
    /// Name, tenant and bookkeeping.
    pub metadata: ObjectMeta,
    /// The secret values by key.
    #[serde(default, deserialize_with = "crate::meta::unique_keys")]
    pub data: BTreeMap<String, String>,
}

impl Secret {
    /// A new Secret.
    pub fn new(metadata: ObjectMeta, data: BTreeMap<String, String>) -> Secret {
        Secret {
            api_version: ApiVersion::V1,
            kind: SecretKind::Secret,
            metadata,
            data,
        }
    }
}
