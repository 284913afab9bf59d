//! The ingress end to end against the real Docker Engine: a `mini server` child process (API,
//! controllers, agent and ingress) serves each App at `http://<app>.<tenant>.localhost:<port>`,
//! reached with curl exactly as a user would (curl resolves `*.localhost` to loopback). Each
//! test works in a tenant of its own on a node of its own and removes its Docker objects when it
//! ends, so the tests run in parallel safely.

// Shared with the e2e and reconcile tests, which use parts these tests do not.
#[allow(dead_code)]
#[path = "../reconcile/docker.rs"]
mod docker;
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;
// Shared with the reconcile tests, which restart the server and read its data directory.
#[allow(dead_code)]
#[path = "../reconcile/world.rs"]
mod world;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use world::World;

/// How long convergence may take before a test fails.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(60);

/// One test's platform: a [`World`] (`mini server` with its ingress on a free loopback port, a
/// tenant, and the cleanup of that tenant's containers) seen through its ingress.
struct Platform {
    tenant: String,
    ingress_port: u16,
    world: World,
}

impl Platform {
    fn start() -> Platform {
        let world = World::start(&[]);
        Platform {
            tenant: world.tenant.clone(),
            ingress_port: world.ingress.port(),
            world,
        }
    }

    /// Runs a `mini` client command against this server and returns its stdout.
    fn mini(&self, args: &[&str]) -> String {
        self.world.server.run(args).ok()
    }

    /// Applies an App of this tenant exposing its port `http` (8080) through the ingress.
    fn apply_app(&self, name: &str, replicas: u32, command: &str) {
        let tenant = &self.tenant;
        let manifest = format!(
            r#"apiVersion: minicloud/v1
kind: App
metadata: {{name: {name}, tenant: {tenant}}}
spec:
  image: hello:1
  replicas: {replicas}
  command: {command}
  ports: [{{name: http, port: 8080}}]
  ingress: {{port: http}}
"#
        );
        self.world.apply(&manifest);
    }

    /// This tenant's Instances of `app` that are ready.
    fn ready_instances(&self, app: &str) -> BTreeSet<String> {
        let out = self.mini(&["get", "instances", "-t", &self.tenant, "-o", "json"]);
        let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        let items = list["items"].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter(|i| i["spec"]["app"] == app && i["status"]["ready"] == true)
            .filter(|i| i["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// GETs `path` from `http://<app>.<tenant>.localhost:<ingress port>` with curl; returns the
    /// status code and body.
    fn get(&self, app: &str, path: &str) -> (u16, String) {
        let url = format!(
            "http://{app}.{tenant}.localhost:{port}{path}",
            tenant = self.tenant,
            port = self.ingress_port
        );
        let output = Command::new("curl")
            .args(["-sS", "--max-time", "5", "-w", "\n%{http_code}", &url])
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        let code = code.trim().parse().unwrap_or_else(|_| {
            panic!(
                "curl {url} gave no status: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (code, body.to_owned())
    }
}

/// Polls `check` until it returns `Ok`, failing with `what` and the last `Err` (what was seen
/// instead) after [`CONVERGE_TIMEOUT`].
fn eventually<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    world::poll(what, CONVERGE_TIMEOUT, check)
}

/// Serves `/www` plus `/id`, which holds the container's host name: its Instance's name.
const IDENTIFYING_HTTPD: &str = r#"["sh", "-c", "mkdir -p /tmp/www && cp -r /www/* /tmp/www/ && hostname > /tmp/www/id && exec httpd -f -p 8080 -h /tmp/www"]"#;
/// The image's own server.
const HTTPD: &str = r#"["httpd", "-f", "-p", "8080", "-h", "/www"]"#;

#[test]
fn an_app_is_reached_by_its_host_name() {
    let platform = Platform::start();
    platform.apply_app("web", 1, HTTPD);
    let page = eventually("the app answers through the ingress", || {
        match platform.get("web", "/") {
            (200, body) => Ok(body),
            (code, body) => Err(format!("{code} {body}")),
        }
    });
    assert!(page.contains("Hello from minicloud"), "{page}");
    let out = platform.mini(&["get", "app", "web", "-t", &platform.tenant, "-o", "json"]);
    let app: Value = serde_json::from_str(&out).expect("the App as JSON");
    let expected = format!(
        "http://web.{}.localhost:{}",
        platform.tenant, platform.ingress_port
    );
    assert_eq!(app["status"]["url"], expected.as_str(), "{out}");
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "5", &expected])
        .output()
        .expect("run curl");
    let body = String::from_utf8_lossy(&output.stdout);
    assert!(
        body.contains("Hello from minicloud"),
        "curl {expected}: {body}"
    );
}

#[test]
fn every_ready_replica_receives_traffic_and_scaling_moves_it() {
    let platform = Platform::start();
    platform.apply_app("web", 3, IDENTIFYING_HTTPD);
    let instances = eventually("three replicas are ready", || {
        let ready = platform.ready_instances("web");
        if ready.len() == 3 {
            Ok(ready)
        } else {
            Err(format!("{ready:?}"))
        }
    });
    eventually("each of the three replicas answers", || {
        let seen: BTreeSet<String> = (0..6)
            .map(|_| platform.get("web", "/id"))
            .filter(|(code, _)| *code == 200)
            .map(|(_, body)| body.trim().to_owned())
            .collect();
        (seen == instances)
            .then_some(())
            .ok_or_else(|| format!("{seen:?} of {instances:?}"))
    });
    platform.apply_app("web", 1, IDENTIFYING_HTTPD);
    let remaining = eventually("one replica remains", || {
        let ready = platform.ready_instances("web");
        if ready.len() == 1 {
            Ok(ready)
        } else {
            Err(format!("{ready:?}"))
        }
    });
    eventually("all traffic reaches the remaining replica", || {
        let seen: BTreeSet<String> = (0..4)
            .map(|_| platform.get("web", "/id"))
            .map(|(code, body)| format!("{code} {}", body.trim()))
            .collect();
        let expected: BTreeSet<String> =
            remaining.iter().map(|name| format!("200 {name}")).collect();
        (seen == expected)
            .then_some(())
            .ok_or_else(|| format!("{seen:?}"))
    });
}

#[test]
fn unknown_hosts_get_404_and_apps_without_ready_replicas_503() {
    let platform = Platform::start();
    platform.apply_app("idle", 0, HTTPD);
    let body = eventually("the idle app answers 503", || {
        match platform.get("idle", "/") {
            (503, body) => Ok(body),
            (code, body) => Err(format!("{code} {body}")),
        }
    });
    assert_eq!(
        body.trim(),
        format!(
            "app idle of tenant {} has no ready instance",
            platform.tenant
        )
    );
    let (code, body) = platform.get("nothing", "/");
    assert_eq!(code, 404, "{body}");
    assert_eq!(
        body.trim(),
        format!(
            "no app is served at nothing.{}.localhost:{}",
            platform.tenant, platform.ingress_port
        )
    );
}
