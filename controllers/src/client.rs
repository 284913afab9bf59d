//! A typed client of the resource API: the generated gRPC client, with objects as the
//! `minicloud-manifests` kinds instead of JSON text, and failures as [`ClientError`] keeping the
//! server's reason (NotFound, Conflict, Expired…).

use futures::stream::{BoxStream, StreamExt};
use minicloud_common::read_modify_write::{Conflicting, KeptChanging};
use minicloud_proto::bearer::{Authorized, Bearer, authorized};
use minicloud_proto::metadata::{self, reason};
use minicloud_proto::v1::reconciles_client::ReconcilesClient;
use minicloud_proto::v1::resource_service_client::ResourceServiceClient;
use minicloud_proto::v1::secrets_client::SecretsClient;
use minicloud_proto::v1::{self as pb};
use tonic::transport::Endpoint;

use crate::object::{Object, ObjectKey};

/// Result of a client call.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Why a resource API call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API server URL cannot be used.
    #[error("invalid API server URL {url:?}: {source}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        #[source]
        source: tonic::transport::Error,
    },
    /// The API key cannot be sent (it has characters no key has).
    #[error("the API key contains characters no key has; copy it again")]
    InvalidKey,
    /// The object does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A resourceVersion precondition failed, or the object changed while being written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The resourceVersion to watch from is no longer retained (or the watcher fell behind):
    /// list again.
    #[error("expired: {0}")]
    Expired(String),
    /// The server refused the request as malformed or invalid.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The server or the connection to it is unavailable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Any other failure the server reported.
    #[error("{code:?}: {message}")]
    Other {
        /// The gRPC code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// The server sent an object that is not a valid object of the expected kind.
    #[error("cannot decode a {kind} from the server: {source}")]
    Decode {
        /// The kind expected.
        kind: &'static str,
        /// What was wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    /// Whether the object was missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::NotFound(_))
    }

    /// Whether the write lost a race with another writer.
    pub fn is_conflict(&self) -> bool {
        matches!(self, ClientError::Conflict(_))
    }

    /// Whether a watch must start over with a fresh list.
    pub fn is_expired(&self) -> bool {
        matches!(self, ClientError::Expired(_))
    }
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        let message = status.message().to_owned();
        if metadata::is_expired(&status) {
            return ClientError::Expired(message);
        }
        match (metadata::reason_of(&status), status.code()) {
            (Some(reason::NOT_FOUND), _) | (None, tonic::Code::NotFound) => {
                ClientError::NotFound(message)
            }
            (Some(reason::CONFLICT), _) | (None, tonic::Code::Aborted) => {
                ClientError::Conflict(message)
            }
            (Some(reason::BAD_REQUEST | reason::INVALID), _)
            | (None, tonic::Code::InvalidArgument) => ClientError::Invalid(message),
            (Some(reason::UNAVAILABLE), _) | (None, tonic::Code::Unavailable) => {
                ClientError::Unavailable(message)
            }
            (_, code) => ClientError::Other { code, message },
        }
    }
}

/// A read-modify-write that keeps losing its race is a conflict.
impl From<KeptChanging> for ClientError {
    fn from(error: KeptChanging) -> Self {
        ClientError::Conflict(error.to_string())
    }
}

impl Conflicting for ClientError {
    fn is_conflict(&self) -> bool {
        ClientError::is_conflict(self)
    }
}

/// Which tenants a list or watch covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantScope {
    /// Every tenant (and every object of a cluster kind).
    All,
    /// One tenant.
    One(String),
}

impl TenantScope {
    fn wire(&self) -> String {
        match self {
            TenantScope::All => "*".into(),
            TenantScope::One(tenant) => tenant.clone(),
        }
    }
}

/// Objects of one kind and the version the list was read at.
pub use minicloud_common::follow::Listing;

/// One change a watch reports.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent<T> {
    /// The object appeared (or is part of the initial state).
    Added(T),
    /// The object changed.
    Modified(T),
    /// The object was removed; this is how it was last stored.
    Deleted(T),
    /// Everything up to this resourceVersion has been delivered.
    Bookmark(String),
}

/// A typed stream of watch events; an error ends it.
pub type WatchStream<T> = BoxStream<'static, Result<WatchEvent<T>>>;

/// A typed client of the resource API; cheap to clone.
#[derive(Clone, Debug)]
pub struct ApiClient {
    inner: ResourceServiceClient<Authorized>,
    secrets: SecretsClient<Authorized>,
    reconciles: ReconcilesClient<Authorized>,
}

impl ApiClient {
    /// A client of the API server at `url` that connects on first use (and reconnects as
    /// needed), so controllers may start before the server does, presenting `key`.
    pub fn connect_lazy(url: &str, key: Option<&str>) -> Result<Self> {
        let endpoint =
            Endpoint::from_shared(url.to_owned()).map_err(|source| ClientError::InvalidUrl {
                url: url.to_owned(),
                source,
            })?;
        let bearer = Bearer::new(key).map_err(|_| ClientError::InvalidKey)?;
        let channel = authorized(endpoint.connect_lazy(), bearer);
        Ok(Self {
            inner: ResourceServiceClient::new(channel.clone()),
            secrets: SecretsClient::new(channel.clone()),
            reconciles: ReconcilesClient::new(channel),
        })
    }

    /// Adds reconcile decisions to their objects' histories (admin keys only).
    pub async fn record_reconciles(&self, records: Vec<pb::ReconcileRecord>) -> Result<()> {
        let request = pb::RecordReconciles { records };
        self.reconciles.clone().record(request).await?;
        Ok(())
    }

    /// Every value of the Secret `name` in `tenant`, in plaintext (admin keys only): what an
    /// App's `valueFrom.secret` env vars resolve to. The values must never be logged.
    pub async fn resolve_secret(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<std::collections::HashMap<String, String>> {
        let request = pb::ResolveSecretRequest {
            tenant: tenant.into(),
            name: name.into(),
        };
        let resolved = self.secrets.clone().resolve(request).await?.into_inner();
        Ok(resolved.data)
    }

    /// Reads one object.
    pub async fn get<T: Object>(&self, key: &ObjectKey) -> Result<T> {
        let request = pb::GetRequest {
            r#ref: Some(object_ref::<T>(key)),
        };
        let object = self.inner.clone().get(request).await?.into_inner();
        decode(&object.json)
    }

    /// Reads one object, or `None` when it does not exist.
    pub async fn get_opt<T: Object>(&self, key: &ObjectKey) -> Result<Option<T>> {
        match self.get(key).await {
            Ok(object) => Ok(Some(object)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Lists the objects of a kind in `scope` matching the label `selector` (`k=v,k2`).
    pub async fn list<T: Object>(&self, scope: &TenantScope, selector: &str) -> Result<Listing<T>> {
        let request = pb::ListRequest {
            kind: T::KIND.as_str().into(),
            tenant: scope.wire(),
            label_selector: selector.into(),
        };
        let list = self.inner.clone().list(request).await?.into_inner();
        let items = list
            .items
            .iter()
            .map(|object| decode(&object.json))
            .collect::<Result<_>>()?;
        Ok(Listing {
            items,
            resource_version: list.resource_version,
        })
    }

    /// Creates or updates the object from its full manifest; a `metadata.resourceVersion`
    /// makes it a compare-and-swap. Returns the object as stored.
    pub async fn apply<T: Object>(&self, object: &T) -> Result<T> {
        let request = pb::ApplyRequest {
            json: encode(object),
            dry_run: false,
            default_tenant: String::new(),
        };
        let response = self.inner.clone().apply(request).await?.into_inner();
        match response.object {
            Some(object) => decode(&object.json),
            None => Ok(object.clone()),
        }
    }

    /// Applies `object` with exactly `finalizers` — an empty list removes them all, letting a
    /// deleting object go — as a compare-and-swap on the object's resourceVersion.
    pub async fn set_finalizers<T: Object>(&self, object: &T, finalizers: &[String]) -> Result<()> {
        let mut json = serde_json::to_value(object).expect("objects always serialize");
        json["metadata"]["finalizers"] = serde_json::json!(finalizers);
        let request = pb::ApplyRequest {
            json: json.to_string(),
            dry_run: false,
            default_tenant: String::new(),
        };
        self.inner.clone().apply(request).await?;
        Ok(())
    }

    /// Replaces the object's status with the one in `object` (compare-and-swap when it
    /// carries a resourceVersion). Returns the object as stored.
    pub async fn update_status<T: Object>(&self, object: &T) -> Result<T> {
        let request = pb::UpdateStatusRequest {
            json: encode(object),
        };
        let stored = self
            .inner
            .clone()
            .update_status(request)
            .await?
            .into_inner();
        decode(&stored.json)
    }

    /// Deletes the object (only at `resource_version`, when given). Returns whether finalizers
    /// keep it for now.
    pub async fn delete<T: Object>(
        &self,
        key: &ObjectKey,
        resource_version: Option<&str>,
    ) -> Result<bool> {
        let request = pb::DeleteRequest {
            r#ref: Some(object_ref::<T>(key)),
            resource_version: resource_version.unwrap_or_default().into(),
        };
        let response = self.inner.clone().delete(request).await?.into_inner();
        Ok(response.finalizing)
    }

    /// Watches a kind: without `resource_version`, the current objects as ADDED, a BOOKMARK,
    /// then changes; with one, the changes after it.
    pub async fn watch<T: Object>(
        &self,
        scope: &TenantScope,
        selector: &str,
        resource_version: Option<&str>,
    ) -> Result<WatchStream<T>> {
        let request = pb::WatchRequest {
            kind: T::KIND.as_str().into(),
            tenant: scope.wire(),
            label_selector: selector.into(),
            resource_version: resource_version.unwrap_or_default().into(),
        };
        let events = self.inner.clone().watch(request).await?.into_inner();
        Ok(events
            .map(|item| item.map_err(ClientError::from).and_then(typed_event))
            .boxed())
    }
}

fn object_ref<T: Object>(key: &ObjectKey) -> pb::ObjectRef {
    pb::ObjectRef {
        kind: T::KIND.as_str().into(),
        tenant: key.tenant.clone().unwrap_or_default(),
        name: key.name.clone(),
    }
}

fn encode<T: Object>(object: &T) -> String {
    serde_json::to_string(object).expect("objects always serialize: every map key is a string")
}

fn decode<T: Object>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|source| ClientError::Decode {
        kind: T::KIND.as_str(),
        source,
    })
}

fn typed_event<T: Object>(event: pb::WatchEvent) -> Result<WatchEvent<T>> {
    let object = || match &event.object {
        Some(object) => decode(&object.json),
        None => Err(ClientError::Other {
            code: tonic::Code::Internal,
            message: "a watch event without an object".into(),
        }),
    };
    Ok(match event.r#type() {
        pb::EventType::Added => WatchEvent::Added(object()?),
        pb::EventType::Modified => WatchEvent::Modified(object()?),
        pb::EventType::Deleted => WatchEvent::Deleted(object()?),
        pb::EventType::Bookmark | pb::EventType::Unspecified => {
            WatchEvent::Bookmark(event.resource_version)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with_reason(code: tonic::Code, reason: &'static str) -> tonic::Status {
        let mut status = tonic::Status::new(code, "boom");
        status.metadata_mut().insert(
            metadata::REASON,
            tonic::metadata::MetadataValue::from_static(reason),
        );
        status
    }

    #[test]
    fn the_servers_reason_decides_the_error() {
        let expired = ClientError::from(status_with_reason(tonic::Code::OutOfRange, "Expired"));
        assert!(expired.is_expired());
        let conflict = ClientError::from(status_with_reason(tonic::Code::Aborted, "Conflict"));
        assert!(conflict.is_conflict());
    }

    #[test]
    fn without_a_reason_the_grpc_code_decides() {
        let missing = ClientError::from(tonic::Status::not_found("gone"));
        assert!(missing.is_not_found());
        let down = ClientError::from(tonic::Status::unavailable("no route"));
        assert!(matches!(down, ClientError::Unavailable(_)));
    }

    #[test]
    fn a_bad_url_is_refused_up_front() {
        assert!(matches!(
            ApiClient::connect_lazy("not a url", None),
            Err(ClientError::InvalidUrl { .. })
        ));
    }
}
