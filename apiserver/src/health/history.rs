//! Collecting one App's health history: its Instances in the caller's scope, grouped by node,
//! each node's agent asked once for the probes of those containers.

use std::collections::BTreeMap;
use std::time::Duration;

use minicloud_manifests::Kind;
use minicloud_proto::object_labels;
use minicloud_proto::v1::{HealthHistoryRequest, HealthReport, HealthRequest, InstanceHealth};
use serde_json::Value;

use crate::agents::{Agents, endpoint_of};
use crate::api::{ApiError, LabelSelector, ObjectRef, RequestContext, ResourceApi, TenantScope};

/// How long one agent may take to answer before its instances are reported unavailable.
const AGENT_TIMEOUT: Duration = Duration::from_secs(3);

/// The history of the App (or one Instance of it) that `request` names, for `ctx`.
pub async fn history(
    api: &ResourceApi,
    agents: &Agents,
    ctx: &RequestContext,
    request: &HealthRequest,
) -> Result<HealthReport, ApiError> {
    let tenant = ctx.default_tenant.clone();
    let app = ObjectRef::new(Kind::App, Some(&tenant), &request.app, &tenant)?;
    api.get_audited(ctx, &app).await?;
    let selector = LabelSelector::parse(&format!("{}={}", object_labels::APP, request.app))?;
    let scope = TenantScope::One(tenant.clone());
    let (mut instances, _) = api.list(ctx, Kind::Instance, &scope, &selector).await?;
    if !request.instance.is_empty() {
        instances.retain(|i| text(i, "/metadata/name") == request.instance);
        if instances.is_empty() {
            let instance =
                ObjectRef::new(Kind::Instance, Some(&tenant), &request.instance, &tenant)?;
            return Err(instance.not_found());
        }
    }
    let mut rows: Vec<InstanceHealth> = instances.iter().map(row).collect();
    let mut by_node: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        if row.unavailable.is_empty() {
            by_node.entry(row.node.clone()).or_default().push(index);
        }
    }
    for (node, indexes) in by_node {
        let ids = indexes
            .iter()
            .map(|&i| rows[i].container_id.clone())
            .collect();
        match read(api, agents, &node, ids).await {
            Ok(mut found) => {
                for &i in &indexes {
                    rows[i].probes = found.remove(&rows[i].container_id).unwrap_or_default();
                }
            }
            Err(why) => indexes
                .iter()
                .for_each(|&i| rows[i].unavailable = why.clone()),
        }
    }
    rows.sort_by(|a, b| a.instance.cmp(&b.instance));
    Ok(HealthReport {
        tenant,
        app: request.app.clone(),
        instances: rows,
    })
}

/// An Instance's row before its agent is asked: names, or why there is nothing to ask.
fn row(instance: &Value) -> InstanceHealth {
    let (node, container_id) = (
        text(instance, "/spec/node"),
        text(instance, "/status/containerId"),
    );
    let unavailable = match (node.is_empty(), container_id.is_empty()) {
        (true, _) => "not placed on a node yet",
        (_, true) => "no container yet",
        _ => "",
    };
    InstanceHealth {
        instance: text(instance, "/metadata/name").to_owned(),
        node: node.to_owned(),
        container_id: container_id.to_owned(),
        probes: Vec::new(),
        unavailable: unavailable.to_owned(),
    }
}

/// The probes `node`'s agent keeps of containers `ids`, by container id, or why there are none.
async fn read(
    api: &ResourceApi,
    agents: &Agents,
    node: &str,
    ids: Vec<String>,
) -> Result<BTreeMap<String, Vec<minicloud_proto::v1::ProbeResult>>, String> {
    let endpoint = endpoint_of(api, node)
        .await
        .map_err(|e| format!("cannot find node {node}'s agent: {e}"))?
        .ok_or_else(|| format!("node {node} names no agent endpoint"))?;
    let mut client = agents
        .client(&endpoint)
        .ok_or_else(|| format!("the agent endpoint {endpoint} is not a URL"))?;
    let request = HealthHistoryRequest { container_ids: ids };
    match tokio::time::timeout(AGENT_TIMEOUT, client.health_history(request)).await {
        Ok(Ok(report)) => Ok(report
            .into_inner()
            .containers
            .into_iter()
            .map(|c| (c.container_id, c.probes))
            .collect()),
        Ok(Err(status)) => Err(format!(
            "its agent at {endpoint} answered: {}",
            status.message()
        )),
        Err(_) => Err(format!(
            "its agent at {endpoint} did not answer within {}s",
            AGENT_TIMEOUT.as_secs()
        )),
    }
}

fn text<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_instance_without_a_node_or_container_says_why() {
        let pending = json!({"metadata": {"name": "web-x1"}, "spec": {}});
        assert_eq!(row(&pending).unavailable, "not placed on a node yet");
        let placed = json!({"metadata": {"name": "web-x1"}, "spec": {"node": "n1"}});
        assert_eq!(row(&placed).unavailable, "no container yet");
        let running = json!({"metadata": {"name": "web-x1"}, "spec": {"node": "n1"},
            "status": {"containerId": "c1"}});
        let row = row(&running);
        assert_eq!(
            (row.unavailable.as_str(), row.container_id.as_str()),
            ("", "c1")
        );
    }
}
