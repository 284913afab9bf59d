//! Health checks against the real Docker Engine: the agent probes a container's HTTP check
//! from the host, reports readiness and the latest probe (pushing a snapshot when readiness
//! changes), and restarts a container whose check fails for good. These tests need Docker and
//! fail (not skip) without it; each works in a tenant of its own and removes what it created
//! even when it fails.

// Shared with the other Docker tests, which use parts these tests do not.
#[allow(dead_code)]
mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use minicloud_agent::AgentService;
use minicloud_proto::v1::node_agent_server::NodeAgent;
use minicloud_proto::v1::{ObserveRequest, ObservedContainer};
use serde_json::json;
use support::{Tenant, agent, apply_ok, container, inspect, network, observe, start_spec};
use tonic::Request;

/// How long a test waits for what it expects.
const DEADLINE: Duration = Duration::from_secs(45);

/// Serves `/tmp/www` (with a `healthz` file) on port 8080.
const SERVE_HEALTHZ: &str =
    "mkdir -p /tmp/www && touch /tmp/www/healthz && exec httpd -f -p 8080 -h /tmp/www";

/// Serves `/tmp/www/ok` for six seconds after each start, then answers 404 for it.
const OK_FOR_SIX_SECONDS: &str = "mkdir -p /tmp/www; touch /tmp/www/ok; (sleep 6; rm /tmp/www/ok) & httpd -f -p 8080 -h /tmp/www";

/// Starts instance `<app>-1` running `script` in `sh -c`, checked on `path` every second,
/// failing for good after `failure_threshold` failures; returns its container id.
async fn start_checked(
    service: &AgentService,
    tenant: &Tenant,
    app: &str,
    script: &str,
    path: &str,
    failure_threshold: u32,
) -> String {
    let spec = json!({
        "image": support::IMAGE,
        "command": ["sh", "-c", script],
        "ports": [{"name": "http", "port": 8080}],

        "healthCheck": {
            "http": {"path": path, "port": "http"},
            "periodSeconds": 1,
            "failureThreshold": failure_threshold,
        },
    });
    let result = apply_ok(
        service,
        vec![network(tenant), start_spec(tenant, app, spec)],
    )
    .await;
    result.results[1].container_id.clone()
}

/// Polls the agent's snapshot until `check` accepts the container, failing after [`DEADLINE`]
/// with what was seen last.
async fn until(
    service: &AgentService,
    id: &str,
    what: &str,
    mut check: impl FnMut(&ObservedContainer) -> bool,
) -> ObservedContainer {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let state = observe(service).await;
        let seen = container(&state, id).cloned();
        if let Some(c) = &seen
            && check(c)
        {
            return c.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}; last seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_container_whose_check_answers_becomes_ready_and_the_watch_says_so() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let stream = service
        .watch_observed(Request::new(ObserveRequest {}))
        .await
        .expect("WatchObserved")
        .into_inner();
    let id = start_checked(&service, &tenant, "web", SERVE_HEALTHZ, "/healthz", 3).await;
    let mut stream = stream;
    let ready = tokio::time::timeout(DEADLINE, async {
        while let Some(snapshot) = stream.next().await {
            let snapshot = snapshot.expect("a snapshot");
            if let Some(c) = container(&snapshot, &id).filter(|c| c.ready) {
                return c.clone();
            }
        }
        panic!("the watch ended");
    })
    .await
    .expect("a snapshot reporting the container ready");
    let probe = ready.last_probe.expect("the probe that made it ready");
    assert!(probe.ok);
    assert_eq!(probe.message, "HTTP 200");
    assert_eq!((ready.restart_count, ready.consecutive_failures), (0, 0));
    let labels = &inspect(&id)["Config"]["Labels"];
    let stored: serde_json::Value =
        serde_json::from_str(labels["minicloud.health"].as_str().unwrap()).unwrap();
    assert_eq!(stored["http"], json!({"path": "/healthz", "port": 8080}));
}

#[tokio::test]
async fn a_container_whose_check_path_is_missing_never_becomes_ready_and_is_restarted() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let id = start_checked(&service, &tenant, "web", SERVE_HEALTHZ, "/missing", 2).await;
    let first_start = inspect(&id)["State"]["StartedAt"].clone();
    let mut ever_ready = false;
    let mut messages = Vec::new();
    let restarted = until(&service, &id, "it was restarted twice", |c| {
        ever_ready |= c.ready;
        messages.extend(c.last_probe.as_ref().map(|p| p.message.clone()));
        c.restart_count >= 2
    })
    .await;
    assert!(
        !ever_ready,
        "a container failing its check was reported ready"
    );
    assert!(messages.iter().any(|m| m == "HTTP 404"), "{messages:?}");
    assert_eq!(restarted.id, id, "restarted in place, not replaced");
    assert_ne!(inspect(&id)["State"]["StartedAt"], first_start);
}

#[tokio::test]
async fn a_container_that_starts_failing_loses_readiness_is_restarted_and_recovers() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let id = start_checked(&service, &tenant, "web", OK_FOR_SIX_SECONDS, "/ok", 2).await;
    until(&service, &id, "it is ready", |c| c.ready).await;
    let failing = until(&service, &id, "its check fails with HTTP 404", |c| {
        c.last_probe
            .as_ref()
            .is_some_and(|p| !p.ok && p.message == "HTTP 404")
    })
    .await;
    assert!(failing.consecutive_failures >= 1);
    let restarted = until(&service, &id, "it was restarted", |c| c.restart_count >= 1).await;
    assert_eq!(restarted.restart_count, 1);
    until(&service, &id, "it is ready again after the restart", |c| {
        c.ready && c.restart_count == 1
    })
    .await;
}

#[tokio::test]
async fn a_new_agent_probes_what_the_previous_one_started_from_docker_alone() {
    let tenant = Tenant::new();
    let first = agent(&tenant).await;
    let id = start_checked(&first, &tenant, "web", SERVE_HEALTHZ, "/healthz", 3).await;
    until(&first, &id, "it is ready", |c| c.ready).await;
    drop(first);
    let second = agent(&tenant).await;
    let ready = until(&second, &id, "the new agent finds it ready", |c| c.ready).await;
    assert_eq!(ready.last_probe.unwrap().message, "HTTP 200");
}
