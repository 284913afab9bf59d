//! Health history and alerts end to end: an App whose probe path can be removed and put back
//! inside its container (`/tmp/www/ok`), so the same instance passes, fails for a while, and
//! recovers. What the tests read: `mini health`, `mini events`, the Instance's conditions and
//! a webhook receiver on 127.0.0.1 that checks each alert's HMAC-SHA256 signature.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::receiver::Webhook;
use crate::world::World;
use crate::{docker, eventually};

/// The signing key the tests' tenant keeps in its Secret.
const SIGNING_KEY: &str = "alert-signing-key-1";

impl World {
    /// Applies App `name`, whose check passes while `/tmp/www/ok` exists in its container.
    fn apply_toggled_app(&self, name: &str) {
        let manifest = format!(
            "apiVersion: minicloud/v1
kind: App
metadata:
  name: {name}
  tenant: {tenant}
spec:
  image: hello:1
  command: [\"sh\", \"-c\", \"mkdir -p /tmp/www && echo ok > /tmp/www/ok && exec httpd -f -p 8080 -h /tmp/www\"]
  ports: [{{name: http, port: 8080}}]
  healthCheck:
    http: {{path: /ok, port: http}}
    periodSeconds: 1
    failureThreshold: 60
",
            tenant = self.tenant
        );
        self.apply(&manifest);
    }

    /// Runs `script` in the tenant's one container.
    fn exec(&self, script: &str) {
        let containers = docker::containers(&self.tenant);
        let [id] = containers.as_slice() else {
            panic!("expected one container: {containers:?}");
        };
        docker::docker(&["exec", id, "sh", "-c", script]);
    }

    /// The one Instance's condition of `type_`, if it has one.
    fn instance_condition(&self, type_: &str) -> Result<Value, String> {
        let instances = self.objects("instances");
        let [instance] = instances.as_slice() else {
            return Err(format!("instances: {instances:?}"));
        };
        let conditions = instance["status"]["conditions"].as_array();
        conditions
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_)
            .cloned()
            .ok_or_else(|| format!("no {type_} condition: {instance}"))
    }

    /// Waits until the one Instance of `app` is ready.
    fn wait_ready(&self, app: &str) {
        eventually(&format!("{app} is ready"), || {
            let ready = self.instance_condition("Ready")?;
            (ready["status"] == "True")
                .then_some(())
                .ok_or_else(|| ready.to_string())
        });
    }
}

/// Whether `signature` (`sha256=<hex>`) is `body` signed with [`SIGNING_KEY`].
fn signed(body: &[u8], signature: &str) -> bool {
    let Some(hex) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Some(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

#[test]
fn a_webhook_alert_arrives_signed_after_repeated_health_failures() {
    let world = World::start(&["--health-alert-after", "3"]);
    let webhook = Webhook::start(vec![500, 200]);
    let tenant = &world.tenant;
    world.server.run(&["tenant", "create", tenant]).ok();
    world.apply(&format!(
        "apiVersion: minicloud/v1
kind: Secret
metadata: {{name: alerts, tenant: {tenant}}}
data: {{hmac: {SIGNING_KEY}}}
---
apiVersion: minicloud/v1
kind: Tenant
metadata: {{name: {tenant}}}
spec:
  alerts:
    webhook:
      url: http://{address}/minicloud?token=t1
      secret: {{name: alerts, key: hmac}}
",
        address = webhook.address
    ));
    world.apply_toggled_app("web");
    world.wait_ready("web");
    world.exec("rm /tmp/www/ok");

    let first = webhook
        .next(Duration::from_secs(60))
        .expect("an alert within a minute of the failures");
    let retried = webhook
        .next(Duration::from_secs(30))
        .expect("the alert delivered again after the 500");
    assert_eq!((first.answered, retried.answered), (500, 200));
    assert_eq!(first.body, retried.body, "a retry sends the same alert");
    let signature = &retried.headers["x-minicloud-signature"];
    assert!(
        signed(&retried.body, signature),
        "{signature} does not sign the body"
    );
    assert!(!signed(b"{}", signature));
    assert_eq!(retried.headers["content-type"], "application/json");
    let alert: Value = serde_json::from_slice(&retried.body).unwrap();
    assert_eq!(alert["type"], "HealthAlert", "{alert}");
    assert_eq!(alert["status"], "firing", "{alert}");
    assert_eq!(alert["reason"], "RepeatedHealthFailures", "{alert}");
    assert_eq!(alert["tenant"], tenant.as_str(), "{alert}");
    assert_eq!(alert["app"], "web", "{alert}");
    let message = alert["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("3 health probes failed in a row since ")
            && message.ends_with(": HTTP 404"),
        "{alert}"
    );

    let delivered = eventually("the delivery is recorded", || {
        let delivered = world.instance_condition("AlertDelivered")?;
        (delivered["status"] == "True")
            .then_some(delivered.clone())
            .ok_or_else(|| delivered.to_string())
    });
    assert_eq!(delivered["reason"], "WebhookDelivered", "{delivered}");
    let message = delivered["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("(attempt 2)") && !message.contains("token"),
        "{delivered}"
    );
    let events = world
        .server
        .run(&["events", "--for", "app/web", "-t", tenant])
        .ok();
    let unhealthy: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("Healthy=False"))
        .collect();
    assert_eq!(unhealthy.len(), 1, "one event per episode: {events}");
    assert!(unhealthy[0].contains("RepeatedHealthFailures"), "{events}");

    world.exec("echo ok > /tmp/www/ok");
    let resolved = webhook
        .next(Duration::from_secs(60))
        .expect("a resolved alert once the probe passes again");
    let alert: Value = serde_json::from_slice(&resolved.body).unwrap();
    assert_eq!(
        (alert["status"].as_str(), alert["reason"].as_str()),
        (Some("resolved"), Some("HealthRecovered")),
        "{alert}"
    );
    assert!(signed(
        &resolved.body,
        &resolved.headers["x-minicloud-signature"]
    ));
    eventually("the recovery is an event", || {
        let events = world
            .server
            .run(&["events", "--for", "app/web", "-t", tenant])
            .ok();
        events
            .lines()
            .any(|l| l.contains("Healthy=True") && l.contains("HealthRecovered"))
            .then_some(())
            .ok_or(events)
    });
    assert!(
        webhook.next(Duration::from_secs(3)).is_none(),
        "nothing more is sent while the instance stays healthy"
    );
}

#[test]
fn the_health_history_shows_passing_and_failing_probes_with_latencies() {
    let world = World::start(&[]);
    let tenant = &world.tenant;
    world.server.run(&["tenant", "create", tenant]).ok();
    world.apply_toggled_app("web");
    world.wait_ready("web");
    world.exec("rm /tmp/www/ok");
    let history = eventually("the history shows failed probes after passing ones", || {
        let out = world
            .server
            .run(&["health", "web", "-t", tenant, "-o", "json"])
            .ok();
        let history: Value = serde_json::from_str(&out).map_err(|e| format!("{e}: {out}"))?;
        let probes = history["instances"][0]["probes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let failed = probes.iter().filter(|p| p["ok"] == false).count();
        (failed >= 2 && probes.iter().any(|p| p["ok"] == true))
            .then_some(history.clone())
            .ok_or(out)
    });
    let instance = &history["instances"][0];
    let probes = instance["probes"].as_array().unwrap();
    let passed = probes.iter().find(|p| p["ok"] == true).unwrap();
    assert_eq!(passed["statusCode"], 200, "{passed}");
    assert_eq!(passed["message"], "HTTP 200", "{passed}");
    let failed = probes.iter().rev().find(|p| p["ok"] == false).unwrap();
    assert_eq!(failed["statusCode"], 404, "{failed}");
    assert!(
        probes.iter().all(|p| p["latencyMicros"].as_u64() > Some(0)),
        "{instance}"
    );
    let summary = &instance["summary"];
    let rate = summary["passRate"].as_f64().unwrap();
    assert!(rate > 0.0 && rate < 100.0, "{summary}");
    assert_eq!(summary["lastFailure"]["statusCode"], 404, "{summary}");

    let table = world.server.run(&["health", "web", "-t", tenant]).ok();
    let first = table.lines().next().unwrap_or_default();
    assert!(
        first.contains("passed (") && first.contains("last failure"),
        "{table}"
    );
    assert!(
        table.contains("TIME") && table.contains("LATENCY"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("fail") && l.contains("404")),
        "{table}"
    );

    let other = crate::world::unique("t");
    let created = world.server.run(&["tenant", "create", &other]).ok();
    let other_key = created.lines().nth(1).expect("the key line").to_owned();
    let mut command = world.server.command(&["health", "web", "-t", tenant]);
    command.env("MINI_KEY", other_key);
    let refused = crate::support::run(command);
    assert!(
        !refused.status.success() && refused.stderr.contains("not found"),
        "another tenant's key finds no such App: {}",
        refused.stderr
    );
}
