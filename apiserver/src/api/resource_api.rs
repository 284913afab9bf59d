//! [`ResourceApi`]: the resource API over one store, with its watch cache, Secret keyring,
//! audit log and per-tenant quota locks, and its plain reads (Get and List). The other
//! operations are in the files named after them.

use std::sync::Arc;

use minicloud_manifests::Kind;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Result;
use super::change::Change;
use super::context::{RequestContext, TenantScope};
use super::metrics::ApiMetrics;
use super::objects::{self, ObjectRef};
use super::selector::LabelSelector;
use super::tenant_locks::TenantLocks;
use crate::audit::{AuditLog, AuditOptions};
use crate::secrets::{SecretKeys, mask};
use crate::store::metered::MeteredStore;
use crate::store::{Revision, Store, keys};
use crate::watch_cache::{WatchCache, WatchCacheOptions};

/// The resource API over one store.
pub struct ResourceApi {
    pub(crate) store: Arc<dyn Store>,
    pub(super) cache: WatchCache<Arc<Change>>,
    pub(crate) secrets: Arc<SecretKeys>,
    pub(super) audit: AuditLog,
    pub(super) shutdown: CancellationToken,
    pub(super) quota_locks: TenantLocks,
    pub(super) metrics: ApiMetrics,
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
        let metrics = ApiMetrics::default();
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(store, metrics.store.clone()));
        let cache = WatchCache::new(store.clone(), Arc::new(Change::decode), options);
        Self {
            audit: AuditLog::start(store.clone(), audit),
            store,
            cache,
            secrets,
            shutdown: CancellationToken::new(),
            quota_locks: TenantLocks::default(),
            metrics,
        }
    }

    /// Adds this API's metrics (refusals, watches, the store's latency) to `metrics`.
    pub fn register_metrics(&self, metrics: &minicloud_common::metrics::Metrics) {
        self.metrics.register(metrics);
    }

    /// The audit log this API records to.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// The store this API serves, timed into its metrics (the authenticator reads keys from
    /// it).
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
        mask(&mut object);
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
            mask(&mut value);
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
