//! Quota accounting: what each object costs its tenant, the per-tenant usage record that sums
//! those costs, and admission against the Tenant's quota.
//!
//! The usage record ([`keys::usage_key`]) is the one source of truth. Every write that changes
//! what a tenant uses — creating, updating or scaling an App, creating or resizing a Volume, a
//! delete cascade — writes the new usage in the same store transaction as the object, guarded
//! by the record's revision. Two writers that both read room for one more container can never
//! both commit: the second transaction fails, its writer reads the new usage and is refused.
//! When the Tenant exists, its `status.usage` is written in that same transaction, so it always
//! equals the record. A tenant using nothing has no record.
//!
//! An App costs its steady state: `replicas` containers, each with its CPU and memory limits. A
//! rolling update's surge is a bounded transient allowance that admission does not count: the
//! app controller adds at most `update.maxSurge` instances per App, only while a rollout runs,
//! and the scheduler still places them only where a node has room. So a tenant with
//! `containers: 5` runs five 1-replica Apps, whatever their surge. A Volume costs its size in
//! storage, from its creation until it is removed (a Volume with finalizers keeps its storage
//! while they run: its data still exists).

use std::collections::BTreeSet;

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_manifests::{AppSpec, Bytes, Cpu, Kind, Quota, Resource, Scope, Usage, VolumeSpec};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::objects::{self, ObjectRef};
use super::{ApiError, ResourceApi, Result};
use crate::store::{Compare, KeyValue, Txn, TxnOp, keys};

/// What an object takes from its tenant's quota.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Cost {
    containers: u64,
    cpu_millis: u64,
    memory: u64,
    storage: u64,
}

impl Cost {
    /// Nothing.
    pub(super) const ZERO: Cost = Cost {
        containers: 0,
        cpu_millis: 0,
        memory: 0,
        storage: 0,
    };

    /// The cost of an object as admission holds it; zero for kinds that use no quota.
    pub(super) fn of(resource: &Resource) -> Cost {
        match resource {
            Resource::App(app) => Cost::of_app(&app.spec),
            Resource::Volume(volume) => Cost::of_volume(&volume.spec),
            _ => Cost::ZERO,
        }
    }

    /// The cost of an object as read from the store: only the spec of the kinds that use quota
    /// is read.
    pub(super) fn of_stored(object: &Value) -> Result<Cost> {
        match object.get("kind").and_then(Value::as_str) {
            Some(kind) if kind == Kind::App.as_str() => Ok(Cost::of_app(&stored_spec(object)?)),
            Some(kind) if kind == Kind::Volume.as_str() => {
                Ok(Cost::of_volume(&stored_spec(object)?))
            }
            _ => Ok(Cost::ZERO),
        }
    }

    /// What an App runs when no rollout is under way: `replicas` instances, each with its
    /// limits. A rollout's surge is not counted (see the module docs).
    fn of_app(spec: &AppSpec) -> Cost {
        let containers = u64::from(spec.replica_count());
        let limits = spec.resolved_resources();
        Cost {
            containers,
            cpu_millis: containers.saturating_mul(limits.cpu.millis()),
            memory: containers.saturating_mul(limits.memory.get()),
            storage: 0,
        }
    }

    fn of_volume(spec: &VolumeSpec) -> Cost {
        Cost {
            storage: spec.size.get(),
            ..Cost::ZERO
        }
    }

    pub(super) fn plus(self, other: Cost) -> Cost {
        Cost {
            containers: self.containers.saturating_add(other.containers),
            cpu_millis: self.cpu_millis.saturating_add(other.cpu_millis),
            memory: self.memory.saturating_add(other.memory),
            storage: self.storage.saturating_add(other.storage),
        }
    }

    fn minus(self, other: Cost) -> Cost {
        Cost {
            containers: self.containers.saturating_sub(other.containers),
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory: self.memory.saturating_sub(other.memory),
            storage: self.storage.saturating_sub(other.storage),
        }
    }

    fn from_usage(usage: &Usage) -> Cost {
        Cost {
            containers: u64::from(usage.containers),
            cpu_millis: usage.cpu.millis(),
            memory: usage.memory.get(),
            storage: usage.storage.get(),
        }
    }

    fn to_usage(self) -> Usage {
        Usage {
            containers: u32::try_from(self.containers).unwrap_or(u32::MAX),
            cpu: Cpu::from_millis(self.cpu_millis),
            memory: Bytes::new(self.memory),
            storage: Bytes::new(self.storage),
        }
    }
}

/// A typed field of a stored object, which was validated when it was written; `None` when the
/// object has no such field.
fn stored_field<T: DeserializeOwned>(object: &Value, pointer: &str) -> Result<Option<T>> {
    object
        .pointer(pointer)
        .map(|value| serde_json::from_value(value.clone()))
        .transpose()
        .map_err(|error| ApiError::Internal(format!("validated field {pointer}: {error}")))
}

/// The typed spec of a stored object.
fn stored_spec<T: DeserializeOwned>(object: &Value) -> Result<T> {
    stored_field(object, "/spec")?
        .ok_or_else(|| ApiError::Internal("a stored object has no spec".into()))
}

/// Whether writes of `kind` can change a tenant's usage (or, for a Tenant, carry it).
pub(super) fn accounted(kind: Kind) -> bool {
    matches!(kind, Kind::App | Kind::Volume | Kind::Tenant)
}

/// The tenant whose quota an object counts against: its own tenant, or for a Tenant itself,
/// the tenant it is. Cluster objects other than Tenants count against none.
pub(super) fn tenant_of(target: &ObjectRef) -> Option<&str> {
    match (target.kind, target.kind.scope()) {
        (Kind::Tenant, _) => Some(&target.name),
        (_, Scope::Cluster) => None,
        _ => target.tenant.as_deref(),
    }
}

/// One resource in an admission check: name, limit, used, requested, new total, and how its
/// amounts read.
type Line = (&'static str, Option<u64>, u64, u64, u64, fn(u64) -> String);

/// A tenant's usage and quota as read at one moment, and the guards that keep a transaction
/// from committing if either has moved since.
pub(super) struct Ledger {
    tenant: String,
    record: Option<KeyValue>,
    used: Cost,
    owner: Option<KeyValue>,
    /// The Tenant's `status.usage`, when there is a Tenant.
    mirrored: Option<Cost>,
    quota: Quota,
}

impl ResourceApi {
    /// Reads `tenant`'s usage record and Tenant object.
    pub(super) async fn ledger(&self, tenant: &str) -> Result<Ledger> {
        let record = self.store.get(&keys::usage_key(tenant)).await?;
        let used = match &record {
            Some(kv) => {
                let usage: Usage = serde_json::from_slice(&kv.value).map_err(|error| {
                    ApiError::Internal(format!("usage record {} is not valid: {error}", kv.key))
                })?;
                Cost::from_usage(&usage)
            }
            None => Cost::ZERO,
        };
        let owner = self
            .store
            .get(&keys::object_key(Kind::Tenant.plural(), None, tenant))
            .await?;
        let (quota, mirrored) = match &owner {
            Some(kv) => {
                let object = objects::decode(kv, kv.mod_revision)?;
                let usage: Option<Usage> = stored_field(&object, "/status/usage")?;
                let quota = stored_field(&object, "/spec/quota")?.unwrap_or_default();
                (quota, usage.as_ref().map(Cost::from_usage))
            }
            None => (Quota::default(), None),
        };
        Ok(Ledger {
            tenant: tenant.to_owned(),
            record,
            used,
            owner,
            mirrored,
            quota,
        })
    }

    /// Admits changing `target`'s cost from `before` to `after` against its tenant's quota;
    /// the ledger to record the change with, when it moves the tenant's usage.
    pub(super) async fn admit_change(
        &self,
        target: &ObjectRef,
        before: Cost,
        after: Cost,
    ) -> Result<Option<Ledger>> {
        let Some(tenant) = tenant_of(target).filter(|_| before != after) else {
            return Ok(None);
        };
        let ledger = self.ledger(tenant).await?;
        ledger.admit(target, before, after)?;
        Ok(Some(ledger))
    }

    /// Recounts every tenant's usage from its Apps and Volumes and corrects each record and
    /// Tenant `status.usage` that differs — for objects stored before quotas were counted, or a
    /// record edited by hand. The server runs it at start; it is safe alongside other writes. A
    /// tenant that cannot be recounted is logged and left as recorded. Returns the tenants whose
    /// usage was corrected.
    pub async fn recount_usage(&self) -> Result<Vec<String>> {
        let mut tenants = BTreeSet::new();
        let prefixes = [
            keys::kind_prefix(Kind::App.plural(), None),
            keys::kind_prefix(Kind::Volume.plural(), None),
            keys::kind_prefix(Kind::Tenant.plural(), None),
            keys::USAGE_PREFIX.to_owned(),
        ];
        for prefix in prefixes {
            for kv in self.store.list(&prefix).await?.items {
                let rest = kv.key.strip_prefix(&prefix).unwrap_or_default();
                let tenant = rest.split_once('/').map_or(rest, |(tenant, _)| tenant);
                tenants.insert(tenant.to_owned());
            }
        }
        let mut corrected = Vec::new();
        for tenant in tenants {
            match self.recount_tenant(&tenant).await {
                Ok(true) => corrected.push(tenant),
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(tenant, %error, "cannot recount the tenant's usage; kept as recorded");
                }
            }
        }
        Ok(corrected)
    }

    /// Recounts one tenant; whether its record was corrected.
    async fn recount_tenant(&self, tenant: &str) -> Result<bool> {
        let _accounting = self.quota_locks.lock(tenant).await;
        ReadModifyWrite::new(format!("the usage of tenant {tenant:?}"), "recounted")
            .run(|| async move {
                let ledger = self.ledger(tenant).await?;
                let mut counted = Cost::ZERO;
                for kind in [Kind::App, Kind::Volume] {
                    let prefix = keys::kind_prefix(kind.plural(), Some(tenant));
                    for kv in self.store.list(&prefix).await?.items {
                        counted =
                            counted.plus(Cost::of_stored(&objects::decode(&kv, kv.mod_revision)?)?);
                    }
                }
                let mirror_right = ledger.owner.is_none() || ledger.mirrored == Some(counted);
                if counted == ledger.used && mirror_right {
                    return Ok(false);
                }
                let mut txn = Txn::default();
                ledger.write(&mut txn, counted)?;
                if !self.store.txn(txn).await?.succeeded {
                    return Err(ApiError::Conflict(format!(
                        "the usage of tenant {tenant:?} changed while it was being recounted"
                    )));
                }
                tracing::info!(
                    tenant,
                    recorded = ?ledger.used,
                    counted = ?counted,
                    "usage record corrected"
                );
                Ok(true)
            })
            .await
    }
}

impl Ledger {
    /// Refuses changing `target`'s cost from `before` to `after` when that raises any resource
    /// past the quota; a change that lowers or keeps a resource is always allowed, even over a
    /// quota an admin has since lowered.
    pub(super) fn admit(&self, target: &ObjectRef, before: Cost, after: Cost) -> Result<()> {
        let total = self.used.minus(before).plus(after);
        let limits: [Line; 4] = [
            (
                "containers",
                self.quota.containers.map(u64::from),
                self.used.containers,
                after.containers.saturating_sub(before.containers),
                total.containers,
                |n| n.to_string(),
            ),
            (
                "cpu",
                self.quota.cpu.map(Cpu::millis),
                self.used.cpu_millis,
                after.cpu_millis.saturating_sub(before.cpu_millis),
                total.cpu_millis,
                |n| Cpu::from_millis(n).to_string(),
            ),
            (
                "memory",
                self.quota.memory.map(Bytes::get),
                self.used.memory,
                after.memory.saturating_sub(before.memory),
                total.memory,
                |n| Bytes::new(n).to_string(),
            ),
            (
                "storage",
                self.quota.storage.map(Bytes::get),
                self.used.storage,
                after.storage.saturating_sub(before.storage),
                total.storage,
                |n| Bytes::new(n).to_string(),
            ),
        ];
        let exceeded: Vec<String> = limits
            .into_iter()
            .filter_map(|(resource, limit, used, requested, total, show)| {
                let limit = limit?;
                (requested > 0 && total > limit).then(|| {
                    format!(
                        "{resource}: used {}, requested {}, limit {}",
                        show(used),
                        show(requested),
                        show(limit)
                    )
                })
            })
            .collect();
        if exceeded.is_empty() {
            return Ok(());
        }
        let counted = match target.kind {
            Kind::App => " (an App counts its replicas, each with its limits)",
            Kind::Volume => " (a Volume counts its size)",
            _ => "",
        };
        Err(ApiError::QuotaExceeded(format!(
            "{} would exceed the quota of tenant {:?} ({}){counted}; scale down or delete \
             something in the tenant, or ask an admin to raise its quota",
            target.describe(),
            self.tenant,
            exceeded.join("; ")
        )))
    }

    /// Adds to `txn` the guards on the usage record and the Tenant, and the writes that move
    /// the tenant's usage by `after - before`. Nothing is added when the cost is unchanged.
    pub(super) fn record(&self, txn: &mut Txn, before: Cost, after: Cost) -> Result<()> {
        if before == after {
            return Ok(());
        }
        self.write(txn, self.used.minus(before).plus(after))
    }

    /// Adds to `txn` the guards and the writes that set the tenant's usage to `total`, in the
    /// record and in the Tenant's `status.usage`.
    fn write(&self, txn: &mut Txn, total: Cost) -> Result<()> {
        self.guard(txn);
        let usage = total.to_usage();
        let usage_key = keys::usage_key(&self.tenant);
        if total == Cost::ZERO {
            txn.ops.push(TxnOp::Delete(usage_key));
        } else {
            let bytes = serde_json::to_vec(&usage).expect("usage always serializes");
            txn.ops.push(TxnOp::Put(usage_key, bytes));
        }
        let Some(owner) = &self.owner else {
            return Ok(());
        };
        let existing = txn.ops.iter_mut().find_map(|op| match op {
            TxnOp::Put(key, bytes) if *key == owner.key => Some(Some(bytes)),
            TxnOp::Delete(key) if *key == owner.key => Some(None),
            _ => None,
        });
        match existing {
            Some(Some(bytes)) => *bytes = with_usage(bytes, &usage)?,
            Some(None) => {}
            None => {
                let bytes = with_usage(&owner.value, &usage)?;
                txn.ops.push(TxnOp::Put(owner.key.clone(), bytes));
            }
        }
        Ok(())
    }

    /// Guards `txn` on the usage record and the Tenant being as read.
    pub(super) fn guard(&self, txn: &mut Txn) {
        let usage_key = keys::usage_key(&self.tenant);
        txn.compares.push(match &self.record {
            Some(kv) => Compare::ModRevision(usage_key, kv.mod_revision),
            None => Compare::Absent(usage_key),
        });
        let tenant_key = keys::object_key(Kind::Tenant.plural(), None, &self.tenant);
        txn.compares.push(match &self.owner {
            Some(kv) => Compare::ModRevision(tenant_key, kv.mod_revision),
            None => Compare::Absent(tenant_key),
        });
    }

    /// Sets a new Tenant object's `status.usage` to what its tenant already uses.
    pub(super) fn stamp(&self, tenant: &mut Value) -> Result<()> {
        set_usage(tenant, &self.used.to_usage())
    }
}

/// A stored Tenant's bytes with `status.usage` replaced.
fn with_usage(stored: &[u8], usage: &Usage) -> Result<Vec<u8>> {
    let mut tenant: Value = serde_json::from_slice(stored)
        .map_err(|error| ApiError::Internal(format!("stored Tenant is not JSON: {error}")))?;
    set_usage(&mut tenant, usage)?;
    Ok(serde_json::to_vec(&tenant).expect("JSON values always serialize"))
}

fn set_usage(tenant: &mut Value, usage: &Usage) -> Result<()> {
    let usage = serde_json::to_value(usage).expect("usage always serializes");
    set_status_usage(tenant, Some(usage))
}

/// Sets (or, with `None`, removes) a Tenant's `status.usage`; a status left empty goes too.
fn set_status_usage(tenant: &mut Value, usage: Option<Value>) -> Result<()> {
    let fields = tenant
        .as_object_mut()
        .ok_or_else(|| ApiError::Internal("a Tenant is not a JSON object".into()))?;
    match usage {
        Some(usage) => {
            let status = fields
                .entry("status")
                .or_insert_with(|| Value::Object(Default::default()));
            match status.as_object_mut() {
                Some(status) => {
                    status.insert("usage".into(), usage);
                }
                None => *status = serde_json::json!({ "usage": usage }),
            }
        }
        None => {
            if let Some(status) = fields.get_mut("status").and_then(Value::as_object_mut) {
                status.remove("usage");
                if status.is_empty() {
                    fields.remove("status");
                }
            }
        }
    }
    Ok(())
}

/// Puts `current`'s `status.usage` (or its absence) back into `tenant`, an update of it: only
/// quota accounting writes a Tenant's usage.
pub(super) fn keep_usage(current: &Value, tenant: &mut Value) -> Result<()> {
    set_status_usage(tenant, current.pointer("/status/usage").cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_app_costs_its_replicas_times_its_limits() {
        let app = json!({"kind": "App", "spec": {"replicas": 3, "update": {"maxSurge": 0},
            "resources": {"cpu": "500m", "memory": "256Mi"}}});
        let cost = Cost::of_stored(&app).unwrap();
        assert_eq!(cost.containers, 3);
        assert_eq!(cost.cpu_millis, 1500);
        assert_eq!(cost.memory, 3 * 256 * 1024 * 1024);
        assert_eq!(cost.storage, 0);
    }

    #[test]
    fn a_rolling_update_surge_is_not_counted() {
        let app = |replicas: u64, update: Value| {
            Cost::of_stored(
                &json!({"kind": "App", "spec": {"replicas": replicas, "update": update,
                "resources": {"cpu": "250m"}}}),
            )
            .unwrap()
        };
        assert_eq!(app(2, json!({"maxSurge": 2})).containers, 2);
        assert_eq!(app(2, json!({"maxSurge": 2})).cpu_millis, 500);
        assert_eq!(app(1, json!({})).containers, 1, "the default surge of 1");
        assert_eq!(app(0, json!({"maxSurge": 2})), Cost::ZERO);
    }

    #[test]
    fn a_volume_costs_its_size_and_other_kinds_nothing() {
        let volume = json!({"kind": "Volume", "spec": {"size": "1Gi"}});
        assert_eq!(Cost::of_stored(&volume).unwrap().storage, 1 << 30);
        let secret = json!({"kind": "Secret", "data": {"a": "b"}});
        assert_eq!(Cost::of_stored(&secret).unwrap(), Cost::ZERO);
    }

    fn ledger(used: Cost, quota: Quota) -> Ledger {
        Ledger {
            tenant: "acme".into(),
            record: None,
            used,
            owner: None,
            mirrored: None,
            quota,
        }
    }

    fn app(replicas: u64) -> Cost {
        Cost::of_stored(
            &json!({"kind": "App", "spec": {"replicas": replicas, "update": {"maxSurge": 0}}}),
        )
        .unwrap()
    }

    #[test]
    fn a_refusal_names_used_requested_and_limit() {
        let quota = Quota {
            containers: Some(5),
            ..Quota::default()
        };
        let target = ObjectRef::new(Kind::App, Some("acme"), "web", "acme").unwrap();
        let error = ledger(app(4), quota)
            .admit(&target, Cost::ZERO, app(2))
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("containers: used 4, requested 2, limit 5"),
            "{message}"
        );
        assert_eq!(error.reason(), "QuotaExceeded");
    }

    #[test]
    fn scaling_down_is_allowed_over_a_lowered_quota() {
        let quota = Quota {
            containers: Some(2),
            ..Quota::default()
        };
        let target = ObjectRef::new(Kind::App, Some("acme"), "web", "acme").unwrap();
        let over = ledger(app(4), quota);
        assert!(over.admit(&target, app(4), app(3)).is_ok());
        assert!(over.admit(&target, app(4), app(5)).is_err());
    }

    #[test]
    fn the_record_disappears_when_nothing_is_used() {
        let mut txn = Txn::default();
        ledger(app(2), Quota::default())
            .record(&mut txn, app(2), Cost::ZERO)
            .unwrap();
        assert_eq!(txn.ops, vec![TxnOp::Delete(keys::usage_key("acme"))]);
        assert!(
            txn.compares
                .contains(&Compare::Absent(keys::usage_key("acme")))
        );
    }
}
