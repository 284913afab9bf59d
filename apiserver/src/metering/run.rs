//! The metering loop of an API server: every interval, one round — every Instance and Volume
//! and every node agent's latest samples and ingress totals, read at once, then each tenant's
//! round written — until the server shuts down. Several servers over one store may all run it: each tenant's round is
//! a compare-and-swap on its records, so they take turns instead of counting twice.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use minicloud_manifests::Kind;
use minicloud_proto::v1::NodeMetrics;
use serde_json::Value;
use tokio::time::MissedTickBehavior;

use super::error::{MeteringError, Result};
use super::observation::views;
use super::persist::meter_tenant;
use crate::agents::Agents;
use crate::api::{LabelSelector, RequestContext, ResourceApi, TenantScope};
use crate::usage::read_agent;
use crate::wire::DEFAULT_TENANT;

/// Runs the loop every `every` until `api` shuts down. Must be called within a tokio runtime.
pub fn spawn(api: Arc<ResourceApi>, agents: Agents, every: Duration) {
    tokio::spawn(async move {
        let stopping = api.shutdown_token();
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stopping.cancelled() => return,
                _ = ticker.tick() => {}
            }
            if let Err(error) = round(&api, &agents).await {
                tracing::warn!(%error, "metering round failed; the next round continues from the last one written");
            }
        }
    });
}

/// One round over every tenant; a tenant whose round fails is logged and left for the next.
async fn round(api: &ResourceApi, agents: &Agents) -> Result<()> {
    let instances = list(api, Kind::Instance, "instances").await?;
    let volumes = list(api, Kind::Volume, "volumes").await?;
    let nodes = list(api, Kind::Node, "nodes").await?;
    let answers: Vec<NodeMetrics> =
        futures::future::join_all(nodes.iter().map(|node| read_agent(agents, node)))
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect();
    let now = unix_millis(SystemTime::now());
    let store = api.store();
    for (tenant, view) in views(&instances, &volumes, &answers) {
        if let Err(error) = meter_tenant(store.as_ref(), &tenant, &view, now).await {
            tracing::warn!(%error, tenant, "metering a tenant failed; its next round catches up");
        }
    }
    Ok(())
}

async fn list(api: &ResourceApi, kind: Kind, what: &'static str) -> Result<Vec<Value>> {
    let server = RequestContext::admin(DEFAULT_TENANT);
    api.list(&server, kind, &TenantScope::All, &LabelSelector::default())
        .await
        .map(|(objects, _)| objects)
        .map_err(|source| MeteringError::ListFailed { what, source })
}

/// `at` in Unix milliseconds.
pub fn unix_millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}
