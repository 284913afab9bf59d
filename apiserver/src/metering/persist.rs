//! Writing one tenant's round: read its state and the hour records the round adds to, add, and
//! write them all in one transaction guarded by the revisions read — through the one
//! read-modify-write policy, so that a server restarted mid-round, or a second server metering
//! the same store, continues from what was written and never counts anything twice.

use minicloud_common::read_modify_write::ReadModifyWrite;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{MeteringError, Result};
use super::integrate::integrate;
use super::observation::TenantView;
use super::record::{HourRecord, MeterState, hour_key, state_key};
use crate::store::{Compare, KeyValue, Store, Txn, TxnOp};

/// Meters `tenant`'s round at `now` (Unix milliseconds) from `view`; whether anything was
/// written (an idle round writes nothing).
pub async fn meter_tenant(
    store: &dyn Store,
    tenant: &str,
    view: &TenantView,
    now: i64,
) -> Result<bool> {
    ReadModifyWrite::new(format!("the usage records of tenant {tenant:?}"), "metered")
        .run(|| attempt(store, tenant, view, now))
        .await
}

async fn attempt(store: &dyn Store, tenant: &str, view: &TenantView, now: i64) -> Result<bool> {
    let key = state_key(tenant);
    let stored = store.get(&key).await?;
    let before: Option<MeterState> = stored.as_ref().map(decode).transpose()?;
    let round = integrate(before.as_ref(), view, now);
    if round.idle {
        return Ok(false);
    }
    let mut compares = vec![guard(&key, stored.as_ref())];
    let mut ops = vec![TxnOp::Put(key, encode(&round.state))];
    for (hour, apps) in &round.additions {
        let key = hour_key(tenant, *hour);
        let stored = store.get(&key).await?;
        let mut record: HourRecord = stored.as_ref().map(decode).transpose()?.unwrap_or_default();
        for (app, added) in apps {
            record.apps.entry(app.clone()).or_default().add(added);
        }
        compares.push(guard(&key, stored.as_ref()));
        ops.push(TxnOp::Put(key, encode(&record)));
    }
    let outcome = store.txn(Txn::when(compares).then(ops)).await?;
    match outcome.succeeded {
        true => Ok(true),
        false => Err(MeteringError::Conflict(tenant.to_owned())),
    }
}

/// The compare that the key is still as it was read.
fn guard(key: &str, stored: Option<&KeyValue>) -> Compare {
    match stored {
        Some(stored) => Compare::ModRevision(key.to_owned(), stored.mod_revision),
        None => Compare::Absent(key.to_owned()),
    }
}

/// A stored record, decoded.
pub fn decode<T: DeserializeOwned>(stored: &KeyValue) -> Result<T> {
    serde_json::from_slice(&stored.value).map_err(|source| MeteringError::Damaged {
        key: stored.key.clone(),
        source,
    })
}

fn encode(record: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(record).expect("usage records always serialize")
}

#[cfg(test)]
mod tests {
    use super::super::hours::HOUR_MILLIS;
    use super::super::observation::{CpuReading, RunningInstance};
    use super::*;
    use crate::store::KvRead;
    use crate::store::embedded::EmbeddedStore;

    const T: i64 = 500_000 * HOUR_MILLIS;

    fn view(cpu_nanos: u64, at_millis: i64) -> TenantView {
        TenantView {
            running: vec![RunningInstance {
                app: "web".into(),
                created_millis: 0,
                cpu_millicores: 500,
                memory_bytes: 1 << 20,
            }],
            readings: vec![CpuReading {
                container_id: "c1".into(),
                app: "web".into(),
                cpu_nanos,
                working_set_bytes: 1,
                at_millis,
                since_millis: None,
            }],
            ..TenantView::default()
        }
    }

    async fn hour(store: &EmbeddedStore, hour: i64) -> HourRecord {
        let stored = store.get(&hour_key("acme", hour)).await.unwrap().unwrap();
        decode(&stored).unwrap()
    }

    #[tokio::test]
    async fn rounds_add_up_across_a_reopened_store_without_counting_twice() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            meter_tenant(&store, "acme", &view(1_000, T), T)
                .await
                .unwrap();
            meter_tenant(&store, "acme", &view(3_000, T + 1_000), T + 1_000)
                .await
                .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        meter_tenant(&store, "acme", &view(3_000, T + 1_000), T + 1_000)
            .await
            .unwrap();
        meter_tenant(&store, "acme", &view(6_000, T + 3_000), T + 3_000)
            .await
            .unwrap();
        let web = hour(&store, T / HOUR_MILLIS).await.apps["web"].clone();
        assert_eq!(web.cpu_used_nanos, 5_000);
        assert_eq!(web.cpu_allocated_millicore_millis, 500 * 3_000);
        assert_eq!(web.instance_millis, 3_000);
    }

    #[tokio::test]
    async fn a_round_across_an_hour_boundary_writes_both_hours_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let end = T + HOUR_MILLIS;
        meter_tenant(&store, "acme", &view(0, end - 1_000), end - 1_000)
            .await
            .unwrap();
        meter_tenant(&store, "acme", &view(4_000, end + 3_000), end + 3_000)
            .await
            .unwrap();
        let (before, after) = (
            hour(&store, T / HOUR_MILLIS).await.apps["web"].clone(),
            hour(&store, T / HOUR_MILLIS + 1).await.apps["web"].clone(),
        );
        assert_eq!(
            (before.instance_millis, after.instance_millis),
            (1_000, 3_000)
        );
        assert_eq!(
            (before.cpu_used_nanos, after.cpu_used_nanos),
            (1_000, 3_000)
        );
    }

    #[tokio::test]
    async fn an_idle_tenant_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let written = meter_tenant(&store, "acme", &TenantView::default(), T)
            .await
            .unwrap();
        assert!(!written);
        assert!(store.get(&state_key("acme")).await.unwrap().is_none());
    }
}
