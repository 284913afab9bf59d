//! Watch fan-out benchmark: how long a write takes to reach each of 1,000 concurrent watchers.
//!
//! Three setups are measured in the same run, each with 1,000 watchers spread over 10
//! connections and 50 writes spaced 20 ms apart:
//! - minicloud's API server (gRPC watch through its watch cache) on the embedded store;
//! - the same API server on etcd;
//! - the peer: 1,000 watches opened directly on etcd (etcd's own fan-out).
//!
//! Latency is measured from just before the write is sent to the moment each watcher has the
//! event, over every (watcher, write) pair. Run with `scripts/bench.sh` (it provides etcd) or
//! `cargo bench -p minicloud-apiserver --bench watch_fanout` with `MINICLOUD_TEST_ETCD` set.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{Client, WatchOptions};
use minicloud_apiserver::api::RequestContext;
use minicloud_apiserver::server::ServerOptions;
use minicloud_apiserver::store::Store;
use minicloud_manifests::Role;
use minicloud_proto::v1::{self as pb};
use tokio::sync::mpsc;

const WATCHERS: usize = 1_000;
const CONNECTIONS: usize = 10;
const WRITES: usize = 50;
const WRITE_SPACING: Duration = Duration::from_millis(20);

/// Per write: when it was sent; per delivery: (write index, when it arrived).
struct Timings {
    sent: Vec<Instant>,
    arrivals: Vec<(usize, Instant)>,
}

impl Timings {
    fn latencies(&self) -> Vec<Duration> {
        let mut all: Vec<Duration> = self
            .arrivals
            .iter()
            .map(|(i, at)| *at - self.sent[*i])
            .collect();
        all.sort();
        all
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn manifest(replicas: usize) -> String {
    serde_json::json!({
        "apiVersion": "minicloud/v1", "kind": "App",
        "metadata": {"name": "fan"},
        "spec": {"image": "hello:1", "replicas": replicas % 100},
    })
    .to_string()
}

/// Runs the write loop, collecting arrivals reported on `arrivals` (write index per event).
async fn drive(
    mut write: impl AsyncFnMut(usize),
    mut arrivals: mpsc::UnboundedReceiver<(usize, Instant)>,
) -> Timings {
    let mut sent = Vec::with_capacity(WRITES);
    for index in 0..WRITES {
        sent.push(Instant::now());
        write(index).await;
        tokio::time::sleep(WRITE_SPACING).await;
    }
    let mut collected = Vec::with_capacity(WATCHERS * WRITES);
    while collected.len() < WATCHERS * WRITES {
        match tokio::time::timeout(Duration::from_secs(30), arrivals.recv()).await {
            Ok(Some(arrival)) => collected.push(arrival),
            _ => panic!(
                "only {} of {} deliveries arrived",
                collected.len(),
                WATCHERS * WRITES
            ),
        }
    }
    Timings {
        sent,
        arrivals: collected,
    }
}

async fn minicloud(store: Arc<dyn Store>) -> Timings {
    let api = common::api(store);
    let key = api
        .issue_key(
            &RequestContext::admin("default"),
            Role::Admin,
            None,
            "benchmark",
        )
        .await
        .unwrap()
        .token
        .to_string();
    let (url, server) = common::serve(api, ServerOptions::default()).await;
    let connect = async || common::client(&url, &key).await;
    let mut writer = connect().await;
    let first = pb::ApplyRequest {
        json: manifest(0),
        dry_run: false,
        default_tenant: String::new(),
    };
    let created = writer.apply(first).await.unwrap().into_inner();
    let start_after = serde_json::from_str::<serde_json::Value>(&created.object.unwrap().json)
        .unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let (report, arrivals) = mpsc::unbounded_channel();
    for _ in 0..CONNECTIONS {
        let client = connect().await;
        for _ in 0..WATCHERS / CONNECTIONS {
            let request = pb::WatchRequest {
                kind: "apps".into(),
                resource_version: start_after.clone(),
                ..Default::default()
            };
            let mut stream = client.clone().watch(request).await.unwrap().into_inner();
            let report = report.clone();
            tokio::spawn(async move {
                for index in 0..WRITES {
                    stream.message().await.unwrap().expect("event");
                    let _ = report.send((index, Instant::now()));
                }
            });
        }
    }
    let timings = drive(
        async |index| {
            let request = pb::ApplyRequest {
                json: manifest(index + 1),
                dry_run: false,
                default_tenant: String::new(),
            };
            writer.apply(request).await.unwrap();
        },
        arrivals,
    )
    .await;
    server.abort();
    timings
}

async fn etcd_direct(endpoint: &str) -> Timings {
    let key = format!("/bench-peer-{}", std::process::id());
    let (report, arrivals) = mpsc::unbounded_channel();
    for _ in 0..CONNECTIONS {
        let client = Client::connect([endpoint], None).await.unwrap();
        for _ in 0..WATCHERS / CONNECTIONS {
            let mut stream = client
                .watch_client()
                .watch(key.clone(), Some(WatchOptions::new()))
                .await
                .unwrap();
            stream.message().await.unwrap();
            let report = report.clone();
            tokio::spawn(async move {
                let mut index = 0;
                while index < WRITES {
                    let response = stream.message().await.unwrap().expect("event");
                    for _ in response.events() {
                        let _ = report.send((index, Instant::now()));
                        index += 1;
                    }
                }
            });
        }
    }
    let mut writer = Client::connect([endpoint], None).await.unwrap();
    drive(
        async |index| {
            writer
                .put(key.clone(), manifest(index + 1), None)
                .await
                .unwrap();
        },
        arrivals,
    )
    .await
}

fn row(name: &str, timings: &Timings) -> String {
    let sorted = timings.latencies();
    let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1000.0);
    format!(
        "| {name} | {} | {} | {} | {} |",
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(*sorted.last().unwrap()),
        sorted.len()
    )
}

#[tokio::main]
async fn main() {
    let stores = common::stores("fanout").await;
    let results = [
        (
            "minicloud API, embedded store",
            minicloud(stores.embedded.clone()).await,
        ),
        (
            "minicloud API, etcd store",
            minicloud(stores.etcd.clone()).await,
        ),
        (
            "etcd watches directly (peer)",
            etcd_direct(&stores.endpoint).await,
        ),
    ];
    println!(
        "Watch fan-out: {WATCHERS} watchers over {CONNECTIONS} connections, {WRITES} writes {} ms apart\n",
        WRITE_SPACING.as_millis()
    );
    println!("| setup | p50 ms | p99 ms | max ms | deliveries |");
    println!("|---|---|---|---|---|");
    for (name, timings) in &results {
        println!("{}", row(name, timings));
    }
}
