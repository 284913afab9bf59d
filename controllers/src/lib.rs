//! minicloud's controllers: the loops that turn desired state in the API server into running
//! containers on nodes, and the small runtime they run on.
//!
//! - [`app`]: App → Releases → Instances, and App.status.
//! - [`scheduler`]: binds Instances to Nodes with room for them.
//! - [`nodesync`]: per Node, desired Instances vs the agent's observed state → a plan → the
//!   agent; observed state back into Instance.status; cleanup of orphans and finalizers.
//! - [`storage`]: Volumes bound and provisioned, Snapshots taken on demand and on schedule,
//!   retention, in-place restores, and reclaim policies on delete.
//! - [`alerts`]: the tenant's alert webhook hears of Instances whose probes keep failing.
//! - [`agent`]: the NodeAgent API as node sync calls it, behind a trait with a recording fake.
//! - [`runtime`]: watch-fed caches, a deduplicating work queue, backoff, the driver, and the
//!   reconcile history (sent to the API server by `reconcile_history`).
//!
//! Every reconcile is level-triggered and idempotent: stopping the process at any point and
//! starting it again converges to the desired state.

pub mod agent;
pub mod alerts;
pub mod app;
pub mod client;
mod condition;
mod config;
pub mod error;
mod finalizer;
#[cfg(test)]
mod fixtures;
mod hash;
mod instance_status;
pub mod labels;
pub mod nodesync;
pub mod object;
mod reconcile_history;
pub mod runtime;
pub mod scheduler;
pub mod storage;
mod time;

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use config::{ControllersConfig, IngressAddress};
pub use error::{Error, Result};

use agent::{AgentConnector, GrpcConnector};
use client::ApiClient;
use minicloud_proto::bearer::Bearer;
use runtime::{Cache, ControllerMetrics, ControllerOptions, reflect};

/// Runs every controller against the API server until `shutdown`, reaching node agents over
/// gRPC at their Nodes' `spec.agentEndpoint`.
pub async fn run(config: ControllersConfig, shutdown: CancellationToken) -> Result<()> {
    let bearer = Bearer::new(config.api_key.as_deref())
        .map_err(|_| Error::Connect(client::ClientError::InvalidKey))?;
    run_with_agents(config, Arc::new(GrpcConnector::new(bearer)), shutdown).await
}

/// Runs every controller, reaching node agents through `agents` (tests pass a fake).
pub async fn run_with_agents(
    config: ControllersConfig,
    agents: Arc<dyn AgentConnector>,
    shutdown: CancellationToken,
) -> Result<()> {
    let client = ApiClient::connect_lazy(&config.api_url, config.api_key.as_deref())
        .map_err(Error::Connect)?;
    let (apps, releases, instances, nodes) =
        (Cache::new(), Cache::new(), Cache::new(), Cache::new());
    let (volumes, snapshots) = (Cache::new(), Cache::new());
    let mut tasks = JoinSet::new();
    tasks.spawn(reflect(client.clone(), apps.clone(), shutdown.clone()));
    tasks.spawn(reflect(client.clone(), releases.clone(), shutdown.clone()));
    tasks.spawn(reflect(client.clone(), instances.clone(), shutdown.clone()));
    tasks.spawn(reflect(client.clone(), nodes.clone(), shutdown.clone()));
    tasks.spawn(reflect(client.clone(), volumes.clone(), shutdown.clone()));
    tasks.spawn(reflect(client.clone(), snapshots.clone(), shutdown.clone()));
    let metrics = ControllerMetrics::default();
    metrics.register(&config.metrics);
    let options = ControllerOptions {
        workers: config.workers,
        resync: config.resync,
        metrics,
        ..ControllerOptions::default()
    };
    let history: Arc<dyn runtime::HistorySink> =
        Arc::new(reconcile_history::ApiHistory::spawn(client.clone()));
    let apps = app::controller(&apps, &releases, &instances, options.clone()).records_history(
        history,
        |key: &object::ObjectKey| runtime::Subject {
            kind: "App",
            tenant: key.tenant.clone(),
            name: key.name.clone(),
        },
    );
    let ctx = Arc::new(app::AppContext {
        client: client.clone(),
        ingress: config.ingress.clone(),
    });
    tasks.spawn(apps.run(ctx, app::reconcile, shutdown.clone()));
    let storage = Arc::new(storage::StorageContext::new(client.clone(), agents.clone()));
    let volume_controller =
        storage::volumes::controller(&volumes, &snapshots, &nodes, options.clone());
    tasks.spawn(volume_controller.run(
        storage.clone(),
        storage::volumes::reconcile,
        shutdown.clone(),
    ));
    let snapshot_controller = storage::snapshots::controller(&snapshots, &volumes, options.clone());
    tasks.spawn(snapshot_controller.run(storage, storage::snapshots::reconcile, shutdown.clone()));
    let scheduler = scheduler::controller(&nodes, &instances, &volumes, options.clone());
    let ctx = Arc::new(scheduler::SchedulerContext {
        client: client.clone(),
    });
    tasks.spawn(scheduler.run(ctx, scheduler::reconcile, shutdown.clone()));
    let alert_controller = alerts::controller(&instances, options.clone());
    let ctx = Arc::new(alerts::AlertContext::new(client.clone(), instances.clone()));
    tasks.spawn(alert_controller.run(ctx, alerts::reconcile, shutdown.clone()));
    let nodesync = nodesync::controller(&nodes, &instances, &volumes, options);
    let ctx = nodesync::context(client, agents, nodesync.queue(), shutdown.clone());
    tasks.spawn(nodesync.run(Arc::new(ctx), nodesync::reconcile, shutdown.clone()));
    tracing::info!(api = %config.api_url, "controllers running");
    while tasks.join_next().await.is_some() {}
    Ok(())
}
