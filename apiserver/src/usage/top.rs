//! Collecting one usage report: every agent read at once (each bounded by [`AGENT_TIMEOUT`]),
//! joined with the Instances the caller may see.

use std::time::Duration;

use minicloud_manifests::Kind;
use minicloud_proto::v1::{InstanceUsage, MetricsRequest, NodeMetrics, NodeUsage, TopReport};
use serde_json::Value;

use super::join::{InstanceFacts, by_container, node_usage, with_facts};
use crate::agents::{Agents, agent_endpoint};
use crate::api::{ApiError, LabelSelector, RequestContext, ResourceApi, TenantScope};
use crate::wire::{DEFAULT_TENANT, scope};

/// How long one agent may take to answer before its node is reported unavailable.
const AGENT_TIMEOUT: Duration = Duration::from_secs(3);

/// The report for `ctx` over `tenant` (empty: the caller's own, `*`: every tenant). Instance
/// rows are those the caller may list; node rows, when `with_nodes`, only for admins.
pub async fn top(
    api: &ResourceApi,
    agents: &Agents,
    ctx: &RequestContext,
    (tenant, with_nodes): (&str, bool),
) -> Result<TopReport, ApiError> {
    if with_nodes && !ctx.identity.is_admin() {
        return Err(ApiError::Forbidden(
            "nodes are shown to admin keys only; a tenant key sees `mini top apps|instances|tenants`"
                .into(),
        ));
    }
    let everything = LabelSelector::default();
    let scope = scope(Kind::Instance, tenant, ctx);
    let (visible, _) = api.list(ctx, Kind::Instance, &scope, &everything).await?;
    let server = RequestContext::admin(DEFAULT_TENANT);
    let (nodes, _) = api
        .list(&server, Kind::Node, &TenantScope::All, &everything)
        .await?;
    let readings =
        futures::future::join_all(nodes.iter().map(|node| read_agent(agents, node))).await;
    let interval_millis = readings
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|m| m.interval_millis)
        .max()
        .unwrap_or(0);
    let samples: Vec<InstanceUsage> = readings
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flat_map(|m| m.instances.iter().cloned())
        .collect();
    let samples = by_container(samples);
    let visible: Vec<InstanceFacts> = visible.iter().map(InstanceFacts::of).collect();
    let instances = visible
        .iter()
        .filter_map(|facts| {
            let sample = samples.get(facts.container_id.as_deref()?)?;
            Some(with_facts(sample.clone(), facts))
        })
        .collect();
    let nodes = if with_nodes {
        let all = match scope {
            TenantScope::All => visible,
            TenantScope::One(_) => {
                let (all, _) = api
                    .list(&server, Kind::Instance, &TenantScope::All, &everything)
                    .await?;
                all.iter().map(InstanceFacts::of).collect()
            }
        };
        nodes
            .iter()
            .zip(&readings)
            .map(|(node, reading)| node_row(node, reading, &all))
            .collect()
    } else {
        Vec::new()
    };
    Ok(TopReport {
        instances,
        nodes,
        interval_millis,
    })
}

/// A node's latest sample from its agent, or why there is none.
pub(crate) async fn read_agent(agents: &Agents, node: &Value) -> Result<NodeMetrics, String> {
    let endpoint = agent_endpoint(node).ok_or("the node names no agent endpoint")?;
    let mut client = agents
        .client(&endpoint)
        .ok_or_else(|| format!("the agent endpoint {endpoint} is not a URL"))?;
    match tokio::time::timeout(AGENT_TIMEOUT, client.metrics(MetricsRequest {})).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
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

fn node_row(
    node: &Value,
    reading: &Result<NodeMetrics, String>,
    instances: &[InstanceFacts],
) -> NodeUsage {
    let name = node
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let placed: Vec<&InstanceFacts> = instances
        .iter()
        .filter(|f| f.node.as_deref() == Some(name))
        .collect();
    match reading {
        Ok(metrics) => NodeUsage {
            sampled_at_millis: metrics.sampled_at_millis,
            ..node_usage(node, &placed, &metrics.instances)
        },
        Err(why) => NodeUsage {
            unavailable: why.clone(),
            ..node_usage(node, &placed, &[])
        },
    }
}
