//! Delete: honour finalizers (mark the object deleting; it goes when the last one is removed)
//! and cascade to the objects that name it in their ownerReferences — and, for a Tenant, to
//! every object of the tenant — in one transaction, so a crash never leaves half a cascade.

use std::collections::{BTreeMap, HashSet};

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{Kind, Scope};
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::quota::{self, Cost};
use super::{ApiError, RequestContext, ResourceApi, Result};
use crate::store::{Compare, KeyValue, Revision, Txn, TxnOp, keys};

/// How the audit log words a delete that leaves the object to its finalizers.
pub(super) const MARKED: &str = "marked for deletion (finalizers)";

/// What a delete did.
#[derive(Clone, Debug)]
pub struct DeleteResult {
    /// The object as last stored.
    pub object: Value,
    /// Whether finalizers keep the object (now marked with a deletionTimestamp) for a while.
    pub finalizing: bool,
}

impl DeleteResult {
    fn masked(mut self) -> Self {
        crate::secrets::mask(&mut self.object);
        self
    }
}

impl ResourceApi {
    /// Deletes `target` (only at `precondition`, when given).
    pub async fn delete(
        &self,
        ctx: &RequestContext,
        target: &ObjectRef,
        precondition: Option<Revision>,
    ) -> Result<DeleteResult> {
        ctx.check_delete(target)?;
        let _accounting = match quota::tenant_of(target) {
            Some(tenant) => Some(self.quota_locks.lock(tenant).await),
            None => None,
        };
        ReadModifyWrite::new(target.describe(), "deleted")
            .retry_conflicts(precondition.is_none())
            .run(|| async move {
                let (kv, current) = objects::read(&*self.store, target, precondition).await?;
                if objects::finalizers(&current).is_empty() {
                    self.remove_with_dependents(&kv, &current, (ctx, target, "deleted"))
                        .await?;
                    Ok(DeleteResult {
                        object: current,
                        finalizing: false,
                    })
                } else {
                    let object = self.mark_deleting(ctx, target, &kv, current).await?;
                    Ok(DeleteResult {
                        object,
                        finalizing: true,
                    })
                }
            })
            .await
            .map(DeleteResult::masked)
    }

    async fn mark_deleting(
        &self,
        ctx: &RequestContext,
        target: &ObjectRef,
        kv: &KeyValue,
        mut object: Value,
    ) -> Result<Value> {
        if objects::is_deleting(&object) {
            return Ok(object);
        }
        objects::metadata_mut(&mut object)
            .insert("deletionTimestamp".into(), Value::String(objects::now()));
        let mut txn = Txn::when([Compare::ModRevision(kv.key.clone(), kv.mod_revision)])
            .then([TxnOp::Put(kv.key.clone(), objects::encode(&object))]);
        Self::record_in(&mut txn, ctx, target, MARKED);
        let outcome = self.store.txn(txn).await?;
        if !outcome.succeeded {
            return Err(ApiError::Conflict(format!(
                "{} changed while it was being marked for deletion",
                target.describe()
            )));
        }
        ctx.txn_stored();
        let revision = outcome.revision;
        objects::metadata_mut(&mut object).insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
        Ok(object)
    }

    /// Removes the object and, transitively, its dependents: each dependent without finalizers
    /// is deleted (and its own dependents after it); one with finalizers is marked deleting.
    /// What the removed objects took from their tenants' quotas is given back in the same
    /// transaction, which also holds the audit record of `audit`: the request, the object it
    /// named and the outcome to record.
    pub(super) async fn remove_with_dependents(
        &self,
        kv: &KeyValue,
        object: &Value,
        (ctx, target, outcome): (&RequestContext, &ObjectRef, &str),
    ) -> Result<()> {
        let mut txn = Txn::when([Compare::ModRevision(kv.key.clone(), kv.mod_revision)])
            .then([TxnOp::Delete(kv.key.clone())]);
        let mut released = Released::default();
        released.add(object)?;
        let candidates = self.possible_dependents(object).await?;
        let root = uid(object);
        let members_of = tenant_name(object);
        let depends_on = |dependent: &Value, owner: &str| {
            is_owned_by(dependent, owner)
                || (root.as_deref() == Some(owner)
                    && members_of.is_some()
                    && objects::metadata_field(dependent, "tenant").and_then(Value::as_str)
                        == members_of)
        };
        let mut owners: Vec<String> = root.clone().into_iter().collect();
        let mut visited = HashSet::from([kv.key.clone()]);
        while let Some(owner) = owners.pop() {
            for (dependent_kv, dependent) in
                candidates.iter().filter(|(_, d)| depends_on(d, &owner))
            {
                if !visited.insert(dependent_kv.key.clone()) {
                    continue;
                }
                let key = dependent_kv.key.clone();
                txn.compares
                    .push(Compare::ModRevision(key.clone(), dependent_kv.mod_revision));
                if objects::finalizers(dependent).is_empty() {
                    txn.ops.push(TxnOp::Delete(key));
                    released.add(dependent)?;
                    owners.extend(uid(dependent));
                } else if !objects::is_deleting(dependent) {
                    let mut marked = dependent.clone();
                    objects::metadata_mut(&mut marked)
                        .insert("deletionTimestamp".into(), Value::String(objects::now()));
                    txn.ops.push(TxnOp::Put(key, objects::encode(&marked)));
                }
            }
        }
        for (tenant, cost) in released.0 {
            self.ledger(&tenant)
                .await?
                .record(&mut txn, cost, Cost::ZERO)?;
        }
        Self::record_in(&mut txn, ctx, target, outcome);
        if self.store.txn(txn).await?.succeeded {
            ctx.txn_stored();
            Ok(())
        } else {
            Err(ApiError::Conflict(format!(
                "{} or one of its dependents changed during deletion",
                kv.key
            )))
        }
    }

    /// Every object that could name `owner` as its owner: its tenant's objects, or all objects
    /// for a cluster-scoped owner.
    async fn possible_dependents(&self, owner: &Value) -> Result<Vec<(KeyValue, Value)>> {
        let tenant = objects::metadata_field(owner, "tenant").and_then(Value::as_str);
        let mut found = Vec::new();
        for kind in Kind::ALL {
            let prefix = match tenant {
                Some(_) if kind.scope() == Scope::Cluster => continue,
                Some(tenant) => keys::kind_prefix(kind.plural(), Some(tenant)),
                None => keys::kind_prefix(kind.plural(), None),
            };
            for kv in self.store.list(&prefix).await?.items {
                let value = objects::decode(&kv, kv.mod_revision)?;
                found.push((kv, value));
            }
        }
        Ok(found)
    }
}

/// What a cascade removes from each tenant's usage.
#[derive(Default)]
struct Released(BTreeMap<String, Cost>);

impl Released {
    fn add(&mut self, object: &Value) -> Result<()> {
        let cost = Cost::of_stored(object)?;
        let tenant = objects::metadata_field(object, "tenant").and_then(Value::as_str);
        if let (Some(tenant), false) = (tenant, cost == Cost::ZERO) {
            let total = self.0.entry(tenant.to_owned()).or_insert(Cost::ZERO);
            *total = total.plus(cost);
        }
        Ok(())
    }
}

/// A Tenant's name: every object of that tenant depends on it.
fn tenant_name(object: &Value) -> Option<&str> {
    (object.get("kind").and_then(Value::as_str) == Some(Kind::Tenant.as_str()))
        .then(|| objects::metadata_field(object, "name").and_then(Value::as_str))
        .flatten()
}

fn uid(object: &Value) -> Option<String> {
    objects::metadata_field(object, "uid")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn is_owned_by(object: &Value, owner_uid: &str) -> bool {
    objects::metadata_field(object, "ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|owners| {
            owners
                .iter()
                .any(|o| o.get("uid").and_then(Value::as_str) == Some(owner_uid))
        })
}
