//! The app controller: each App gets a new Release whenever its spec (or its restart
//! annotation) changes, Instances of its current Release replace the others within its update
//! strategy's bounds, a Release that does not become available within the progress deadline is
//! rolled back, and the App's status tells how far all that is.
//!
//! Every reconcile reads the App, its Releases and its Instances from the API server, not from
//! a cache, so a stale cache can never make it create duplicates; Instance names are random,
//! and counting is by ownership, so a restart mid-way converges to exactly `replicas`.

mod decide;
mod instances;
mod marks;
mod objects;
mod progress;
mod revise;
mod rollout;
mod status;
mod strategy;

use std::sync::Arc;
use std::time::SystemTime;

use minicloud_manifests::{App, AppStatus, Instance, Release, Volume};

use crate::IngressAddress;
use crate::client::{ApiClient, TenantScope};
use crate::error::{Result, api};
use crate::labels;
use crate::object::{ObjectKey, is_deleting};
use crate::runtime::{Action, Cache, Controller, ControllerOptions, note};
use crate::storage::exclusive_volume;
use decide::{Decision, decide};
use instances::live_instances;
use status::app_status;

pub use marks::is_failed;
pub use objects::{RESTARTED_AT, release_hash};
pub use progress::{Progress, progress};
pub use revise::{UndoError, restarted, undo_target, with_release};

/// What the app controller's reconciles share.
#[derive(Clone, Debug)]
pub struct AppContext {
    /// The resource API.
    pub client: ApiClient,
    /// Where the ingress serves apps, for App.status.url; `None`: apps get no URL.
    pub ingress: Option<IngressAddress>,
}

/// The app controller, following Apps and what they own.
pub fn controller(
    apps: &Cache<App>,
    releases: &Cache<Release>,
    instances: &Cache<Instance>,
    options: ControllerOptions,
) -> Controller<ObjectKey> {
    let owner = |tenant: &Option<String>, app: &str| vec![ObjectKey::new(tenant.as_deref(), app)];
    Controller::new("app", options)
        .watches(apps, |app: &App| vec![ObjectKey::of(app)])
        .watches(releases, move |r: &Release| {
            owner(&r.metadata.tenant, &r.spec.app)
        })
        .watches(instances, move |i: &Instance| {
            owner(&i.metadata.tenant, &i.spec.app)
        })
}

/// Moves one App a step toward its spec and records its status.
pub async fn reconcile(key: ObjectKey, ctx: Arc<AppContext>) -> Result<Action> {
    let client = &ctx.client;
    let app = client
        .get_opt::<App>(&key)
        .await
        .map_err(api("read the App"))?;
    let Some(app) = app.filter(|app| !is_deleting(&app.metadata)) else {
        return Ok(Action::Done);
    };
    let scope = TenantScope::One(key.tenant.clone().unwrap_or_default());
    let selector = format!("{}={}", labels::APP, key.name);
    let releases = client.list::<Release>(&scope, &selector).await;
    let releases = releases.map_err(api("list the App's Releases"))?.items;
    let mut instances = list_instances(client, &scope, &selector).await?;
    let volumes = client.list::<Volume>(&scope, "").await;
    let volumes = volumes.map_err(api("list the tenant's Volumes"))?.items;
    let exclusive = exclusive_volume(&app, &volumes);
    let decision = decide(
        &app,
        &releases,
        &instances,
        exclusive.as_deref(),
        SystemTime::now(),
    );
    if execute(client, &app, &decision).await? {
        instances = list_instances(client, &scope, &selector).await?;
    }
    let live = live_instances(&app, &instances);
    let url = ctx
        .ingress
        .as_ref()
        .and_then(|ingress| ingress.url_of(&app));
    let status = AppStatus {
        url,
        ..app_status(&app, &decision, &live, SystemTime::now())
    };
    if app.status.as_ref() != Some(&status) {
        let summary = format!(
            "wrote status: {} instances, {} ready",
            status.replicas, status.ready_replicas
        );
        let mut updated = app;
        updated.status = Some(status);
        client
            .update_status(&updated)
            .await
            .map_err(api("write the App's status"))?;
        note(summary);
    }
    Ok(match decision.rollout.recheck_after {
        Some(after) => Action::RequeueAfter(after),
        None => Action::Done,
    })
}

async fn list_instances(
    client: &ApiClient,
    scope: &TenantScope,
    selector: &str,
) -> Result<Vec<Instance>> {
    let listing = client.list::<Instance>(scope, selector).await;
    Ok(listing.map_err(api("list the App's Instances"))?.items)
}

/// Carries out a decision — Release marks first, so that a rollback is on record before any
/// Instance changes for it; returns whether any Instance changed.
async fn execute(client: &ApiClient, app: &App, decision: &Decision) -> Result<bool> {
    let rollout = &decision.rollout;
    for marked in &rollout.marks {
        client
            .update_status(marked)
            .await
            .map_err(api("record how a Release's rollout went"))?;
        note(format!("marked Release {}", marked.metadata.name));
    }
    if rollout.create {
        client
            .apply(&rollout.current)
            .await
            .map_err(api("create a Release"))?;
        note(format!("created Release {}", rollout.current.metadata.name));
    }
    for _ in 0..decision.create_instances {
        let instance = objects::instance(app, &rollout.current, &objects::random_suffix());
        client
            .apply(&instance)
            .await
            .map_err(api("create an Instance"))?;
        note(format!("created Instance {}", instance.metadata.name));
    }
    for name in &decision.delete_instances {
        let key = ObjectKey::new(app.metadata.tenant.as_deref(), name);
        match client.delete::<Instance>(&key, None).await {
            Ok(_) => note(format!("deleted Instance {name}")),
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(api("delete an Instance")(error)),
        }
    }
    Ok(decision.create_instances > 0 || !decision.delete_instances.is_empty())
}
