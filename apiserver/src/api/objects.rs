//! Objects as the API server stores them: where each lives in the store, how a stored value
//! becomes the JSON a client sees, and which parts of an object belong to whom.
//!
//! The stored JSON never contains `metadata.resourceVersion`: the store's `mod_revision` is the
//! version, and it is written into the object on every read.

use minicloud_manifests::{Kind, Scope};
use serde_json::{Map, Value};

use super::{ApiError, Result};
use crate::store::{KeyValue, Revision, Store, StoreError, keys};

/// The fields of an object that are not user content: everything else (`spec`, or `data` for a
/// Secret) is what `generation` counts changes of.
const ENVELOPE_FIELDS: [&str; 4] = ["apiVersion", "kind", "metadata", "status"];

/// Names one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// The tenant, for tenant-scoped objects.
    pub tenant: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// Resolves the tenant the way every request does: cluster-scoped kinds have none; a
    /// tenant-scoped object without one belongs to `default_tenant`.
    pub fn new(kind: Kind, tenant: Option<&str>, name: &str, default_tenant: &str) -> Result<Self> {
        let tenant = match (kind.scope(), tenant.filter(|t| !t.is_empty())) {
            (Scope::Cluster, Some(tenant)) => {
                return Err(ApiError::BadRequest(format!(
                    "{} is cluster-scoped and has no tenant, but tenant {tenant:?} was given",
                    kind.as_str()
                )));
            }
            (Scope::Cluster, None) => None,
            (_, Some(tenant)) => Some(tenant.to_owned()),
            (_, None) => Some(default_tenant.to_owned()),
        };
        Ok(Self {
            kind,
            tenant,
            name: name.to_owned(),
        })
    }

    /// The store key of this object.
    pub fn key(&self) -> String {
        keys::object_key(self.kind.plural(), self.tenant.as_deref(), &self.name)
    }

    /// The object described for messages: `App "web" in tenant "acme"`.
    pub fn describe(&self) -> String {
        match &self.tenant {
            Some(tenant) => format!(
                "{} {:?} in tenant {tenant:?}",
                self.kind.as_str(),
                self.name
            ),
            None => format!("{} {:?}", self.kind.as_str(), self.name),
        }
    }

    /// The error for this object not existing.
    pub fn not_found(&self) -> ApiError {
        ApiError::NotFound {
            what: self.describe(),
        }
    }
}

/// Fails with a Conflict when the client's `precondition` is not the stored version.
pub fn check_precondition(kv: &KeyValue, precondition: Option<Revision>) -> Result<()> {
    match precondition.filter(|expected| *expected != kv.mod_revision) {
        Some(expected) => Err(StoreError::Conflict {
            key: kv.key.clone(),
            expected,
            actual: kv.mod_revision,
        }
        .into()),
        None => Ok(()),
    }
}

/// Reads `target` as stored, and as client JSON: NotFound when it does not exist, a Conflict
/// when the client's `precondition` is not the stored version.
pub async fn read(
    store: &dyn Store,
    target: &ObjectRef,
    precondition: Option<Revision>,
) -> Result<(KeyValue, Value)> {
    let kv = store
        .get(&target.key())
        .await?
        .ok_or_else(|| target.not_found())?;
    check_precondition(&kv, precondition)?;
    let current = decode(&kv, kv.mod_revision)?;
    Ok((kv, current))
}

/// Decodes a stored value into client JSON carrying `revision` as its resourceVersion.
pub fn decode(kv: &KeyValue, revision: Revision) -> Result<Value> {
    let mut value: Value = serde_json::from_slice(&kv.value).map_err(|error| {
        ApiError::Internal(format!("stored object {} is not JSON: {error}", kv.key))
    })?;
    metadata_mut(&mut value).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
    Ok(value)
}

/// Encodes client JSON for the store, without its resourceVersion.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut stored = value.clone();
    metadata_mut(&mut stored).remove("resourceVersion");
    serde_json::to_vec(&stored).expect("JSON values always serialize")
}

/// The object's metadata map, created if missing.
pub fn metadata_mut(value: &mut Value) -> &mut Map<String, Value> {
    let object = value.as_object_mut().expect("objects are JSON objects");
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !metadata.is_object() {
        *metadata = Value::Object(Map::new());
    }
    metadata
        .as_object_mut()
        .expect("metadata was just made an object")
}

/// A metadata field of the object, if present.
pub fn metadata_field<'a>(value: &'a Value, field: &str) -> Option<&'a Value> {
    value
        .get("metadata")
        .and_then(|metadata| metadata.get(field))
}

/// The user content of an object: every top-level field but the envelope.
pub fn content(value: &Value) -> Map<String, Value> {
    let mut object = value.as_object().cloned().unwrap_or_default();
    for field in ENVELOPE_FIELDS {
        object.remove(field);
    }
    object
}

/// The object's labels.
pub fn labels(value: &Value) -> impl Iterator<Item = (&str, &str)> + Clone {
    metadata_field(value, "labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
}

/// The object's finalizers.
pub fn finalizers(value: &Value) -> Vec<String> {
    metadata_field(value, "finalizers")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the object has been marked for deletion.
pub fn is_deleting(value: &Value) -> bool {
    metadata_field(value, "deletionTimestamp").is_some_and(|t| !t.is_null())
}

/// The object's resourceVersion, parsed.
pub fn resource_version(value: &Value) -> Result<Option<Revision>> {
    match metadata_field(value, "resourceVersion") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => parse_revision(text).map(Some),
        Some(other) => Err(ApiError::BadRequest(format!(
            "metadata.resourceVersion must be a string, got {other}"
        ))),
    }
}

/// Parses a resourceVersion as sent by a client.
pub fn parse_revision(text: &str) -> Result<Revision> {
    text.parse::<Revision>()
        .ok()
        .filter(|revision| *revision >= 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "resourceVersion {text:?} is not valid; use a value the server returned"
            ))
        })
}

/// The current time as RFC 3339, as every timestamp the server sets.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_objects_lose_and_regain_their_resource_version() {
        let value = json!({"kind": "App", "metadata": {"name": "web", "resourceVersion": "7"}});
        let stored = encode(&value);
        assert!(!String::from_utf8_lossy(&stored).contains("resourceVersion"));
        let kv = KeyValue {
            key: "/k".into(),
            value: stored,
            create_revision: 9,
            mod_revision: 9,
        };
        assert_eq!(decode(&kv, 9).unwrap()["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn content_is_everything_but_the_envelope() {
        let value = json!({"apiVersion": "v", "kind": "Secret", "metadata": {}, "status": {}, "data": {"a": "b"}});
        assert_eq!(Value::Object(content(&value)), json!({"data": {"a": "b"}}));
    }

    #[test]
    fn a_cluster_kind_refuses_a_tenant() {
        assert!(ObjectRef::new(Kind::Tenant, Some("acme"), "acme", "default").is_err());
        let app = ObjectRef::new(Kind::App, None, "web", "default").unwrap();
        assert_eq!(app.key(), "/minicloud/apps/default/web");
    }

    #[test]
    fn negative_or_garbage_versions_are_refused() {
        assert!(parse_revision("-1").is_err());
        assert!(parse_revision("abc").is_err());
        assert_eq!(parse_revision("42").unwrap(), 42);
    }
}
