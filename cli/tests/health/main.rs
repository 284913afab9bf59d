//! Health checks end to end against the real Docker Engine: a `mini server` child process
//! (API, controllers and agent in one) probes an App's instances, and what the probes find
//! reaches the Instances, the App's ready count and `mini describe app`; the probes' history
//! reaches `mini health`, and repeated failures the tenant's alert webhook. Each test works in a
//! tenant of its own on a node of its own, and removes every Docker object of that tenant when
//! it ends.

// Shared with the other end-to-end tests, which use parts these tests do not.
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "../reconcile/docker.rs"]
mod docker;
#[allow(dead_code)]
#[path = "../reconcile/world.rs"]
mod world;

mod alerts;
mod receiver;

use std::time::Duration;

use serde_json::Value;

use world::World;

/// How long the system may take to show what a test expects.
const DEADLINE: Duration = Duration::from_secs(60);

impl World {
    /// Applies App `name` serving the example image, checked on `path` every second.
    fn apply_checked_app(&self, name: &str, path: &str) {
        let manifest = format!(
            "apiVersion: minicloud/v1
kind: App
metadata:
  name: {name}
  tenant: {tenant}
spec:
  image: hello:1
  replicas: 1
  command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]
  ports: [{{name: http, port: 8080}}]
  healthCheck:
    http: {{path: {path}, port: http}}
    periodSeconds: 1
    failureThreshold: 2
",
            tenant = self.tenant
        );
        self.apply(&manifest);
    }

    /// This tenant's objects of a kind, as JSON.
    fn objects(&self, kind: &str) -> Vec<Value> {
        let out = self
            .server
            .run(&["get", kind, "-t", &self.tenant, "-o", "json"])
            .ok();
        let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// `mini describe app NAME`.
    fn describe_app(&self, name: &str) -> String {
        self.server
            .run(&["describe", "app", name, "-t", &self.tenant])
            .ok()
    }
}

/// Polls `check` until it returns `Ok`, failing with `what` and the last `Err` (what was seen
/// instead) after [`DEADLINE`].
fn eventually<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    world::poll(what, DEADLINE, check)
}

/// The only Instance of the world, and its `Ready` condition.
fn instance_and_ready(world: &World) -> Result<(Value, Value), String> {
    let instances = world.objects("instances");
    let [instance] = instances.as_slice() else {
        return Err(format!("instances: {instances:?}"));
    };
    let conditions = instance["status"]["conditions"].as_array();
    let ready = conditions
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .ok_or_else(|| format!("no Ready condition: {instance}"))?;
    Ok((instance.clone(), ready))
}

/// The `Events:` section of a description.
fn events(description: &str) -> &str {
    description.split("Events:\n").nth(1).unwrap_or_default()
}

#[test]
fn a_failing_health_check_keeps_the_app_unready_says_why_and_restarts_the_container() {
    let world = World::start(&[]);
    world.apply_checked_app("web", "/missing");
    let (instance, ready) = eventually("the instance fails its health check", || {
        let (instance, ready) = instance_and_ready(&world)?;
        // Right after each start the first probe may find the port closed still.
        let failed = instance["status"]["phase"] == "Running"
            && ready["status"] == "False"
            && ready["reason"] == "HealthCheckFailed"
            && ready["message"] == "health check failed: HTTP 404";
        failed
            .then(|| (instance.clone(), ready.clone()))
            .ok_or_else(|| format!("instance: {instance}"))
    });
    assert_eq!(instance["status"]["ready"], false);
    assert_eq!(instance["status"]["message"], ready["message"]);
    let app = &world.objects("apps")[0];
    assert_eq!(app["status"]["replicas"], 1, "{app}");
    assert_eq!(app["status"]["readyReplicas"], 0, "{app}");
    let description = eventually("describe shows the failed check", || {
        let description = world.describe_app("web");
        let shown = events(&description).lines().any(|line| {
            line.contains("instance/")
                && line.contains("Ready=False")
                && line.contains("HealthCheckFailed")
                && line.contains("health check failed: HTTP 404")
        });
        shown.then_some(description.clone()).ok_or(description)
    });
    assert!(description.contains("Ready"), "{description}");
    eventually("the failing container is restarted in place", || {
        let (instance, _) = instance_and_ready(&world)?;
        let restarts = instance["status"]["restarts"].as_u64().unwrap_or_default();
        let same = instance["status"]["containerId"] == instance_container(&world);
        (restarts >= 1 && same)
            .then_some(())
            .ok_or_else(|| format!("instance: {instance}"))
    });
    let app = &world.objects("apps")[0];
    assert_eq!(app["status"]["readyReplicas"], 0, "{app}");
}

/// The id of the one container of the world's tenant, as the Instance reports it.
fn instance_container(world: &World) -> Value {
    let containers = docker::containers(&world.tenant);
    let [short] = containers.as_slice() else {
        return Value::Null;
    };
    let full = docker::inspect(short, "{{.Id}}");
    Value::String(full)
}

#[test]
fn a_passing_health_check_makes_the_app_ready_and_describe_says_so() {
    let world = World::start(&[]);
    world.apply_checked_app("web", "/healthz");
    eventually("the app has a ready replica", || {
        let apps = world.objects("apps");
        let ready = apps
            .first()
            .is_some_and(|app| app["status"]["readyReplicas"] == 1);
        ready.then_some(()).ok_or_else(|| format!("apps: {apps:?}"))
    });
    let (instance, ready) = instance_and_ready(&world).unwrap();
    assert_eq!(instance["status"]["ready"], true);
    assert_eq!(
        (&ready["status"], &ready["reason"], &ready["message"]),
        (
            &Value::from("True"),
            &Value::from("HealthCheckPassed"),
            &Value::from("HTTP 200")
        )
    );
    let description = world.describe_app("web");
    assert!(
        events(&description)
            .lines()
            .any(|line| line.contains("Ready=True") && line.contains("HealthCheckPassed")),
        "{description}"
    );
}
