//! Traffic through the ingress end to end against the real Docker Engine: a `mini server` child
//! process (API, controllers, agent and ingress) rolls an App to a new release under a steady
//! load of clients without one failed request, keeps every request on the old release while a
//! release that never passes its health check is rolled back, and tunnels a WebSocket to a
//! container. Clients speak plain HTTP/1.1 over TCP to the ingress's address with the App's
//! host name in `Host`; the App's server keeps connections alive, so the ingress holds pooled
//! connections to instances that are stopped under it. Each test works in a tenant of its own
//! on a node of its own and removes every Docker object of that tenant when it ends, so the
//! tests run in parallel safely.

// Shared with the other end-to-end tests, which use parts these tests do not.
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "../reconcile/docker.rs"]
mod docker;
// Shared with the reconcile tests, which restart the server and read its data directory.
#[allow(dead_code)]
#[path = "../reconcile/world.rs"]
mod world;

mod http;
mod servers;
mod websocket;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use http::{Load, Tally};
use support::Outcome;
use world::World;

/// How long convergence may take before a test fails.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `mini rollout status` follows a rollout before the test fails.
const ROLLOUT_TIMEOUT: &str = "150s";
/// Clients sending requests side by side during a rollout.
const CLIENTS: usize = 4;
/// Requests sent while a release changes, at least.
const MIN_ROLLOUT_REQUESTS: u64 = 2_000;
/// The progress deadline of releases that should roll out: long, as a loaded machine can be
/// slow to start containers.
const PATIENT_SECS: u32 = 600;
/// The progress deadline that fails a release that is not available.
const FAILING_SECS: u32 = 1;
/// Answers in a row the new release must give before a rollout counts as complete.
const SETTLED_ANSWERS: usize = 30;

impl World {
    /// Applies App `name` of this tenant: the example image with port `http` (8080) behind the
    /// ingress, ready once `GET /healthz` answers, plus `spec` (lines of `spec:`). The health
    /// check is patient, as a busy machine can be slow to start a server or to answer; its
    /// initial delay makes each step of a rollout last a few seconds under the load.
    fn apply_app(&self, name: &str, spec: &str) {
        let manifest = format!(
            "apiVersion: minicloud/v1
kind: App
metadata:
  name: {name}
  tenant: {tenant}
spec:
  image: hello:1
  ports: [{{name: http, port: 8080}}]
  ingress: {{port: http}}
  healthCheck:
    http: {{path: /healthz, port: http}}
    initialDelaySeconds: 2
    periodSeconds: 1
    timeoutSeconds: 5
    failureThreshold: 10
{spec}",
            tenant = self.tenant
        );
        self.apply(&manifest);
    }

    /// Applies App `web`: `replicas` of [`servers::KEEP_ALIVE_HTTP`] answering `version`, with
    /// `/healthz` passing only when `healthy`, and a progress deadline of `deadline` seconds.
    fn apply_web(&self, replicas: u32, version: &str, healthy: bool, deadline: u32) {
        let healthy = if healthy { "yes" } else { "no" };
        let env = [("VERSION", version), ("HEALTHY", healthy)];
        let spec = format!(
            "  replicas: {replicas}
  update: {{maxSurge: 1, maxUnavailable: 0, progressDeadlineSeconds: {deadline}}}
{}",
            servers::script_spec(servers::KEEP_ALIVE_HTTP, &env)
        );
        self.apply_app("web", &spec);
    }

    /// `Host` of App `app`, as a browser sends it.
    fn host(&self, app: &str) -> String {
        format!("{app}.{}.localhost:{}", self.tenant, self.ingress.port())
    }

    /// `mini rollout status APP`, given up after [`ROLLOUT_TIMEOUT`].
    fn rollout_status(&self, app: &str) -> Outcome {
        let mut command = self
            .server
            .command(&["rollout", "status", app, "-t", &self.tenant]);
        command.args(["--timeout", ROLLOUT_TIMEOUT]);
        let output = command.output().expect("run mini rollout status");
        Outcome {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// This tenant's Instances, as JSON.
    fn instances(&self) -> Vec<Value> {
        let out = self
            .server
            .run(&["get", "instances", "-t", &self.tenant, "-o", "json"])
            .ok();
        let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// The containers of `release`, running or not.
    fn containers_of(&self, release: &str) -> Vec<String> {
        let output = docker::docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=minicloud.tenant={}", self.tenant),
            "--filter",
            &format!("label=minicloud.release={release}"),
        ]);
        output.lines().map(str::to_owned).collect()
    }

    /// Waits until no container of `release` is left, running or not.
    fn wait_gone(&self, release: &str) {
        eventually(&format!("no container of {release} is left"), || {
            let left = self.containers_of(release);
            left.is_empty()
                .then_some(())
                .ok_or_else(|| format!("{left:?}"))
        });
    }

    /// Waits until `GET /` of App `web` gives `body` [`SETTLED_ANSWERS`] times in a row.
    fn wait_served_by(&self, body: &str) {
        let host = self.host("web");
        eventually(&format!("only {body:?} is served"), || {
            for _ in 0..SETTLED_ANSWERS {
                match http::get(self.ingress, &host, "/") {
                    Ok(answer) if answer.status == 200 && answer.body.trim() == body => {}
                    Ok(answer) => return Err(format!("{} {}", answer.status, answer.body)),
                    Err(error) => return Err(error.to_string()),
                }
            }
            Ok(())
        });
    }
}

/// Polls `check` until it returns `Ok`, failing with `what` and the last `Err` (what was seen
/// instead) after [`CONVERGE_TIMEOUT`].
fn eventually<T>(what: &str, check: impl FnMut() -> Result<T, String>) -> T {
    world::poll(what, CONVERGE_TIMEOUT, check)
}

/// Prints a load's tally for the record and fails the test on any failed request.
fn report(test: &str, during: u64, tally: &Tally) {
    println!(
        "{test}: {} requests ({during} while the release changed), {} failed, answers {:?}",
        tally.requests, tally.failures, tally.bodies
    );
    assert_eq!(
        tally.failures, 0,
        "{} of {} requests failed; the first: {:#?}",
        tally.failures, tally.requests, tally.failure_samples
    );
}

fn either_release(body: &str) -> bool {
    body == "v1" || body == "v2"
}

fn old_release(body: &str) -> bool {
    body == "v1"
}

#[test]
fn a_rolling_update_under_load_fails_no_request() {
    let world = World::start(&[]);
    world.apply_web(3, "v1", true, PATIENT_SECS);
    world.rollout_status("web").ok();
    world.wait_served_by("v1");

    let load = Load::start(world.ingress, &world.host("web"), CLIENTS, either_release);
    let before = load.requests();
    world.apply_web(3, "v2", true, PATIENT_SECS);
    let rolled = world.rollout_status("web").ok();
    assert!(
        rolled.ends_with("(release web-2 (revision 2))\n"),
        "{rolled}"
    );
    world.wait_gone("web-1");
    let during = load.requests() - before;
    assert_eq!(world.containers_of("web-2").len(), 3);
    world.wait_served_by("v2");
    let tally = load.stop();

    report("rolling update", during, &tally);
    assert!(
        during >= MIN_ROLLOUT_REQUESTS,
        "only {during} requests were sent while the release changed"
    );
    assert!(tally.bodies.contains_key("v2"), "{:?}", tally.bodies);
}

#[test]
fn a_release_that_never_passes_its_health_check_gets_no_traffic_and_is_rolled_back() {
    let world = World::start(&[]);
    world.apply_web(2, "v1", true, PATIENT_SECS);
    world.rollout_status("web").ok();
    world.wait_served_by("v1");
    let v1 = world.containers_of("web-1");

    let load = Load::start(world.ingress, &world.host("web"), CLIENTS, old_release);
    let before = load.requests();
    // A patient deadline first, so the broken release surely runs while the load goes on.
    world.apply_web(2, "v2", false, PATIENT_SECS);
    let address = eventually("an instance of web-2 runs", || {
        let instances = world.instances();
        instances
            .iter()
            .filter(|i| i["spec"]["release"] == "web-2" && i["status"]["phase"] == "Running")
            .find_map(|i| i["status"]["ip"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("{instances:?}"))
    });
    let direct: SocketAddr = format!("{address}:8080").parse().unwrap();
    eventually("web-2 answers at its own address", || {
        match http::get(direct, "web", "/") {
            Ok(answer) if answer.status == 200 && answer.body.trim() == "v2" => Ok(()),
            Ok(answer) => Err(format!("{} {}", answer.status, answer.body)),
            Err(error) => Err(error.to_string()),
        }
    });
    let answering = load.requests();
    eventually("the load goes on while web-2 runs", || {
        let sent = load.requests() - answering;
        (sent >= MIN_ROLLOUT_REQUESTS)
            .then_some(())
            .ok_or_else(|| format!("{sent} requests"))
    });

    // A deadline (in `update`, which makes no new release) that is long past by now.
    world.apply_web(2, "v2", false, FAILING_SECS);
    let failed = world.rollout_status("web");
    assert!(!failed.status.success(), "{}", failed.stdout);
    assert!(
        failed.stderr.contains(&format!(
            "release web-2 (revision 2) was not available within {FAILING_SECS} s"
        )) && failed
            .stderr
            .contains("rolled back to release web-1 (revision 1)"),
        "{}",
        failed.stderr
    );
    world.wait_gone("web-2");
    let during = load.requests() - before;
    world.wait_served_by("v1");
    let tally = load.stop();

    report("failed release", during, &tally);
    assert_eq!(world.containers_of("web-1"), v1, "the old containers stay");
}

#[test]
fn a_websocket_reaches_a_container_through_the_ingress() {
    let world = World::start(&[]);
    let spec = format!(
        "  replicas: 1\n{}",
        servers::script_spec(websocket::SERVER_SCRIPT, &[])
    );
    world.apply_app("chat", &spec);
    let host = world.host("chat");
    eventually("the app answers through the ingress", || {
        match http::get(world.ingress, &host, "/healthz") {
            Ok(answer) if answer.status == 200 => Ok(()),
            Ok(answer) => Err(format!("{} {}", answer.status, answer.body)),
            Err(error) => Err(error.to_string()),
        }
    });

    let handshake = websocket::connect(world.ingress, &host, "/chat").expect("the handshake");
    let headers = &handshake.headers;
    assert_eq!(handshake.status, 101, "{headers:?}");
    assert_eq!(
        headers.get("upgrade").map(|v| v.to_ascii_lowercase()),
        Some("websocket".to_owned()),
        "{headers:?}"
    );
    assert!(
        headers
            .get("connection")
            .is_some_and(|v| v.to_ascii_lowercase().contains("upgrade")),
        "{headers:?}"
    );
    assert_eq!(
        headers.get("sec-websocket-accept").map(String::as_str),
        Some(websocket::ACCEPT),
        "{headers:?}"
    );
    let mut socket = handshake.socket;
    for message in ["hello through minicloud", "and a second frame"] {
        socket.send(websocket::TEXT, message.as_bytes()).unwrap();
        let (first, payload) = socket.receive().expect("the echo");
        assert_eq!(
            (first, String::from_utf8_lossy(&payload).as_ref()),
            (websocket::TEXT, message)
        );
    }
    socket.send(websocket::CLOSE, b"").unwrap();
    let (first, payload) = socket.receive().expect("the closing frame");
    assert_eq!((first, payload.len()), (websocket::CLOSE, 0));
}
