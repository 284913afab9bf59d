//! The controllers against a real in-process API server and fake node agents: apps run, scale,
//! roll, heal and go away, updates roll within their bounds and roll back when they fail,
//! orphans are collected, a restart at any point converges, and containers get their Secret
//! env values; volumes are provisioned, snapshotted, restored and released.

mod apps;
mod cleanup;
mod harness;
mod restart;
mod rollout;
mod secrets;
mod storage;

use std::collections::BTreeSet;

use harness::Cluster;
use minicloud_controllers::labels::docker;
use minicloud_manifests::{Condition, ConditionStatus};

/// `Some(())` once the app runs exactly `n` ready replicas on node-a: App status, Instances
/// and the fake agent's containers all agree.
pub async fn converged(cluster: &Cluster, app: &str, n: usize) -> Option<()> {
    let status = cluster.app(app).await?.status?;
    let available = condition(&status.conditions, "Available")?.status == ConditionStatus::True;
    let counts = (status.replicas as usize, status.ready_replicas as usize);
    if counts != (n, n) || !available {
        return None;
    }
    let instances = cluster.instances().await;
    let uids: BTreeSet<String> = instances
        .iter()
        .filter_map(|i| i.metadata.uid.clone())
        .collect();
    let containers = container_uids(cluster, "node-a");
    (instances.len() == n && uids == containers).then_some(())
}

/// The instance uids of the managed containers on `node`'s fake agent.
pub fn container_uids(cluster: &Cluster, node: &str) -> BTreeSet<String> {
    cluster
        .agent(node)
        .observed()
        .containers
        .iter()
        .filter(|c| c.labels.get(docker::MANAGED).is_some_and(|v| v == "true"))
        .filter_map(|c| c.labels.get(docker::INSTANCE_UID).cloned())
        .collect()
}

/// The condition of `type_`.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}
