//! The agent against the real Docker Engine: isolation defaults, tenant network isolation,
//! unmanaged containers left alone, prompt watch updates, restarts and logs. These tests need
//! Docker and fail (not skip) without it; each works in a tenant of its own and removes what it
//! created even when it fails.

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use minicloud_agent::labels;
use minicloud_proto::v1::node_agent_client::NodeAgentClient;
use minicloud_proto::v1::node_agent_server::{NodeAgent, NodeAgentServer};
use minicloud_proto::v1::operation::Op;
use minicloud_proto::v1::{
    AppLogsRequest, LogsRequest, ObserveRequest, RemoveInstance, RemoveNetwork,
};
use serde_json::{Value, json};
use support::{
    Tenant, agent, apply_ok, container, docker, docker_ok, inspect, network, observe, plan, start,
    start_spec, volume,
};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::Request;

/// Idles until SIGTERM, which it obeys at once (a plain `sleep` as PID 1 ignores it).
const SLEEP: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; while true; do sleep 1; done",
];
const SERVE: &[&str] = &[
    "sh",
    "-c",
    "echo ok > /tmp/index.html && exec httpd -f -p 8080 -h /tmp",
];

/// Limits, capabilities, filesystem, user, ports, logging and restart policy.
fn assert_isolation(info: &Value) {
    let host = &info["HostConfig"];
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert_eq!(host["SecurityOpt"], json!(["no-new-privileges"]));
    assert_eq!(host["ReadonlyRootfs"], true);
    assert!(host["Tmpfs"]["/tmp"].as_str().unwrap().contains("size=64m"));
    assert_eq!(host["Memory"], 128 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 250_000_000);
    assert_eq!(host["PidsLimit"], 256);
    assert_eq!(host["Privileged"], false);
    let bindings = host["PortBindings"].as_object();
    assert!(bindings.is_none_or(|m| m.is_empty()), "{bindings:?}");
    assert_eq!(host["LogConfig"]["Type"], "json-file");
    assert_eq!(host["LogConfig"]["Config"]["max-size"], "10m");
    assert_eq!(host["LogConfig"]["Config"]["max-file"], "3");
    assert_eq!(host["RestartPolicy"]["Name"], "always");
    assert!(host["Binds"].is_null());
    assert_eq!(info["Config"]["User"], "65534:65534");
}

/// minicloud's labels and the tenant volume mount.
fn assert_labels_and_volume(info: &Value, tenant: &Tenant) {
    let labels = &info["Config"]["Labels"];
    assert_eq!(labels[labels::MANAGED], "true");
    assert_eq!(labels[labels::TENANT], tenant.name.as_str());
    assert_eq!(labels[labels::APP], "web");
    assert_eq!(labels[labels::INSTANCE], "web-1");
    assert_eq!(labels[labels::RELEASE], "web-r1");
    assert_eq!(labels[labels::SPEC_HASH], "h1");
    let mount = &info["Mounts"][0];
    let name = format!("mc-{}-data", tenant.name);
    assert_eq!(
        (&mount["Type"], &mount["Name"]),
        (&json!("volume"), &json!(name))
    );
    assert_eq!(
        (&mount["Destination"], &mount["RW"]),
        (&json!("/data"), &json!(false))
    );
}

/// The tenant network as the only network, with both DNS aliases.
fn assert_tenant_network(info: &Value, tenant: &Tenant) {
    assert_eq!(info["HostConfig"]["NetworkMode"], tenant.network());
    assert_eq!(info["Config"]["Hostname"], "web-1");
    let networks = info["NetworkSettings"]["Networks"].as_object().unwrap();
    assert_eq!(networks.keys().collect::<Vec<_>>(), [&tenant.network()]);
    let aliases = networks[&tenant.network()]["Aliases"].as_array().unwrap();
    let internal = format!("web.{}.internal", tenant.name);
    for alias in ["web", internal.as_str()] {
        assert!(aliases.iter().any(|a| a == alias), "{aliases:?}");
    }
}

#[tokio::test]
async fn a_started_instance_runs_with_every_isolation_default() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let spec = json!({
        "image": support::IMAGE, "command": SERVE,
        "volumes": [{"volume": "data", "mountPath": "/data", "readOnly": true}]
    });
    let ops = vec![
        network(&tenant),
        volume(&tenant, "data"),
        start_spec(&tenant, "web", spec),
    ];
    let id = apply_ok(&service, ops).await.results[2]
        .container_id
        .clone();
    let info = inspect(&id);
    assert_eq!(info["State"]["Running"], true);
    assert_isolation(&info);
    assert_labels_and_volume(&info, &tenant);
    assert_tenant_network(&info, &tenant);
    let observed = observe(&service).await;
    let c = container(&observed, &id).expect("the container is observed");
    assert_eq!(c.state, "running");
    assert!(!c.ip.is_empty() && !c.started_at.is_empty());
}

#[tokio::test]
async fn applying_the_same_plan_twice_keeps_the_container_and_a_new_spec_replaces_it() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let ops = || vec![network(&tenant), start(&tenant, "web", SLEEP)];
    let first = apply_ok(&service, ops()).await.results[1]
        .container_id
        .clone();
    let again = apply_ok(&service, ops()).await.results[1]
        .container_id
        .clone();
    assert_eq!(first, again);
    let Op::StartInstance(mut changed) = start(&tenant, "web", SLEEP) else {
        unreachable!("start builds a StartInstance")
    };
    changed.spec_hash = "h2".into();
    let replaced = apply_ok(&service, vec![Op::StartInstance(changed)]).await;
    let replaced = &replaced.results[0].container_id;
    assert_ne!(replaced, &first);
    assert!(!docker(&["inspect", &first]).status.success());
    assert_eq!(
        inspect(replaced)["Config"]["Labels"][labels::SPEC_HASH],
        "h2"
    );
}

/// Sends an HTTP request to `host`:8080 from inside a container with busybox `nc` (the static
/// busybox's `wget` crashes); `Ok` when the server answered, else what `nc` said.
fn fetch_from(container_id: &str, host: &str) -> Result<(), String> {
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 8080");
    let out = docker(&["exec", container_id, "sh", "-c", &script]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.contains("200 OK") {
        return Ok(());
    }
    Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

/// Tenant B's HTTP server `srv` and a peer of it, and a stranger in tenant A; built once the
/// server answers its own tenant. The tenants' Docker objects go when it drops.
struct CrossTenant {
    a: Tenant,
    b: Tenant,
    peer: String,
    stranger: String,
    server_ip: String,
}

impl CrossTenant {
    async fn start() -> CrossTenant {
        let (a, b) = (Tenant::new(), Tenant::new());
        let service = agent(&a).await;
        let server = apply_ok(&service, vec![network(&b), start(&b, "srv", SERVE)]).await;
        let server = server.results[1].container_id.clone();
        let peer = apply_ok(&service, vec![start(&b, "peer", SLEEP)]).await;
        let peer = peer.results[0].container_id.clone();
        let stranger = apply_ok(&service, vec![network(&a), start(&a, "cli", SLEEP)]).await;
        let stranger = stranger.results[1].container_id.clone();
        let server_ip = container(&observe(&service).await, &server)
            .unwrap()
            .ip
            .clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = fetch_from(&peer, &server_ip) {
            assert!(
                Instant::now() < deadline,
                "the server never answered its own tenant: {e}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        CrossTenant {
            a,
            b,
            peer,
            stranger,
            server_ip,
        }
    }
}

#[tokio::test]
async fn tenants_cannot_reach_each_other_while_apps_of_a_tenant_can() {
    let CrossTenant {
        a: _a,
        b,
        peer,
        stranger,
        server_ip,
    } = CrossTenant::start().await;
    let internal = format!("srv.{}.internal", b.name);
    for name in ["srv", internal.as_str()] {
        fetch_from(&peer, name).unwrap_or_else(|e| panic!("{name} did not answer: {e}"));
    }
    for target in [server_ip.as_str(), "srv", internal.as_str()] {
        assert!(
            fetch_from(&stranger, target).is_err(),
            "tenant A reached {target} of B"
        );
    }
}

/// Rules inserted at the head of the filter table's FORWARD chain, deleted when dropped.
struct ForwardRules(Vec<Vec<String>>);

impl ForwardRules {
    fn insert(rules: Vec<Vec<String>>) -> ForwardRules {
        for rule in &rules {
            let mut args = vec!["--wait", "-I", "FORWARD", "1"];
            args.extend(rule.iter().map(String::as_str));
            run_iptables(&args);
        }
        ForwardRules(rules)
    }
}

impl Drop for ForwardRules {
    fn drop(&mut self) {
        for rule in &self.0 {
            let mut args = vec!["--wait", "-D", "FORWARD"];
            args.extend(rule.iter().map(String::as_str));
            run_iptables(&args);
        }
    }
}

fn run_iptables(args: &[&str]) {
    let status = std::process::Command::new("iptables").args(args).status();
    assert!(status.unwrap().success(), "iptables {args:?} failed");
}

fn bridge_of(tenant: &Tenant) -> String {
    let id = docker_ok(&["network", "inspect", "-f", "{{.Id}}", &tenant.network()]);
    minicloud_agent::runtime::firewall::bridge_name(&id)
}

/// Docker's own isolation briefly lets traffic between bridges through whenever a network is
/// created (it re-inserts its FORWARD jump); minicloud's rules must hold on their own. The
/// test opens the filter table between two tenants' bridges outright and probes across.
#[tokio::test]
async fn tenant_isolation_holds_even_when_the_filter_table_lets_traffic_between_bridges_through() {
    let CrossTenant {
        a,
        b,
        peer,
        stranger,
        server_ip,
    } = CrossTenant::start().await;
    let (bridge_a, bridge_b) = (bridge_of(&a), bridge_of(&b));
    let accept = |from: &str, to: &str| {
        ["-i", from, "-o", to, "-j", "ACCEPT"]
            .map(str::to_owned)
            .to_vec()
    };
    let _open = ForwardRules::insert(vec![
        accept(&bridge_a, &bridge_b),
        accept(&bridge_b, &bridge_a),
    ]);
    assert!(
        fetch_from(&stranger, &server_ip).is_err(),
        "tenant A reached {server_ip} of B once the filter table let it through"
    );
    fetch_from(&peer, &server_ip).expect("B's own traffic still flows");
}

#[tokio::test]
async fn containers_minicloud_did_not_create_are_never_listed_or_touched() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    apply_ok(&service, vec![network(&tenant)]).await;
    let tenant_label = format!("{}={}", labels::TENANT, tenant.name);
    let foreign = docker_ok(&[
        "run",
        "-d",
        "--network",
        &tenant.network(),
        "--label",
        &tenant_label,
        support::IMAGE,
        "sleep",
        "3600",
    ]);
    let observed = observe(&service).await;
    assert!(container(&observed, &foreign).is_none());
    let remove = Op::RemoveInstance(RemoveInstance {
        container_id: foreign.clone(),
        grace_seconds: 0,
    });
    let network = Op::RemoveNetwork(RemoveNetwork {
        tenant: tenant.name.clone(),
    });
    let result = service
        .apply(Request::new(plan(vec![remove, network])))
        .await;
    let result = result.unwrap().into_inner();
    assert!(result.results[0].ok && result.results[0].container_id.is_empty());
    assert!(
        !result.results[1].ok,
        "the network was removed under a running container"
    );
    assert_eq!(inspect(&foreign)["State"]["Running"], true);
}

#[tokio::test]
async fn watch_pushes_a_snapshot_soon_after_a_managed_container_is_removed() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let id = apply_ok(
        &service,
        vec![network(&tenant), start(&tenant, "web", SLEEP)],
    )
    .await;
    let id = id.results[1].container_id.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(NodeAgentServer::new(service))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    let mut client = NodeAgentClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let mut snapshots = client
        .watch_observed(ObserveRequest {})
        .await
        .unwrap()
        .into_inner();
    let first = snapshots.next().await.unwrap().unwrap();
    assert!(container(&first, &id).is_some());
    docker_ok(&["rm", "-f", &id]);
    let removed_at = Instant::now();
    let gone = async {
        while let Some(snapshot) = snapshots.next().await {
            if container(&snapshot.unwrap(), &id).is_none() {
                return;
            }
        }
        panic!("the watch ended");
    };
    // The agent never polls: a snapshot after the removal can only come from the event stream.
    // The bound is loose so that a loaded machine does not fail it.
    tokio::time::timeout(Duration::from_secs(10), gone)
        .await
        .expect("no snapshot without the removed container within 10 s");
    eprintln!("pushed {:?} after the removal", removed_at.elapsed());
}

#[tokio::test]
async fn an_exiting_container_is_restarted_and_its_exit_code_reported() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let ops = vec![
        network(&tenant),
        start(&tenant, "crash", &["sh", "-c", "exit 3"]),
    ];
    let id = apply_ok(&service, ops).await.results[1]
        .container_id
        .clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let observed = observe(&service).await;
        let c = container(&observed, &id).expect("the container is observed");
        if c.restart_count >= 1 && c.last_exit_code == Some(3) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never saw a restart with exit code 3: {c:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn logs_are_kept_after_the_container_is_removed() {
    let tenant = Tenant::new();
    let service = agent(&tenant).await;
    let script = "echo hello-out; echo hello-err >&2; exec sleep 3600";
    let ops = vec![
        network(&tenant),
        start(&tenant, "talk", &["sh", "-c", script]),
    ];
    let id = apply_ok(&service, ops).await.results[1]
        .container_id
        .clone();
    let remove = Op::RemoveInstance(RemoveInstance {
        container_id: id,
        grace_seconds: 1,
    });
    let query = AppLogsRequest {
        tenant: tenant.name.clone(),
        app: "talk".into(),
        ..AppLogsRequest::default()
    };
    let read = || async {
        let request = LogsRequest {
            query: Some(query.clone()),
            after: 0,
        };
        let stream = service.logs(Request::new(request)).await.unwrap();
        let batches: Vec<_> = stream.into_inner().map(|b| b.unwrap()).collect().await;
        let lines: Vec<(String, String)> = batches
            .into_iter()
            .flat_map(|b| b.lines)
            .map(|l| (l.stream, l.text))
            .collect();
        lines
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while read().await.len() < 2 {
        assert!(Instant::now() < deadline, "the lines were never kept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    apply_ok(&service, vec![remove]).await;
    let mut kept = read().await;
    kept.sort();
    assert_eq!(
        kept,
        [
            ("stderr".to_owned(), "hello-err".to_owned()),
            ("stdout".to_owned(), "hello-out".to_owned())
        ]
    );
}
