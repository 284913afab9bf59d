//! Apply: create the object, update it to the manifest, or recognise that nothing changed.

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{
    FieldError, Kind, OwnerReference, Resource, Scope, ValidationErrors, apply_defaults,
    parse_json_object, validate,
};
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::quota::{self, Cost};
use super::transitions;
use super::{ApiError, RequestContext, ResourceApi, Result};
use crate::secrets::api::Sealing;
use crate::store::{Compare, KeyValue, Revision, Txn, TxnOp};

/// What an apply did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object already matched the manifest; nothing was written.
    Unchanged,
}

impl ApplyOutcome {
    /// The word the CLI prints: `app/web created`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Configured => "configured",
            ApplyOutcome::Unchanged => "unchanged",
        }
    }
}

/// The result of an apply (or of a dry run).
#[derive(Clone, Debug)]
pub struct ApplyResult {
    /// Created, configured or unchanged.
    pub outcome: ApplyOutcome,
    /// The object as stored (or as it would be stored).
    pub object: Value,
    /// For a dry run, a unified diff of the stored object against the new one (empty when
    /// unchanged); empty for a real apply, which the caller can simply read back.
    pub diff: String,
}

/// The parts of the manifest that decide how it merges with the stored object.
struct Desired {
    target: ObjectRef,
    /// The manifest, typed, defaulted and validated: what admission reads.
    resource: Resource,
    /// The manifest as it will be stored.
    object: Value,
    precondition: Option<Revision>,
    /// Fields of `metadata` the manifest sets explicitly (an empty list there clears them).
    explicit_finalizers: bool,
    explicit_owners: bool,
    /// How the object's Secret values are stored.
    sealing: Sealing,
}

impl ResourceApi {
    /// Applies one manifest (JSON). With `dry_run`, every check runs and nothing is written.
    pub async fn apply(
        &self,
        ctx: &RequestContext,
        body: &[u8],
        dry_run: bool,
    ) -> Result<ApplyResult> {
        let mut desired = prepare(ctx, body)?;
        ctx.check_write(&desired.target)?;
        if desired.target.kind == Kind::ApiKey {
            return Err(ApiError::BadRequest(
                "ApiKeys cannot be applied: issue one with `mini key create`, which shows the \
                 key once"
                    .into(),
            ));
        }
        self.admit_root(&desired).await?;
        let _accounting = match quota::tenant_of(&desired.target) {
            Some(tenant) if quota::accounted(desired.target.kind) => {
                Some(self.quota_locks.lock(tenant).await)
            }
            _ => None,
        };
        desired.sealing = self.sealing(&desired.target).await;
        let desired = &desired;
        ReadModifyWrite::new(desired.target.describe(), "applied")
            .retry_conflicts(desired.precondition.is_none())
            .run(|| async move {
                match self.store.get(&desired.target.key()).await? {
                    None => self.create(ctx, desired, dry_run).await,
                    Some(kv) => self.update(ctx, desired, &kv, dry_run).await,
                }
            })
            .await
            .map(ApplyResult::masked)
    }

    async fn create(
        &self,
        ctx: &RequestContext,
        desired: &Desired,
        dry_run: bool,
    ) -> Result<ApplyResult> {
        if desired.precondition.is_some() {
            return Err(ApiError::Conflict(format!(
                "{} no longer exists (it was deleted); remove metadata.resourceVersion to create it again",
                desired.target.describe()
            )));
        }
        let mut object = desired.object.clone();
        initialise_server_fields(&mut object);
        let owners = &desired.resource.metadata().owner_references;
        let owners_live = self.owner_guards(&desired.target, owners).await?;
        let named_live = self
            .admit_references(&desired.target, &desired.resource, None)
            .await?;
        let cost = Cost::of(&desired.resource);
        let ledger = match quota::tenant_of(&desired.target) {
            Some(tenant) if quota::accounted(desired.target.kind) => {
                Some(self.ledger(tenant).await?)
            }
            _ => None,
        };
        if let Some(ledger) = &ledger {
            ledger.admit(&desired.target, Cost::ZERO, cost)?;
            if desired.target.kind == Kind::Tenant {
                ledger.stamp(&mut object)?;
            }
        }
        if dry_run {
            let diff = diff(None, &object);
            return Ok(ApplyResult {
                outcome: ApplyOutcome::Created,
                object,
                diff,
            });
        }
        let key = desired.target.key();
        let mut compares = vec![Compare::Absent(key.clone())];
        compares.extend(owners_live);
        compares.extend(named_live);
        let stored = desired.sealing.encode(&object, None);
        let mut txn = Txn::when(compares).then([TxnOp::Put(key, stored)]);
        if let Some(ledger) = &ledger {
            if desired.target.kind == Kind::Tenant {
                ledger.guard(&mut txn);
            }
            ledger.record(&mut txn, Cost::ZERO, cost)?;
        }
        Self::record_in(
            &mut txn,
            ctx,
            &desired.target,
            ApplyOutcome::Created.as_str(),
        );
        let outcome = self.store.txn(txn).await?;
        if !outcome.succeeded {
            return Err(ApiError::Conflict(format!(
                "{}, its owner, an object it names or its tenant's usage changed while it was \
                 being created",
                desired.target.describe()
            )));
        }
        ctx.txn_stored();
        set_version(&mut object, outcome.revision);
        Ok(ApplyResult {
            outcome: ApplyOutcome::Created,
            object,
            diff: String::new(),
        })
    }

    /// Refuses an App that runs as root (`spec.user: 0`) unless its Tenant has
    /// `spec.allowRoot: true`. A tenant that does not exist allows nothing.
    async fn admit_root(&self, desired: &Desired) -> Result<()> {
        let runs_as_root =
            matches!(&desired.resource, Resource::App(app) if app.spec.user == Some(0));
        if !runs_as_root {
            return Ok(());
        }
        let tenant = desired.target.tenant.clone().unwrap_or_default();
        let tenant_ref = ObjectRef::new(Kind::Tenant, None, &tenant, &tenant)?;
        let allowed = match self.store.get(&tenant_ref.key()).await? {
            Some(kv) => {
                let object = objects::decode(&kv, kv.mod_revision)?;
                object.pointer("/spec/allowRoot") == Some(&Value::Bool(true))
            }
            None => false,
        };
        if allowed {
            return Ok(());
        }
        let message = format!(
            "tenant {tenant} does not allow containers to run as root (user 0); run as another \
             user (remove spec.user or give a non-zero id), or have an admin set \
             spec.allowRoot: true on tenant {tenant}"
        );
        Err(ApiError::Invalid {
            kind: Kind::App.as_str().into(),
            name: desired.target.name.clone(),
            errors: ValidationErrors(vec![FieldError {
                path: "spec.user".into(),
                message,
                position: None,
            }]),
        })
    }

    /// Compares that hold while every one of `owners` is as it was read: existing, with the
    /// uid named, not being deleted. A create guarded by them can never add a dependent after
    /// the cascade that removed its owner; an owner already gone is [`ApiError::OwnerGone`].
    async fn owner_guards(
        &self,
        target: &ObjectRef,
        owners: &[OwnerReference],
    ) -> Result<Vec<Compare>> {
        let mut compares = Vec::with_capacity(owners.len());
        for owner in owners {
            let tenant = match owner.kind.scope() {
                Scope::Cluster => None,
                _ => target.tenant.as_deref(),
            };
            let owner_ref = ObjectRef::new(owner.kind, tenant, &owner.name, "")?;
            let kv = self.store.get(&owner_ref.key()).await?;
            let live = match &kv {
                Some(kv) => Some(objects::decode(kv, kv.mod_revision)?),
                None => None,
            };
            let is_owner = live.as_ref().is_some_and(|live| {
                objects::metadata_field(live, "uid").and_then(Value::as_str) == Some(&owner.uid)
                    && !objects::is_deleting(live)
            });
            match kv {
                Some(kv) if is_owner => {
                    compares.push(Compare::ModRevision(kv.key, kv.mod_revision))
                }
                _ => {
                    return Err(ApiError::OwnerGone(format!(
                        "{} names {} (uid {}) as its owner, which no longer exists or is being deleted; a dependent cannot outlive its owner",
                        target.describe(),
                        owner_ref.describe(),
                        owner.uid
                    )));
                }
            }
        }
        Ok(compares)
    }

    async fn update(
        &self,
        ctx: &RequestContext,
        desired: &Desired,
        kv: &KeyValue,
        dry_run: bool,
    ) -> Result<ApplyResult> {
        let stored = objects::decode(kv, kv.mod_revision)?;
        let current = desired.sealing.reveal(&stored);
        objects::check_precondition(kv, desired.precondition)?;
        let mut object = merge(&current, desired);
        if object == current {
            return Ok(ApplyResult {
                outcome: ApplyOutcome::Unchanged,
                object,
                diff: String::new(),
            });
        }
        transitions::check(&current, &desired.resource)?;
        let named_live = self
            .admit_references(&desired.target, &desired.resource, Some(&current))
            .await?;
        let diff = diff(Some(&current), &object);
        if dry_run {
            let (before, after) = (Cost::of_stored(&current)?, Cost::of(&desired.resource));
            self.admit_change(&desired.target, before, after).await?;
            return Ok(ApplyResult {
                outcome: ApplyOutcome::Configured,
                object,
                diff,
            });
        }
        if objects::is_deleting(&object) && objects::finalizers(&object).is_empty() {
            let audit = (ctx, &desired.target, ApplyOutcome::Configured.as_str());
            self.remove_with_dependents(kv, &current, audit).await?;
            return Ok(ApplyResult {
                outcome: ApplyOutcome::Configured,
                object,
                diff,
            });
        }
        let revision = self
            .write_update(
                ctx,
                (&desired.target, kv, named_live),
                (Cost::of_stored(&current)?, Cost::of(&desired.resource)),
                desired.sealing.encode(&object, Some(&stored)),
            )
            .await?;
        set_version(&mut object, revision);
        Ok(ApplyResult {
            outcome: ApplyOutcome::Configured,
            object,
            diff,
        })
    }

    /// Replaces `kv`, the stored `target`, with `stored` (the encoding of the update), with the
    /// audit record of `ctx`, while every one of `guards` holds; when that changes what the
    /// object costs (`before` → `after`), the tenant's usage moves in the same transaction,
    /// admitted against its quota.
    async fn write_update(
        &self,
        ctx: &RequestContext,
        (target, kv, guards): (&ObjectRef, &KeyValue, Vec<Compare>),
        (before, after): (Cost, Cost),
        stored: Vec<u8>,
    ) -> Result<Revision> {
        let mut txn = Txn::when([Compare::ModRevision(kv.key.clone(), kv.mod_revision)])
            .then([TxnOp::Put(kv.key.clone(), stored)]);
        txn.compares.extend(guards);
        if let Some(ledger) = self.admit_change(target, before, after).await? {
            ledger.record(&mut txn, before, after)?;
        }
        Self::record_in(&mut txn, ctx, target, ApplyOutcome::Configured.as_str());
        let outcome = self.store.txn(txn).await?;
        if !outcome.succeeded {
            return Err(ApiError::Conflict(format!(
                "{}, an object it names or its tenant's usage changed while it was being \
                 updated",
                target.describe()
            )));
        }
        ctx.txn_stored();
        Ok(outcome.revision)
    }
}

impl ApplyResult {
    /// The result as callers see it: Secret values masked.
    fn masked(mut self) -> Self {
        crate::secrets::mask(&mut self.object);
        self
    }
}

/// Parses, defaults and validates the manifest and works out which object it names.
fn prepare(ctx: &RequestContext, body: &[u8]) -> Result<Desired> {
    let raw: Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::BadRequest(format!("the request body is not JSON: {error}")))?;
    crate::secrets::check_values_are_strings(&raw).map_err(ApiError::BadRequest)?;
    let mut resource =
        parse_json_object(body).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let kind = resource.kind();
    if kind.scope() == Scope::Tenant && resource.tenant().is_none() {
        resource.metadata_mut().tenant = Some(ctx.default_tenant.clone());
    }
    apply_defaults(&mut resource);
    validate(&resource).map_err(|errors| invalid(&resource, errors))?;
    let target = ObjectRef::new(
        kind,
        resource.tenant(),
        resource.name(),
        &ctx.default_tenant,
    )?;
    let object = resource.to_json();
    let precondition = objects::resource_version(&object)?;
    let explicit = |field: &str| raw.get("metadata").and_then(|m| m.get(field)).is_some();
    Ok(Desired {
        target,
        precondition,
        explicit_finalizers: explicit("finalizers"),
        explicit_owners: explicit("ownerReferences"),
        object,
        resource,
        sealing: Sealing::none(),
    })
}

fn invalid(resource: &Resource, errors: minicloud_manifests::ValidationErrors) -> ApiError {
    ApiError::Invalid {
        kind: resource.kind().as_str().into(),
        name: resource.name().into(),
        errors,
    }
}

/// Sets what the server owns on a new object.
pub(crate) fn initialise_server_fields(object: &mut Value) {
    if let Some(fields) = object.as_object_mut() {
        fields.remove("status");
    }
    let metadata = objects::metadata_mut(object);
    metadata.insert(
        "uid".into(),
        Value::String(uuid::Uuid::new_v4().to_string()),
    );
    metadata.insert("creationTimestamp".into(), Value::String(objects::now()));
    metadata.insert("generation".into(), Value::from(1));
    metadata.remove("deletionTimestamp");
    metadata.remove("resourceVersion");
}

/// The stored object updated to the manifest: user fields from the manifest, server fields and
/// status from the stored object, generation bumped when the user content changed.
fn merge(current: &Value, desired: &Desired) -> Value {
    let mut object = desired.object.clone();
    let fields = object.as_object_mut().expect("objects are JSON objects");
    match current.get("status") {
        Some(status) => fields.insert("status".into(), status.clone()),
        None => fields.remove("status"),
    };
    let generation = objects::metadata_field(current, "generation")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let changed = objects::content(current) != objects::content(&object);
    let metadata = objects::metadata_mut(&mut object);
    let mut keep = vec![
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "resourceVersion",
    ];
    if !desired.explicit_finalizers {
        keep.push("finalizers");
    }
    if !desired.explicit_owners {
        keep.push("ownerReferences");
    }
    for field in keep {
        match objects::metadata_field(current, field) {
            Some(value) => metadata.insert(field.into(), value.clone()),
            None => metadata.remove(field),
        };
    }
    metadata.insert(
        "generation".into(),
        Value::from(generation + u64::from(changed)),
    );
    object
}

fn set_version(object: &mut Value, revision: Revision) {
    objects::metadata_mut(object).insert(
        "resourceVersion".into(),
        Value::String(revision.to_string()),
    );
}

/// A unified diff between two objects rendered as YAML, without their resourceVersions; a
/// Secret's values are masked (a changed one shows as changed).
pub(super) fn diff(before: Option<&Value>, after: &Value) -> String {
    let (mut before, mut after) = (before.cloned(), after.clone());
    crate::secrets::mask_diff(before.as_mut(), &mut after);
    let (before, after) = (before.as_ref(), &after);
    let render = |value: &Value| {
        let mut value = value.clone();
        objects::metadata_mut(&mut value).remove("resourceVersion");
        match Resource::from_json(value.clone()) {
            Ok(resource) => minicloud_manifests::to_yaml(&resource),
            Err(_) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        }
    };
    let (old, new) = (before.map(render).unwrap_or_default(), render(after));
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .header("live", "applied")
        .to_string()
}
