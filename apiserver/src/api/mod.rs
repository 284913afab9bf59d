//! The resource API: the semantics of Apply, Get, List, Delete, UpdateStatus and Watch over the
//! store, independent of the wire (gRPC and REST both call this).
//!
//! The server owns `uid`, `creationTimestamp`, `generation`, `deletionTimestamp` and
//! `resourceVersion`; `generation` moves only when the user content (`spec`, or `data`) changes;
//! `status` is written only through [`ResourceApi::update_status`].

mod apply;
mod authz;
mod delete;
mod error;
mod issue;
pub(crate) mod objects;
mod quota;
mod record;
mod secrets;
mod selector;
mod status;
mod watch;

use std::sync::Arc;

use minicloud_manifests::Kind;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use apply::{ApplyOutcome, ApplyResult};
pub use delete::DeleteResult;
pub use error::{ApiError, Result};
pub use issue::IssuedKey;
pub use objects::{ObjectRef, parse_revision};
pub use secrets::Rotation;
pub use selector::LabelSelector;
pub use watch::{EventType, ObjectEvent, ObjectEventStream};

use crate::audit::{AuditLog, AuditOptions};
use crate::auth::Identity;
use crate::secrets::{self as values, SecretKeys};
use crate::store::{Revision, Store, keys};
use crate::watch_cache::{WatchCache, WatchCacheOptions};

/// The largest request body the API accepts, for manifests and status updates alike.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The per-request context every API call receives.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The authenticated caller.
    pub identity: Identity,
    /// The tenant for tenant-scoped objects that name none.
    pub default_tenant: String,
    /// The request's id, as returned in `x-request-id` and recorded in the audit log.
    pub request_id: String,
    /// Set by an audited mutation: its record goes into the change's own transaction.
    pub(crate) audit: Option<Arc<record::InTxn>>,
}

impl RequestContext {
    /// The context of `identity` working in `default_tenant`, with a fresh request id.
    pub fn new(identity: Identity, default_tenant: &str) -> Self {
        Self {
            identity,
            default_tenant: default_tenant.to_owned(),
            request_id: new_request_id(),
            audit: None,
        }
    }

    /// This context with the id the server gave the request.
    pub fn with_request_id(mut self, request_id: &str) -> Self {
        request_id.clone_into(&mut self.request_id);
        self
    }

    /// The context of the server's own admin work (and of tests) in `default_tenant`.
    pub fn admin(default_tenant: &str) -> Self {
        Self::new(Identity::admin("system"), default_tenant)
    }
}

/// A new request id (a UUID).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Which tenants a list or watch covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantScope {
    /// One tenant.
    One(String),
    /// Every tenant (and cluster-scoped kinds).
    All,
}

/// The resource API over one store.
pub struct ResourceApi {
    store: Arc<dyn Store>,
    cache: WatchCache<Arc<watch::Change>>,
    secrets: Arc<SecretKeys>,
    audit: AuditLog,
    shutdown: CancellationToken,
    quota_locks: quota::TenantLocks,
}

impl ResourceApi {
    /// An API over `store`, with a watch cache of the given sizes, sealing Secret values with
    /// the keyring of `secrets`, and the default audit retention. Starts the audit writer, so
    /// it must run inside a tokio runtime.
    pub fn new(
        store: Arc<dyn Store>,
        options: WatchCacheOptions,
        secrets: Arc<SecretKeys>,
    ) -> Self {
        Self::with_audit(store, options, secrets, AuditOptions::default())
    }

    /// Like [`ResourceApi::new`], keeping the audit log to `audit`.
    pub fn with_audit(
        store: Arc<dyn Store>,
        options: WatchCacheOptions,
        secrets: Arc<SecretKeys>,
        audit: AuditOptions,
    ) -> Self {
        let cache = WatchCache::new(store.clone(), Arc::new(watch::Change::decode), options);
        Self {
            audit: AuditLog::start(store.clone(), audit),
            store,
            cache,
            secrets,
            shutdown: CancellationToken::new(),
            quota_locks: quota::TenantLocks::default(),
        }
    }

    /// The audit log this API records to.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// The store this API serves (the authenticator reads keys from it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The token whose cancellation ends every open watch (the server cancels it on shutdown).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Reads one object.
    pub async fn get(&self, ctx: &RequestContext, target: &ObjectRef) -> Result<Value> {
        ctx.check_read(target)?;
        let kv = self
            .store
            .get(&target.key())
            .await?
            .ok_or_else(|| target.not_found())?;
        let mut object = objects::decode(&kv, kv.mod_revision)?;
        values::mask(&mut object);
        Ok(object)
    }

    /// Lists a kind's objects in `scope` matching `selector`, with the revision read at.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: &TenantScope,
        selector: &LabelSelector,
    ) -> Result<(Vec<Value>, Revision)> {
        ctx.check_listing(kind, scope)?;
        let listing = self.store.list(&list_prefix(kind, scope)).await?;
        let mut items = Vec::with_capacity(listing.items.len());
        for kv in &listing.items {
            let mut value = objects::decode(kv, kv.mod_revision)?;
            values::mask(&mut value);
            if selector.matches(objects::labels(&value))
                && ctx.identity.may_see_object(kind, &value)
            {
                items.push(value);
            }
        }
        Ok((items, listing.revision))
    }
}

/// The store prefix holding a kind's objects in `scope`.
fn list_prefix(kind: Kind, scope: &TenantScope) -> String {
    match (kind.scope(), scope) {
        (minicloud_manifests::Scope::Cluster, _) | (_, TenantScope::All) => {
            keys::kind_prefix(kind.plural(), None)
        }
        (_, TenantScope::One(tenant)) => keys::kind_prefix(kind.plural(), Some(tenant)),
    }
}
