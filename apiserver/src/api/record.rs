//! The audited entry points of the resource API, which the wire layers (gRPC and REST) call:
//! each runs the plain operation and records its outcome in the audit log — every mutation,
//! successful or not, and every refused read (a Forbidden, or the NotFound that hides another
//! tenant's object, recorded as denied so an admin can tell it from a missing object).
//! A successful change is recorded in the change's own store transaction, so the change and its
//! record are stored together or not at all; a change made without one (a Secret key rotation)
//! is recorded before the caller hears of it (see [`crate::audit`]). A refused write is also
//! counted in the API's metrics, by its reason.

use std::collections::BTreeMap;

use minicloud_manifests::{Kind, Role};
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::{
    ApiError, ApplyResult, DeleteResult, LabelSelector, ObjectEventStream, RequestContext,
    ResourceApi, Result, TenantScope,
};
use crate::api_keys::{IssuedKey, issued_message};
use crate::audit::AuditRecord;
use crate::secrets::api::Rotation;
use crate::store::{Revision, Txn};

/// The kinds whose status minicloud's components report as they reconcile.
const REPORTED_KINDS: [Kind; 6] = [
    Kind::App,
    Kind::Release,
    Kind::Instance,
    Kind::Volume,
    Kind::Snapshot,
    Kind::Node,
];

/// The longest failure message a record keeps.
const MAX_MESSAGE: usize = 240;

/// What a record says about the object concerned.
#[derive(Default)]
struct Subject {
    kind: Option<String>,
    tenant: Option<String>,
    name: Option<String>,
}

impl Subject {
    fn of_ref(target: &ObjectRef) -> Subject {
        Subject {
            kind: Some(target.kind.as_str().to_owned()),
            tenant: target.tenant.clone(),
            name: Some(target.name.clone()),
        }
        .tenant_is_itself()
    }

    /// A Tenant concerns the tenant it is, so its tenant's admins see changes to it.
    fn tenant_is_itself(mut self) -> Subject {
        if self.kind.as_deref() == Some(Kind::Tenant.as_str()) {
            self.tenant = self.name.clone();
        }
        self
    }

    /// The kind, tenant and name of a JSON object (a stored one, or a request body).
    fn of_json(object: &Value) -> Subject {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        Subject {
            kind: text(object.get("kind")),
            tenant: text(objects::metadata_field(object, "tenant")),
            name: text(objects::metadata_field(object, "name")),
        }
        .tenant_is_itself()
    }

    /// What a request body names, as far as it can be read.
    fn of_body(body: &[u8], ctx: &RequestContext) -> Subject {
        let Ok(object) = serde_json::from_slice::<Value>(body) else {
            return Subject::default();
        };
        let mut subject = Subject::of_json(&object);
        let cluster = subject
            .kind()
            .is_some_and(|kind| kind.scope() == minicloud_manifests::Scope::Cluster);
        if subject.tenant.is_none() && !cluster {
            subject.tenant = Some(ctx.default_tenant.clone());
        }
        subject
    }

    /// A listing (or watch) of `kind` in `scope`.
    fn of_listing(kind: Kind, scope: &TenantScope) -> Subject {
        Subject {
            kind: Some(kind.as_str().to_owned()),
            tenant: match scope {
                TenantScope::One(tenant) => Some(tenant.clone()),
                TenantScope::All => Some("*".to_owned()),
            },
            name: None,
        }
    }

    /// The kind, when it is one minicloud knows.
    fn kind(&self) -> Option<Kind> {
        self.kind.as_deref()?.parse().ok()
    }

    /// Whether the caller was refused because the object lies outside what it may see.
    fn hidden_from(&self, ctx: &RequestContext) -> bool {
        let Some(kind) = self.kind() else {
            return false;
        };
        let name = self.name.as_deref().unwrap_or_default();
        !ctx.identity.may_see(kind, self.tenant.as_deref(), name)
    }
}

/// The result and message of an outcome; a failure's message never quotes the request.
fn describe_failure(error: &ApiError, subject: &Subject, ctx: &RequestContext) -> String {
    let message = match error {
        ApiError::NotFound { .. } if subject.hidden_from(ctx) => {
            "denied: outside the key's tenant (answered as not found)".to_owned()
        }
        ApiError::Invalid { errors, .. } => {
            let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
            format!("invalid fields: {}", paths.join(", "))
        }
        ApiError::BadRequest(_) => "the request was malformed".to_owned(),
        ApiError::Internal(_) => "internal error".to_owned(),
        other => other.to_string(),
    };
    truncate(message)
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

impl ResourceApi {
    /// A record of `verb` by the caller of `ctx` about `subject`.
    fn record_of(
        ctx: &RequestContext,
        verb: &str,
        subject: Subject,
        outcome: Result<String, &ApiError>,
    ) -> AuditRecord {
        let (result, message) = match outcome {
            Ok(message) => ("OK".to_owned(), message),
            Err(error) => (
                error.reason().to_owned(),
                describe_failure(error, &subject, ctx),
            ),
        };
        let mut record = AuditRecord::new(verb, &ctx.request_id, &result);
        record.message = message;
        record.key = Some(ctx.identity.key.clone());
        record.key_tenant = ctx.identity.tenant.clone();
        record.tenant = subject.tenant.or_else(|| ctx.identity.tenant.clone());
        record.kind = subject.kind;
        record.name = subject.name;
        record
    }

    /// Adds the record of the change `ctx` is making to `target` (`message`: its outcome) to the
    /// change's transaction; nothing when `ctx` is not an audited mutation. Call
    /// [`RequestContext::txn_stored`] once the transaction is stored.
    pub(crate) fn record_in(
        txn: &mut Txn,
        ctx: &RequestContext,
        target: &ObjectRef,
        message: &str,
    ) {
        if let Some(audit) = &ctx.audit {
            let subject = Subject::of_ref(target);
            let record = Self::record_of(ctx, audit.verb, subject, Ok(message.to_owned()));
            txn.ops.push(crate::audit::stored_with(&record));
        }
    }

    /// Records a mutation's outcome: a change stored with its record is only counted; anything
    /// else — a refusal, a failure, a request that changed nothing (a dry run, an unchanged
    /// apply, a repeated delete) — is noted, as `record` makes it.
    fn record_mutation(&self, ctx: &RequestContext, record: impl FnOnce() -> AuditRecord) {
        if ctx.recorded_in_txn() {
            self.audit.stored_elsewhere();
        } else {
            self.audit.note(record());
        }
    }

    /// Records a refused read; other read outcomes are not recorded.
    fn record_refusal(&self, ctx: &RequestContext, verb: &str, subject: Subject, error: &ApiError) {
        let refused = match error {
            ApiError::Forbidden(_) => true,
            ApiError::NotFound { .. } => subject.hidden_from(ctx),
            _ => false,
        };
        if refused {
            self.audit
                .note(Self::record_of(ctx, verb, subject, Err(error)));
        }
    }

    /// Passes `checked` — a wire layer's reading of a mutation request (body, names, version)
    /// before it reaches the API — through, recording the refusal when the request was refused
    /// there.
    pub fn refused_before<T>(
        &self,
        ctx: &RequestContext,
        verb: &'static str,
        checked: Result<T>,
    ) -> Result<T> {
        if let Err(error) = &checked {
            self.metrics.refused(verb, error);
            self.audit
                .note(Self::record_of(ctx, verb, Subject::default(), Err(error)));
        }
        checked
    }

    /// [`ResourceApi::apply`], recorded.
    pub async fn apply_audited(
        &self,
        ctx: &RequestContext,
        body: &[u8],
        dry_run: bool,
    ) -> Result<ApplyResult> {
        let ctx = &ctx.recording("apply");
        let result = self.apply(ctx, body, dry_run).await;
        if let Err(error) = &result {
            self.metrics.refused("apply", error);
        }
        self.record_mutation(ctx, || {
            let (subject, outcome) = match &result {
                Ok(applied) => (
                    Subject::of_json(&applied.object),
                    Ok(applied.outcome.as_str().to_owned()),
                ),
                Err(error) => (Subject::of_body(body, ctx), Err(error)),
            };
            let mut record = Self::record_of(ctx, "apply", subject, outcome);
            record.dry_run = dry_run;
            record
        });
        result
    }

    /// [`ResourceApi::delete`], recorded.
    pub async fn delete_audited(
        &self,
        ctx: &RequestContext,
        target: &ObjectRef,
        precondition: Option<Revision>,
    ) -> Result<DeleteResult> {
        let verb = match target.kind {
            Kind::ApiKey => "revoke-key",
            _ => "delete",
        };
        let ctx = &ctx.recording(verb);
        let result = self.delete(ctx, target, precondition).await;
        if let Err(error) = &result {
            self.metrics.refused(verb, error);
        }
        self.record_mutation(ctx, || {
            let outcome = match &result {
                Ok(deleted) if deleted.finalizing => Ok(super::delete::MARKED.to_owned()),
                Ok(_) => Ok("deleted".to_owned()),
                Err(error) => Err(error),
            };
            Self::record_of(ctx, verb, Subject::of_ref(target), outcome)
        });
        result
    }

    /// [`ResourceApi::update_status`], recorded — but for the successful reports on the kinds
    /// minicloud reconciles ([`REPORTED_KINDS`]): its own components (admin keys: controllers,
    /// node agents) write those many times a minute, they change nothing anyone asked for, and
    /// recording each would push the users' changes out of the log. A status write to any
    /// other kind (an ApiKey's, say) is committed like any change.
    pub async fn update_status_audited(&self, ctx: &RequestContext, body: &[u8]) -> Result<Value> {
        let result = self.update_status(ctx, body).await;
        let subject = Subject::of_body(body, ctx);
        let reported = subject
            .kind()
            .is_some_and(|kind| REPORTED_KINDS.contains(&kind));
        match &result {
            Err(error) => {
                self.metrics.refused("update-status", error);
                self.audit
                    .note(Self::record_of(ctx, "update-status", subject, Err(error)))
            }
            Ok(_) if reported => {}
            Ok(_) => {
                let record = Self::record_of(ctx, "update-status", subject, Ok(String::new()));
                self.audit.commit(record).await;
            }
        }
        result
    }

    /// [`ResourceApi::issue_key`], recorded (the key's prefix, never the key).
    pub async fn issue_key_audited(
        &self,
        ctx: &RequestContext,
        role: Role,
        tenant: Option<&str>,
        description: &str,
    ) -> Result<IssuedKey> {
        let ctx = &ctx.recording("create-key");
        let result = self.issue_key(ctx, role, tenant, description).await;
        self.record_mutation(ctx, || {
            let (subject, outcome) = match &result {
                Ok(issued) => (
                    Subject::of_json(&issued.object),
                    Ok(issued_message(role, &issued.token)),
                ),
                Err(error) => {
                    let subject = Subject {
                        kind: Some(Kind::ApiKey.as_str().to_owned()),
                        tenant: tenant.filter(|t| !t.is_empty()).map(str::to_owned),
                        name: None,
                    };
                    (subject, Err(error))
                }
            };
            Self::record_of(ctx, "create-key", subject, outcome)
        });
        result
    }

    /// [`ResourceApi::rotate_secret_key`], recorded (key ids and counts, never a value).
    pub async fn rotate_secret_key_audited(&self, ctx: &RequestContext) -> Result<Rotation> {
        let result = self.rotate_secret_key(ctx).await;
        let outcome = match &result {
            Ok(rotation) => Ok(format!(
                "{} Secrets re-encrypted under key {}",
                rotation.reencrypted, rotation.primary
            )),
            Err(error) => Err(error),
        };
        let subject = Subject {
            kind: Some(Kind::Secret.as_str().to_owned()),
            ..Subject::default()
        };
        let record = Self::record_of(ctx, "rotate-secret-key", subject, outcome);
        match &result {
            Ok(_) => self.audit.commit(record).await,
            Err(_) => self.audit.note(record),
        }
        result
    }

    /// [`ResourceApi::resolve_secret`], with a refusal recorded.
    pub async fn resolve_secret_audited(
        &self,
        ctx: &RequestContext,
        target: &ObjectRef,
    ) -> Result<BTreeMap<String, String>> {
        let result = self.resolve_secret(ctx, target).await;
        if let Err(error) = &result {
            self.record_refusal(ctx, "resolve-secret", Subject::of_ref(target), error);
        }
        result
    }

    /// [`ResourceApi::get`], with a refusal recorded.
    pub async fn get_audited(&self, ctx: &RequestContext, target: &ObjectRef) -> Result<Value> {
        let result = self.get(ctx, target).await;
        if let Err(error) = &result {
            self.record_refusal(ctx, "get", Subject::of_ref(target), error);
        }
        result
    }

    /// [`ResourceApi::list`], with a refusal recorded.
    pub async fn list_audited(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: &TenantScope,
        selector: &LabelSelector,
    ) -> Result<(Vec<Value>, Revision)> {
        let result = self.list(ctx, kind, scope, selector).await;
        if let Err(error) = &result {
            self.record_refusal(ctx, "list", Subject::of_listing(kind, scope), error);
        }
        result
    }

    /// [`ResourceApi::watch`], with a refusal recorded.
    pub async fn watch_audited(
        &self,
        ctx: &RequestContext,
        kind: Kind,
        scope: TenantScope,
        selector: LabelSelector,
        resource_version: Option<Revision>,
    ) -> Result<ObjectEventStream> {
        let subject = Subject::of_listing(kind, &scope);
        let result = self
            .watch(ctx, kind, scope, selector, resource_version)
            .await;
        if let Err(error) = &result {
            self.record_refusal(ctx, "watch", subject, error);
        }
        result
    }

    /// Records that reading the audit log was refused.
    pub fn record_audit_refusal(&self, ctx: &RequestContext, tenant: &str, error: &ApiError) {
        let subject = Subject {
            tenant: (!tenant.is_empty()).then(|| tenant.to_owned()),
            ..Subject::default()
        };
        self.record_refusal(ctx, "list-audit", subject, error);
    }
}
