//! The alert controller: when an Instance's `Healthy` condition moves (node sync sets it from
//! the agent's health alerts: an episode of failed probes began, or ended), the tenant's
//! webhook (`spec.alerts.webhook` of its Tenant) gets one signed POST; `status.alertedAt`
//! records the move it heard of, so each is sent once, across restarts too. Deliveries go
//! through a bounded queue ([`delivery`]) and never hold up a reconcile; the outcome is the
//! Instance's `AlertDelivered` condition (`WebhookDelivered`, or `WebhookFailed` after the
//! retries), which `mini events` shows. A tenant without a webhook just has the move recorded.

mod delivery;
mod due;
mod signature;

use std::sync::Arc;

use minicloud_manifests::{Instance, Tenant};

use crate::client::ApiClient;
use crate::condition::{self, Decided};
use crate::error::{Result, api};
use crate::object::ObjectKey;
use crate::runtime::{Action, Cache, Controller, ControllerOptions};
use crate::{instance_status, time};
use delivery::{Delivered, Deliveries, Finish, HttpPoster, Job, RETRY_DELAYS, origin};
use due::{Alert, body, due};

pub use signature::{SIGNATURE_HEADER, sign};

/// The condition telling how the latest alert's delivery went.
const ALERT_DELIVERED: &str = "AlertDelivered";

/// What the alert controller's reconciles share.
pub struct AlertContext {
    client: ApiClient,
    instances: Cache<Instance>,
    deliveries: Deliveries,
}

impl AlertContext {
    /// Reads and records through `client`, delivering over HTTP. Must be called within a
    /// tokio runtime.
    pub fn new(client: ApiClient, instances: Cache<Instance>) -> AlertContext {
        let recorder = client.clone();
        let finish: Finish = Arc::new(move |job, delivered| {
            let client = recorder.clone();
            Box::pin(async move { record(&client, &job, &delivered).await })
        });
        let deliveries =
            Deliveries::spawn(Arc::new(HttpPoster::new()), RETRY_DELAYS.to_vec(), finish);
        AlertContext {
            client,
            instances,
            deliveries,
        }
    }
}

/// The alert controller, following Instances.
pub fn controller(
    instances: &Cache<Instance>,
    options: ControllerOptions,
) -> Controller<ObjectKey> {
    Controller::new("alerts", options).watches(instances, |i: &Instance| vec![ObjectKey::of(i)])
}

/// Queues the alert the Instance at `key` is due, if any.
pub async fn reconcile(key: ObjectKey, ctx: Arc<AlertContext>) -> Result<Action> {
    let cached = ctx.instances.get(&key);
    let Some(alert) = cached.as_deref().and_then(due) else {
        return Ok(Action::Done);
    };
    if ctx.deliveries.is_pending(&alert.id) {
        return Ok(Action::Done);
    }
    // The cache may not show a status just written; the API does.
    let fresh = ctx.client.get_opt::<Instance>(&key).await;
    let fresh = fresh.map_err(api("read the Instance"))?;
    let Some(alert) = fresh.as_ref().and_then(due) else {
        return Ok(Action::Done);
    };
    let tenant_key = ObjectKey::new(None, &alert.tenant);
    let tenant = ctx.client.get_opt::<Tenant>(&tenant_key).await;
    let webhook = tenant
        .map_err(api("read the Tenant"))?
        .and_then(|t| t.spec.alerts)
        .map(|alerts| alerts.webhook);
    let Some(webhook) = webhook else {
        instance_status::update(&ctx.client, &key, |i| alerted(i, &alert.at, None))
            .await
            .map_err(api("record that no webhook is set"))?;
        return Ok(Action::Done);
    };
    let secret = &webhook.secret;
    let signing_key = match ctx.client.resolve_secret(&alert.tenant, &secret.name).await {
        Ok(mut values) => values.remove(&secret.key),
        Err(error) if error.is_not_found() => None,
        Err(error) => return Err(api("read the webhook's signing key")(error)),
    };
    let Some(signing_key) = signing_key else {
        let error = format!(
            "the signing key {:?} of Secret {:?} does not exist; create it",
            secret.key, secret.name
        );
        let gave_up = Delivered::GaveUp { attempts: 0, error };
        let job = job(&key, &alert, &webhook.url, Vec::new());
        record(&ctx.client, &job, &gave_up).await;
        return Ok(Action::Done);
    };
    let job = job(&key, &alert, &webhook.url, signing_key.into_bytes());
    ctx.deliveries.send(job);
    Ok(Action::Done)
}

fn job(instance: &ObjectKey, alert: &Alert, url: &str, key: Vec<u8>) -> Job {
    Job {
        id: alert.id.clone(),
        url: url.to_owned(),
        key,
        body: body(alert),
        about: (instance.clone(), alert.at.clone()),
    }
}

/// Records in the Instance the delivery of `job` came to: `alertedAt` and the
/// `AlertDelivered` condition.
async fn record(client: &ApiClient, job: &Job, delivered: &Delivered) {
    let (key, at) = &job.about;
    let decided = match delivered {
        Delivered::Accepted { attempt } => Decided::yes(
            ALERT_DELIVERED,
            "WebhookDelivered",
            format!("delivered to {} (attempt {attempt})", origin(&job.url)),
        ),
        Delivered::GaveUp { attempts, error } => {
            tracing::warn!(delivery = %job.id, attempts, %error, "gave up delivering an alert");
            Decided::no(
                ALERT_DELIVERED,
                "WebhookFailed",
                format!(
                    "gave up delivering to {} after {attempts} attempts: {error}",
                    origin(&job.url)
                ),
            )
        }
    };
    let written =
        instance_status::update(client, key, |i| alerted(i, at, Some(decided.clone()))).await;
    if let Err(error) = written {
        tracing::warn!(delivery = %job.id, %error, "cannot record an alert's delivery");
    }
}

/// `instance`'s status with `alertedAt` at `at` and, when given, the delivery's condition.
fn alerted(
    instance: &Instance,
    at: &str,
    delivered: Option<Decided>,
) -> minicloud_manifests::InstanceStatus {
    let mut status = instance.status.clone().unwrap_or_default();
    status.alerted_at = Some(at.to_owned());
    if let Some(decided) = delivered {
        condition::set(
            &mut status.conditions,
            decided,
            &time::format(std::time::SystemTime::now()),
        );
    }
    status
}
