//! The app controller: each App gets a Release per distinct spec and Instances of its current
//! Release to match `replicas`; its status tells how far that is.
//!
//! Every reconcile reads the App, its Releases and its Instances from the API server, not from
//! a cache, so a stale cache can never make it create duplicates; Instance names are random,
//! and counting is by ownership, so a restart mid-way converges to exactly `replicas`.

mod decide;
mod objects;
mod status;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use minicloud_manifests::{App, Instance, Release};

use crate::client::{ApiClient, TenantScope};
use crate::error::{Result, api};
use crate::labels;
use crate::object::{ObjectKey, is_deleting};
use crate::runtime::{Action, Cache, Controller, ControllerOptions};
use decide::{Decision, decide, live_instances};
use status::{app_status, is_settled};

/// How soon an App is looked at again while its rollout is unfinished, so that a passed
/// progress deadline shows without any other change.
const ROLLOUT_RECHECK: Duration = Duration::from_secs(5);

/// What the app controller's reconciles share.
#[derive(Clone, Debug)]
pub struct AppContext {
    /// The resource API.
    pub client: ApiClient,
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
    let decision = decide(&app, &releases, &instances);
    if execute(client, &app, &decision).await? {
        instances = list_instances(client, &scope, &selector).await?;
    }
    let live = live_instances(&app, &instances);
    let status = app_status(
        &app,
        &decision.release.metadata.name,
        &live,
        SystemTime::now(),
    );
    let settled = is_settled(&status);
    if app.status.as_ref() != Some(&status) {
        let mut updated = app;
        updated.status = Some(status);
        client
            .update_status(&updated)
            .await
            .map_err(api("write the App's status"))?;
    }
    Ok(if settled {
        Action::Done
    } else {
        Action::RequeueAfter(ROLLOUT_RECHECK)
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

/// Carries out a decision; returns whether anything was written.
async fn execute(client: &ApiClient, app: &App, decision: &Decision) -> Result<bool> {
    if decision.create_release {
        client
            .apply(&decision.release)
            .await
            .map_err(api("create a Release"))?;
    }
    for _ in 0..decision.create_instances {
        let instance = objects::instance(app, &decision.release, &objects::random_suffix());
        client
            .apply(&instance)
            .await
            .map_err(api("create an Instance"))?;
    }
    for name in &decision.delete_instances {
        let key = ObjectKey::new(app.metadata.tenant.as_deref(), name);
        match client.delete::<Instance>(&key, None).await {
            Ok(_) => {}
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(api("delete an Instance")(error)),
        }
    }
    Ok(decision.create_release
        || decision.create_instances > 0
        || !decision.delete_instances.is_empty())
}
