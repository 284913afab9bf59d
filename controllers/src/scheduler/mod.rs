//! The scheduler: binds every unbound Instance to a Ready node with room for it (the node of
//! its volumes), spreading each App's replicas; an Instance that fits nowhere, or whose volumes
//! are not bound and Ready yet, stays Pending with `Scheduled=False` and a message saying why.
//!
//! One pass places every unbound Instance at once, so replicas created together spread and
//! capacity is counted across them. Each pass reads Nodes and Instances from the API server
//! and binds with a compare-and-swap, so a stale view can never overcommit a node.

mod fit;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{Instance, InstancePhase, Node, Volume};

use crate::client::{ApiClient, TenantScope};
use crate::condition::{self, Decided};
use crate::error::{Error, Result, api};
use crate::finalizer::{holds_container_finalizer, release_container_finalizer};
use crate::object::{ObjectKey, is_deleting};
use crate::runtime::{Action, Cache, Controller, ControllerOptions};
use crate::{instance_status, time};
use fit::{Placement, schedule};

pub use fit::{HEARTBEAT_TIMEOUT, not_ready};

/// How soon unschedulable Instances are tried again without any change.
const UNSCHEDULABLE_RETRY: Duration = Duration::from_secs(30);

/// The one key of the scheduler: a pass over every unbound Instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchedulingPass;

/// What scheduling passes share.
#[derive(Clone, Debug)]
pub struct SchedulerContext {
    /// The resource API.
    pub client: ApiClient,
}

/// The scheduler, running a pass on every Node or Instance change.
pub fn controller(
    nodes: &Cache<Node>,
    instances: &Cache<Instance>,
    volumes: &Cache<Volume>,
    options: ControllerOptions,
) -> Controller<SchedulingPass> {
    Controller::new("scheduler", options)
        .watches(nodes, |_: &Node| vec![SchedulingPass])
        .watches(instances, |_: &Instance| vec![SchedulingPass])
        .watches(volumes, |_: &Volume| vec![SchedulingPass])
}

/// Places every unbound Instance, and lets go of deleting Instances no node will clean up.
pub async fn reconcile(_: SchedulingPass, ctx: Arc<SchedulerContext>) -> Result<Action> {
    let client = &ctx.client;
    let nodes = client.list::<Node>(&TenantScope::All, "").await;
    let nodes = nodes.map_err(api("list Nodes"))?.items;
    let instances = client.list::<Instance>(&TenantScope::All, "").await;
    let instances = instances.map_err(api("list Instances"))?.items;
    let volumes = client.list::<Volume>(&TenantScope::All, "").await;
    let volumes = volumes.map_err(api("list Volumes"))?.items;
    release_stranded(client, &nodes, &instances).await?;
    let mut first_error: Option<Error> = None;
    let mut waiting = false;
    for (key, placement) in schedule(&nodes, &instances, &volumes, SystemTime::now()) {
        let Some(instance) = instances.iter().find(|i| ObjectKey::of(*i) == key) else {
            continue;
        };
        let outcome = match placement {
            Placement::Bind(node) => bind(client, instance, node).await,
            Placement::Unschedulable(message) => {
                waiting = true;
                unschedulable(client, &key, message).await
            }
        };
        if let Err(error) = outcome {
            first_error.get_or_insert(error);
        }
    }
    match first_error {
        Some(error) => Err(error),
        None if waiting => Ok(Action::RequeueAfter(UNSCHEDULABLE_RETRY)),
        None => Ok(Action::Done),
    }
}

async fn bind(client: &ApiClient, instance: &Instance, node: String) -> Result<()> {
    let mut bound = instance.clone();
    bound.spec.node = Some(node.clone());
    client
        .apply(&bound)
        .await
        .map_err(api("bind an Instance"))?;
    let now = time::format(SystemTime::now());
    let message = format!("bound to node {node}");
    instance_status::update(client, &ObjectKey::of(instance), |current| {
        let mut status = current.status.clone().unwrap_or_default();
        condition::set(
            &mut status.conditions,
            Decided::yes("Scheduled", "Bound", &message),
            &now,
        );
        status
    })
    .await
    .map_err(api("record an Instance's binding"))
}

async fn unschedulable(client: &ApiClient, key: &ObjectKey, message: String) -> Result<()> {
    let now = time::format(SystemTime::now());
    instance_status::update(client, key, |current| {
        let mut status = current.status.clone().unwrap_or_default();
        status.phase = InstancePhase::Pending;
        status.message = message.clone();
        let decided = Decided::no("Scheduled", "Unschedulable", &message);
        condition::set(&mut status.conditions, decided, &now);
        status
    })
    .await
    .map_err(api("record that an Instance cannot be scheduled"))
}

/// Deleting Instances that are bound to no existing node have no container any node sync
/// would remove: their finalizer is removed here so they can go.
async fn release_stranded(
    client: &ApiClient,
    nodes: &[Node],
    instances: &[Instance],
) -> Result<()> {
    let on_a_node = |i: &Instance| {
        let node = i.spec.node.as_deref();
        nodes.iter().any(|n| Some(n.metadata.name.as_str()) == node)
    };
    let stranded = instances
        .iter()
        .filter(|i| is_deleting(&i.metadata) && !on_a_node(i) && holds_container_finalizer(i));
    for instance in stranded {
        release_container_finalizer(client, instance)
            .await
            .map_err(api("release a stranded Instance"))?;
    }
    Ok(())
}
