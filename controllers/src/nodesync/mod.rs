//! The node sync: per Node, the desired state (its Instances, their networks and volumes) is
//! compared with what its agent observes, the difference is applied as a plan, and what was
//! observed after the plan is written back to the Instances and the node's Volumes. A deleting
//! Instance's finalizer is removed once its container is gone. Containers started by a plan get
//! their Secret env values from the API.

mod desired;
mod healthy;
mod observe;
mod plan;
mod secret_env;
mod streams;
mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{Instance, Node, Snapshot, Volume};
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{ObservedContainer, ObservedState, Operation, Plan};

use crate::agent::{AgentClient, AgentConnector, AgentError};
use crate::client::{ApiClient, TenantScope};
use crate::error::{Error, Result, api};
use crate::finalizer::{holds_container_finalizer, release_container_finalizer};
use crate::labels::docker;
use crate::object::{ObjectKey, is_deleting};
use crate::runtime::{Action, Cache, Controller, ControllerOptions, WorkQueue};
use crate::storage::read_write_users;
use crate::{instance_status, time};

pub use desired::volume_id;
pub use healthy::HEALTHY;
pub use plan::{
    DRAIN_DELAY, Desired, DesiredInstance, DesiredVolume, GRACE_SECONDS, RESTART_DELAY, Step,
    VolumeId, plan, volume_of,
};
pub use streams::Streams;

/// What node sync reconciles share.
pub struct NodeSyncContext {
    /// The resource API.
    pub client: ApiClient,
    /// Finds each node's agent.
    pub agents: Arc<dyn AgentConnector>,
    /// The agent streams being followed.
    pub streams: Streams,
}

/// The most operations one reconcile sends to the agent. A larger plan (100 new containers) is
/// applied a part at a time, with the Instances' statuses written after each part, so users see
/// instances running as they start instead of when the last one has.
const MAX_OPERATIONS_PER_APPLY: usize = 16;

/// The node sync controller, keyed by node name, following Nodes, Instances and Volumes; agent streams
/// feed its queue too (see [`Streams`]).
pub fn controller(
    nodes: &Cache<Node>,
    instances: &Cache<Instance>,
    volumes: &Cache<Volume>,
    options: ControllerOptions,
) -> Controller<String> {
    Controller::new("nodesync", options)
        .watches(nodes, |node: &Node| vec![node.metadata.name.clone()])
        .watches(instances, |i: &Instance| {
            i.spec.node.iter().cloned().collect()
        })
        .watches(volumes, |v: &Volume| {
            v.status.iter().filter_map(|s| s.node.clone()).collect()
        })
}

/// The context for a node sync whose streams queue onto `queue`.
pub fn context(
    client: ApiClient,
    agents: Arc<dyn AgentConnector>,
    queue: WorkQueue<String>,
    shutdown: tokio_util::sync::CancellationToken,
) -> NodeSyncContext {
    NodeSyncContext {
        client,
        agents,
        streams: Streams::new(queue, shutdown),
    }
}

/// Brings one node to its desired state and records what it observed.
pub async fn reconcile(node: String, ctx: Arc<NodeSyncContext>) -> Result<Action> {
    let client = &ctx.client;
    let Some(agent) = agent_of(&ctx, &node).await? else {
        return Ok(Action::Done);
    };
    let (instances, volumes, snapshots) = read_objects(client, &node).await?;
    let observed = agent
        .observe()
        .await
        .map_err(|e| agent_failed("observe", &node, e))?;
    let writers = read_write_users(&observed);
    let state = desired::desired_state(&node, &instances, &volumes, &snapshots, &writers);
    let (desired, mut problems) = (state.desired, state.held_instances);
    let mut steps = plan(&desired, &observed, SystemTime::now());
    let more_to_do = steps.len() > MAX_OPERATIONS_PER_APPLY;
    steps.truncate(MAX_OPERATIONS_PER_APPLY);
    let ops = secret_env::fill(client, steps, &mut problems).await?;
    let applied = !ops.is_empty();
    let (failures, ensured) = execute(agent.as_ref(), &node, ops, &mut problems).await?;
    let observed = match applied {
        true => agent
            .observe()
            .await
            .map_err(|e| agent_failed("observe", &node, e))?,
        false => observed,
    };
    record(client, &instances, &observed, &problems).await?;
    let seen = volumes::Round {
        node: &node,
        observed: &observed,
        held: &state.held_volumes,
        ensured: &ensured,
    };
    volumes::record(client, &volumes, &seen).await?;
    release_finalizers(client, &instances, &observed).await?;
    if !failures.is_empty() {
        return Err(Error::PlanFailed { node, failures });
    }
    if more_to_do {
        return Ok(Action::RequeueAfter(Duration::ZERO));
    }
    let now = SystemTime::now();
    let draining = observed
        .containers
        .iter()
        .filter_map(|c| plan::drain_left(&desired, c, now))
        .min();
    let problems_left = !problems.is_empty() || !state.held_volumes.is_empty();
    Ok(match (draining, next_action(&observed, problems_left)) {
        (Some(left), Action::RequeueAfter(after)) => Action::RequeueAfter(left.min(after)),
        (Some(left), Action::Done) => Action::RequeueAfter(left),
        (None, action) => action,
    })
}

/// The agent of `node`, followed from now on; `None` when the node is gone or names no agent.
async fn agent_of(ctx: &NodeSyncContext, node: &str) -> Result<Option<Arc<dyn AgentClient>>> {
    let found = ctx
        .client
        .get_opt::<Node>(&ObjectKey::new(None, node))
        .await;
    let Some(found) = found.map_err(api("read the Node"))? else {
        ctx.streams.forget(node);
        return Ok(None);
    };
    match ctx.agents.connect(&found) {
        Ok(agent) => {
            ctx.streams.follow(&found, agent.clone());
            Ok(Some(agent))
        }
        Err(AgentError::NoEndpoint) => Ok(None),
        Err(source) => Err(agent_failed("connect", node, source)),
    }
}

/// The Instances bound to `node`, every Volume and every Snapshot.
async fn read_objects(
    client: &ApiClient,
    node: &str,
) -> Result<(Vec<Instance>, Vec<Volume>, Vec<Snapshot>)> {
    let instances = client.list::<Instance>(&TenantScope::All, "").await;
    let mut instances = instances.map_err(api("list Instances"))?.items;
    instances.retain(|i| i.spec.node.as_deref() == Some(node));
    let volumes = client.list::<Volume>(&TenantScope::All, "").await;
    let volumes = volumes.map_err(api("list Volumes"))?.items;
    let snapshots = client.list::<Snapshot>(&TenantScope::All, "").await;
    Ok((
        instances,
        volumes,
        snapshots.map_err(api("list Snapshots"))?.items,
    ))
}

/// Look again soon while containers are not all running (Docker may be restarting them) or
/// Instances or Volumes are held back; otherwise wait for a change.
fn next_action(observed: &ObservedState, held: bool) -> Action {
    let unsettled = observed
        .containers
        .iter()
        .filter(|c| c.labels.get(docker::MANAGED).is_some_and(|v| v == "true"))
        .any(|c| c.state != "running");
    match unsettled || held {
        true => Action::RequeueAfter(RESTART_DELAY),
        false => Action::Done,
    }
}

fn agent_failed(step: &'static str, node: &str, source: AgentError) -> Error {
    Error::Agent {
        step,
        node: node.into(),
        source,
    }
}

/// Applies the operations; returns a line per failed one and the size of each volume ensured,
/// and notes failed starts by uid.
async fn execute(
    agent: &dyn AgentClient,
    node: &str,
    operations: Vec<Operation>,
    problems: &mut HashMap<String, String>,
) -> Result<(Vec<String>, BTreeMap<VolumeId, u64>)> {
    let mut ensured = BTreeMap::new();
    if operations.is_empty() {
        return Ok((Vec::new(), ensured));
    }
    tracing::info!(%node, operations = operations.len(), "applying a plan");
    let plan = Plan { operations };
    let result = agent
        .apply(plan.clone())
        .await
        .map_err(|e| agent_failed("apply a plan", node, e))?;
    let mut failures = Vec::new();
    for (operation, outcome) in plan.operations.iter().zip(&result.results) {
        if outcome.ok {
            if let Some(Op::EnsureVolume(volume)) = &operation.op {
                let id = (volume.tenant.clone(), volume.name.clone());
                ensured.insert(id, volume.size_bytes);
            }
            continue;
        }
        if let Some(Op::StartInstance(start)) = &operation.op {
            problems.insert(start.instance_uid.clone(), outcome.error.clone());
        }
        failures.push(outcome.error.clone());
    }
    Ok((failures, ensured))
}

/// Writes each live Instance's observed status, where it changed.
async fn record(
    client: &ApiClient,
    instances: &[Instance],
    observed: &ObservedState,
    problems: &HashMap<String, String>,
) -> Result<()> {
    let now = time::format(SystemTime::now());
    for instance in instances.iter().filter(|i| !is_deleting(&i.metadata)) {
        let uid = instance.metadata.uid.clone().unwrap_or_default();
        let containers = containers_of(observed, &uid);
        let problem = problems.get(&uid).map(String::as_str);
        let status = observe::instance_status(instance, &containers, problem, &now);
        if instance.status.as_ref() == Some(&status) {
            continue;
        }
        instance_status::update(client, &ObjectKey::of(instance), |fresh| {
            observe::instance_status(fresh, &containers, problem, &now)
        })
        .await
        .map_err(api("write an Instance's status"))?;
    }
    Ok(())
}

/// Removes the container finalizer of deleting Instances whose container is gone.
async fn release_finalizers(
    client: &ApiClient,
    instances: &[Instance],
    observed: &ObservedState,
) -> Result<()> {
    let done = instances.iter().filter(|i| {
        let uid = i.metadata.uid.clone().unwrap_or_default();
        is_deleting(&i.metadata)
            && holds_container_finalizer(i)
            && containers_of(observed, &uid).is_empty()
    });
    for instance in done {
        release_container_finalizer(client, instance)
            .await
            .map_err(api("remove an Instance's finalizer"))?;
    }
    Ok(())
}

/// The managed containers labelled with instance `uid`.
fn containers_of<'a>(observed: &'a ObservedState, uid: &str) -> Vec<&'a ObservedContainer> {
    observed
        .containers
        .iter()
        .filter(|c| c.labels.get(docker::MANAGED).is_some_and(|v| v == "true"))
        .filter(|c| c.labels.get(docker::INSTANCE_UID).is_some_and(|u| u == uid))
        .collect()
}
