//! Fields every object shares: `apiVersion`, `metadata`, and the typed `conditions` that
//! statuses carry.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::kind::Kind;

/// The API version of every minicloud object. Omitted in a manifest, it defaults to
/// `minicloud/v1`; any other value is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, JsonSchema)]
pub enum ApiVersion {
    /// `minicloud/v1`.
    #[default]
    #[serde(rename = "minicloud/v1")]
    V1,
}

impl ApiVersion {
    /// The version as written in manifests.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "minicloud/v1",
        }
    }
}

impl<'de> Deserialize<'de> for ApiVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let version = String::deserialize(d)?;
        match version.as_str() {
            "minicloud/v1" => Ok(ApiVersion::V1),
            other => Err(de::Error::custom(format!(
                "unsupported apiVersion {other:?}; use minicloud/v1"
            ))),
        }
    }
}

/// Reads a string map, refusing repeated keys (serde_json would silently keep the last one;
/// the YAML reader already refuses them).
pub(crate) fn unique_keys<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_map(UniqueKeys)
}

struct UniqueKeys;

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = BTreeMap<String, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// Identity and bookkeeping of an object. Users write `name`, `tenant`, `labels` and
/// `annotations`; the server owns the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    /// The object's name, a DNS-1123 label unique per kind within its tenant.
    pub name: String,
    /// The tenant (namespace) the object belongs to; absent for cluster-scoped kinds. Omitted
    /// in a manifest, the server uses the caller's own tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Unique id assigned by the server at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Identifying key/value pairs, usable in selectors.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_keys"
    )]
    pub labels: BTreeMap<String, String>,
    /// Free-form key/value notes for tools and people.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_keys"
    )]
    pub annotations: BTreeMap<String, String>,
    /// Opaque version of the stored object, for optimistic concurrency and watch resumption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Incremented by the server each time the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// When the object was created (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    /// When deletion was requested (RFC 3339, UTC); the object lingers until finalizers clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    /// Controllers that must finish cleanup before the object is removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Objects this one belongs to; it is garbage-collected when they are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
}

impl ObjectMeta {
    /// Metadata with just a name and an optional tenant.
    pub fn named(name: impl Into<String>, tenant: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: name.into(),
            tenant: tenant.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }
}

/// A reference from an owned object to its owner (same tenant, or cluster-scoped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OwnerReference {
    /// The owner's kind.
    pub kind: Kind,
    /// The owner's name.
    pub name: String,
    /// The owner's uid, so a re-created namesake is not mistaken for the owner.
    pub uid: String,
    /// Whether the owner is the managing controller of this object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub controller: bool,
}

/// Whether a condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The controller cannot tell.
    Unknown,
}

/// One typed observation in a status, such as `Ready` or `Progressing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    /// The condition's name, in PascalCase (`Ready`, `Available`, `Progressing`).
    #[serde(rename = "type")]
    pub type_: String,
    /// Whether it holds.
    pub status: ConditionStatus,
    /// A machine-readable PascalCase reason for the last transition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// A human-readable explanation.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When `status` last changed (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// The part every status shares: which spec generation it reflects, and its conditions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<u64>,
    /// Typed observations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
