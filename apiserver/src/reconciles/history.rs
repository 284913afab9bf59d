//! Reading and recording reconcile histories: one store key per object holding its newest
//! decisions (a `ReconcileHistory` message), changed by read-modify-write.

use std::collections::BTreeMap;

use minicloud_common::read_modify_write::ReadModifyWrite;
use minicloud_proto::v1::{ReconcileHistory, ReconcileRecord};
use prost::Message;

use crate::api::{ApiError, ObjectRef, RequestContext, ResourceApi};
use crate::store::{Store, StoreError};
use crate::wire::parse_kind;

/// Decisions kept per object.
pub const KEEP: usize = 10;
/// Where the histories live.
const PREFIX: &str = "/minicloud-reconciles";

/// Adds `records` to their objects' histories; admin keys only (the controllers).
pub async fn record(
    store: &dyn Store,
    ctx: &RequestContext,
    records: Vec<ReconcileRecord>,
) -> Result<(), ApiError> {
    if !ctx.identity.is_admin() {
        return Err(ApiError::Forbidden(
            "reconcile decisions are recorded by the controllers (admin keys) only".into(),
        ));
    }
    let mut by_object: BTreeMap<String, Vec<ReconcileRecord>> = BTreeMap::new();
    for record in records {
        let kind = parse_kind(&record.kind)?;
        let tenant = Some(record.tenant.as_str()).filter(|t| !t.is_empty());
        let object = ObjectRef::new(kind, tenant, &record.name, "")?;
        by_object.entry(key(&object)).or_default().push(record);
    }
    for (key, records) in by_object {
        append(store, &key, &records).await?;
    }
    Ok(())
}

/// The history of the object `kind`/`name` (in the caller's tenant), oldest first, for a
/// caller who may read the object; decisions from before its creation (about a namesake
/// deleted since) are left out.
pub async fn list(
    api: &ResourceApi,
    ctx: &RequestContext,
    (kind, name): (&str, &str),
) -> Result<ReconcileHistory, ApiError> {
    let kind = parse_kind(kind)?;
    let object = ObjectRef::new(kind, None, name, &ctx.default_tenant)?;
    let current = api.get_audited(ctx, &object).await?;
    let stored = api.store().get(&key(&object)).await?;
    let mut history = stored.map(|kv| decode(&kv.value)).unwrap_or_default();
    let created = current
        .pointer("/metadata/creationTimestamp")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    history.records.retain(|r| !before(&r.time, created));
    Ok(history)
}

/// Whether RFC 3339 time `time` is before the whole second `created`.
fn before(time: &str, created: &str) -> bool {
    let parse = |t: &str| humantime::parse_rfc3339_weak(t).ok();
    match (parse(time), parse(created)) {
        (Some(time), Some(created)) => time < created,
        _ => false,
    }
}

fn key(object: &ObjectRef) -> String {
    let tenant = object.tenant.as_deref().unwrap_or("-");
    format!("{PREFIX}/{}/{tenant}/{}", object.kind.plural(), object.name)
}

fn decode(bytes: &[u8]) -> ReconcileHistory {
    ReconcileHistory::decode(bytes).unwrap_or_default()
}

/// Appends `records` to the history at `key`, dropping the oldest beyond [`KEEP`].
async fn append(store: &dyn Store, key: &str, records: &[ReconcileRecord]) -> Result<(), ApiError> {
    ReadModifyWrite::new(format!("the reconcile history {key}"), "recorded")
        .run(|| async move {
            let stored = store.get(key).await?;
            let mut history = stored
                .as_ref()
                .map(|kv| decode(&kv.value))
                .unwrap_or_default();
            history.records.extend_from_slice(records);
            let extra = history.records.len().saturating_sub(KEEP);
            history.records.drain(..extra);
            let value = history.encode_to_vec();
            let written = match stored {
                Some(kv) => store.update(key, value, kv.mod_revision).await,
                None => store.create(key, value).await,
            };
            written.map(drop).map_err(|e: StoreError| ApiError::from(e))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Identity;
    use crate::store::KvRead;
    use crate::store::embedded::EmbeddedStore;

    fn decision(n: usize) -> ReconcileRecord {
        ReconcileRecord {
            controller: "app".into(),
            kind: "App".into(),
            tenant: "acme".into(),
            name: "web".into(),
            outcome: format!("done {n}"),
            ..ReconcileRecord::default()
        }
    }

    #[test]
    fn decisions_from_before_the_objects_creation_are_about_a_namesake() {
        let created = "2026-01-01T00:00:10Z";
        assert!(before("2026-01-01T00:00:09.999Z", created));
        assert!(!before("2026-01-01T00:00:10.000Z", created));
        assert!(!before("2026-01-01T00:00:11.000Z", created));
        assert!(!before("not a time", created));
    }

    #[tokio::test]
    async fn only_admin_keys_record_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let identity = Identity {
            key: "mc_acme_1a2b3c4d".into(),
            role: minicloud_manifests::Role::TenantAdmin,
            tenant: Some("acme".into()),
        };
        let tenant_key = RequestContext::new(identity, "acme");
        let refused = record(&store, &tenant_key, vec![decision(0)]).await;
        assert!(
            matches!(refused, Err(ApiError::Forbidden(_))),
            "{refused:?}"
        );
        let key = "/minicloud-reconciles/apps/acme/web";
        assert!(store.get(key).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_object_keeps_its_newest_decisions_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let admin = RequestContext::new(Identity::admin("test"), "default");
        for n in 0..KEEP + 3 {
            record(&store, &admin, vec![decision(n)]).await.unwrap();
        }
        let kv = store
            .get("/minicloud-reconciles/apps/acme/web")
            .await
            .unwrap()
            .unwrap();
        let outcomes: Vec<String> = decode(&kv.value)
            .records
            .into_iter()
            .map(|r| r.outcome)
            .collect();
        assert_eq!(outcomes.len(), KEEP);
        assert_eq!(outcomes[0], "done 3");
        assert_eq!(outcomes[KEEP - 1], format!("done {}", KEEP + 2));
    }
}
