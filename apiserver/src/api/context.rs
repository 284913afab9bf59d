//! The per-request context every API call receives: who calls, in which tenant, under which
//! request id, and — for an audited mutation — how it records itself in its own transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::auth::Identity;

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
    pub(crate) audit: Option<Arc<InTxn>>,
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

/// How an audited mutation records itself inside its own transaction: the verb, and whether a
/// transaction carrying the record has been stored.
#[derive(Debug)]
pub(crate) struct InTxn {
    pub(super) verb: &'static str,
    stored: AtomicBool,
}

impl RequestContext {
    /// This context, for a mutation recorded as `verb` in its own transaction.
    pub(super) fn recording(&self, verb: &'static str) -> RequestContext {
        let mut ctx = self.clone();
        ctx.audit = Some(Arc::new(InTxn {
            verb,
            stored: AtomicBool::new(false),
        }));
        ctx
    }

    /// Whether this mutation's record was stored with its change.
    pub(super) fn recorded_in_txn(&self) -> bool {
        self.audit
            .as_ref()
            .is_some_and(|audit| audit.stored.load(Ordering::Acquire))
    }

    /// After the transaction [`super::ResourceApi::record_in`] added to was stored.
    pub(crate) fn txn_stored(&self) {
        if let Some(audit) = &self.audit {
            audit.stored.store(true, Ordering::Release);
        }
    }
}
