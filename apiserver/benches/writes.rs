//! Write-path benchmark: what one create costs through minicloud's whole admission path —
//! gRPC, key authentication, tenant authorization, validation and defaulting, quota accounting
//! in the write's own transaction, and the audit record committed before the answer — beside
//! the peer, the same JSON written straight to etcd as a create-if-absent transaction (the
//! least any control plane on etcd does for a create).
//!
//! Each setup creates Apps in one tenant, first one at a time (latency of each create), then
//! from [`CLIENTS`] concurrent clients (throughput; the tenant's accounted writes queue behind
//! one another, as they must to count exactly). Run with `scripts/bench.sh` (it provides etcd)
//! or `cargo bench -p minicloud-apiserver --bench writes` with `MINICLOUD_TEST_ETCD` set.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, Compare, CompareOp, Txn, TxnOp};
use minicloud_apiserver::api::RequestContext;
use minicloud_apiserver::server::ServerOptions;
use minicloud_apiserver::store::Store;
use minicloud_manifests::Role;
use minicloud_proto::v1::{self as pb};
use serde_json::json;

/// Creates made one at a time.
const SEQUENTIAL: usize = 300;
/// Concurrent clients in the throughput run.
const CLIENTS: usize = 16;
/// Creates per concurrent client.
const PER_CLIENT: usize = 40;

/// What one setup measured.
struct Measured {
    sequential: Vec<Duration>,
    concurrent: Vec<Duration>,
    concurrent_wall: Duration,
}

fn app(name: &str) -> String {
    json!({
        "apiVersion": "minicloud/v1", "kind": "App",
        "metadata": {"name": name, "tenant": "bench"},
        "spec": {"image": "hello:1", "replicas": 1, "update": {"maxSurge": 0, "maxUnavailable": 1}},
    })
    .to_string()
}

/// Times `create` once per name: first `SEQUENTIAL` in a row, then `CLIENTS` clients at once.
async fn measure<C, F>(make_client: impl AsyncFn() -> C, create: F) -> Measured
where
    C: Send + 'static,
    F: Fn(C, String) -> std::pin::Pin<Box<dyn Future<Output = C> + Send>> + Clone + Send + 'static,
{
    let mut client = make_client().await;
    let mut sequential = Vec::with_capacity(SEQUENTIAL);
    for index in 0..SEQUENTIAL {
        let started = Instant::now();
        client = create(client, format!("seq-{index}")).await;
        sequential.push(started.elapsed());
    }
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(CLIENTS);
    for worker in 0..CLIENTS {
        let mut client = make_client().await;
        let create = create.clone();
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::with_capacity(PER_CLIENT);
            for index in 0..PER_CLIENT {
                let begun = Instant::now();
                client = create(client, format!("c{worker}-{index}")).await;
                took.push(begun.elapsed());
            }
            took
        }));
    }
    let mut concurrent = Vec::with_capacity(CLIENTS * PER_CLIENT);
    for task in tasks {
        concurrent.extend(task.await.unwrap());
    }
    Measured {
        sequential,
        concurrent,
        concurrent_wall: started.elapsed(),
    }
}

async fn minicloud(store: Arc<dyn Store>) -> Measured {
    let api = common::api(store);
    let admin = RequestContext::admin("bench");
    let tenant = json!({"apiVersion": "minicloud/v1", "kind": "Tenant",
        "metadata": {"name": "bench"}, "spec": {"quota": {"containers": 1_000_000}}});
    api.apply(&admin, tenant.to_string().as_bytes(), false)
        .await
        .unwrap();
    let key = api
        .issue_key(&admin, Role::TenantAdmin, Some("bench"), "benchmark")
        .await
        .unwrap()
        .token
        .to_string();
    let options = ServerOptions {
        rate_limit: None,
        ..ServerOptions::default()
    };
    let (url, server) = common::serve(api, options).await;
    let measured = measure(
        async || common::client(&url, &key).await,
        |mut client, name| {
            Box::pin(async move {
                let request = pb::ApplyRequest {
                    json: app(&name),
                    dry_run: false,
                    default_tenant: String::new(),
                };
                client.apply(request).await.unwrap();
                client
            })
        },
    )
    .await;
    server.abort();
    measured
}

async fn etcd_direct(endpoint: String) -> Measured {
    let prefix = format!("/bench-writes-peer-{}/", std::process::id());
    measure(
        async || Client::connect([endpoint.as_str()], None).await.unwrap(),
        move |mut client, name| {
            let key = format!("{prefix}{name}");
            Box::pin(async move {
                let txn = Txn::new()
                    .when([Compare::version(key.as_str(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key.as_str(), app(&name), None)]);
                assert!(client.txn(txn).await.unwrap().succeeded());
                client
            })
        },
    )
    .await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn row(name: &str, measured: &mut Measured) -> String {
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    measured.sequential.sort();
    measured.concurrent.sort();
    let (one, many) = (&measured.sequential, &measured.concurrent);
    let per_second = many.len() as f64 / measured.concurrent_wall.as_secs_f64();
    format!(
        "| {name} | {} | {} | {per_second:.0} | {} | {} |",
        ms(percentile(one, 0.5)),
        ms(percentile(one, 0.99)),
        ms(percentile(many, 0.5)),
        ms(percentile(many, 0.99)),
    )
}

#[tokio::main]
async fn main() {
    let stores = common::stores("writes").await;
    let mut results = [
        (
            "minicloud API, embedded store",
            minicloud(stores.embedded.clone()).await,
        ),
        (
            "minicloud API, etcd store",
            minicloud(stores.etcd.clone()).await,
        ),
        (
            "etcd create-if-absent txn (peer)",
            etcd_direct(stores.endpoint.clone()).await,
        ),
    ];
    println!(
        "Creates: {SEQUENTIAL} one at a time, then {CLIENTS} clients x {PER_CLIENT} at once\n"
    );
    println!(
        "| setup | one at a time p50 ms | p99 ms | {CLIENTS} clients creates/s | p50 ms | p99 ms |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, measured) in &mut results {
        println!("{}", row(name, measured));
    }
}
