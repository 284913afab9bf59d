//! `/metrics`: after some traffic — applies over REST and gRPC, refused applies, a watch, a
//! burst over a rate limit — the scrape parses with a strict OpenMetrics parser and holds every
//! series of the API server with its labels and moved counts; the admin key and the scrape
//! token may read it, a tenant key and no key may not, and the scrape token opens nothing else.

use minicloud_apiserver::ratelimit::RateLimit;
use minicloud_apiserver::server::ServerOptions;
use minicloud_apiserver::watch_cache::WatchCacheOptions;
use minicloud_common::metrics::ScrapeToken;
use minicloud_proto::v1::keys_client::KeysClient;
use minicloud_proto::v1::{self as pb};
use std::collections::HashMap;

use openmetrics_parser::OpenMetricsValue;
use openmetrics_parser::openmetrics::parse_openmetrics;
use serde_json::{Value as Json, json};

use crate::fixture::{TestServer, apply, next_event, watch};

/// The scrape token the server under test takes.
const SCRAPE_TOKEN: &str = "scrape-0123456789abcdef";
/// Requests a tenant key may send at once before its rate limit refuses it.
const BURST: u32 = 10;

fn tenant_manifest() -> Json {
    json!({"apiVersion": "minicloud/v1", "kind": "Tenant", "metadata": {"name": "acme"},
        "spec": {"quota": {"containers": 2, "cpu": "2", "memory": "1Gi", "storage": "1Gi"}}})
}

fn app_manifest(name: &str, replicas: u32, image: &str) -> Json {
    json!({"apiVersion": "minicloud/v1", "kind": "App",
        "metadata": {"name": name, "tenant": "acme"},
        "spec": {"image": image, "replicas": replicas,
            "resources": {"cpu": "100m", "memory": "64Mi"}}})
}

/// Starts a server limiting tenant keys to bursts of [`BURST`] and taking [`SCRAPE_TOKEN`].
async fn server() -> TestServer {
    let backend = crate::backends::embedded().await;
    let options = ServerOptions {
        rate_limit: RateLimit::per_second(1, BURST),
        scrape_token: Some(ScrapeToken::new(SCRAPE_TOKEN, "the test").unwrap()),
        ..ServerOptions::default()
    };
    let store = backend.store.clone();
    TestServer::start_configured(store, WatchCacheOptions::default(), options, Some(backend)).await
}

async fn tenant_key(server: &TestServer) -> String {
    let channel = crate::audit::channel(server, Some(&server.admin_key)).await;
    let request = pb::CreateKeyRequest {
        role: "tenant-admin".into(),
        tenant: "acme".into(),
        description: String::new(),
    };
    let created = KeysClient::new(channel).create(request).await.unwrap();
    created.into_inner().key
}

/// PUTs `manifest` as `key`, answering the HTTP status.
async fn put(server: &TestServer, key: &str, manifest: &Json) -> u16 {
    let name = manifest["metadata"]["name"].as_str().unwrap();
    reqwest::Client::new()
        .put(format!("{}/api/v1/apps/{name}?tenant=acme", server.url()))
        .bearer_auth(key)
        .json(manifest)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// GETs `/metrics` with `key` (none: no Authorization), answering the status and the body.
async fn scrape_with(server: &TestServer, key: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", server.url()));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// One series of a scrape: its family, labels and value (a histogram's: its count).
struct Sample {
    family: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// The series of a scrape that must succeed.
async fn scrape(server: &TestServer, key: &str) -> Vec<Sample> {
    let (status, body) = scrape_with(server, Some(key)).await;
    assert_eq!(status, 200, "{body}");
    let exposition = parse_openmetrics(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    let mut samples = Vec::new();
    for (name, family) in &exposition.families {
        for sample in family.iter_samples() {
            let value = match &sample.value {
                OpenMetricsValue::Counter(counter) => counter.value.as_f64(),
                OpenMetricsValue::Gauge(gauge) => gauge.as_f64(),
                OpenMetricsValue::Histogram(histogram) => histogram.count.unwrap_or(0) as f64,
                other => {
                    panic!("{name} is a {other:?}; minicloud has counters, gauges and histograms")
                }
            };
            let labels = sample.get_labelset().unwrap();
            let labels = labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            samples.push(Sample {
                family: name.clone(),
                labels,
                value,
            });
        }
    }
    samples
}

/// The value of the series of `family` whose labels include `labels`, if there is one.
fn value(samples: &[Sample], family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let sample = samples.iter().find(|sample| {
        sample.family == family
            && labels
                .iter()
                .all(|(name, value)| sample.labels.get(*name).map(String::as_str) == Some(value))
    })?;
    Some(sample.value)
}

fn at_least(samples: &[Sample], metric: &str, labels: &[(&str, &str)], least: f64) {
    let found = value(samples, metric, labels);
    assert!(
        found.is_some_and(|v| v >= least),
        "{metric}{labels:?} is {found:?}, expected at least {least}"
    );
}

pub async fn metrics_count_requests_refusals_watches_store_and_rate_limits() {
    let server = server().await;
    let admin = server.admin_key.clone();
    let mut client = server.client().await;
    apply(&mut client, &tenant_manifest()).await.unwrap();
    let key = tenant_key(&server).await;
    assert_eq!(
        put(&server, &key, &app_manifest("web", 1, "hello:1")).await,
        201
    );
    assert_eq!(
        put(&server, &key, &app_manifest("big", 5, "hello:1")).await,
        403,
        "over quota"
    );
    assert_eq!(
        put(&server, &key, &app_manifest("bad", 1, "")).await,
        422,
        "no image"
    );
    let mut events = watch(&mut client, "App", "").await.unwrap();
    next_event(&mut events).await.unwrap();
    let mut limited = 0;
    for _ in 0..BURST {
        limited += usize::from(put(&server, &key, &app_manifest("web", 1, "hello:1")).await == 429);
    }
    assert!(limited > 0, "the burst went over the limit");

    let samples = scrape(&server, &admin).await;
    let requests = "minicloud_apiserver_requests";
    let rest_put = [("protocol", "rest"), ("route", "/api/v1/{kind}/{name}")];
    at_least(
        &samples,
        requests,
        &[rest_put[0], rest_put[1], ("code", "201")],
        1.0,
    );
    at_least(
        &samples,
        requests,
        &[rest_put[0], rest_put[1], ("code", "429")],
        1.0,
    );
    let grpc_apply = ("route", "/minicloud.v1.ResourceService/Apply");
    at_least(
        &samples,
        requests,
        &[("protocol", "grpc"), grpc_apply, ("code", "0")],
        1.0,
    );
    let duration = "minicloud_apiserver_request_duration_seconds";
    at_least(&samples, duration, &[rest_put[1], ("code", "403")], 1.0);
    assert!(
        !samples
            .iter()
            .any(|s| s.labels.get("route").is_some_and(|r| r.contains("web"))),
        "no route label names an object"
    );
    let refusals = "minicloud_apiserver_admission_refusals";
    at_least(
        &samples,
        refusals,
        &[("operation", "apply"), ("reason", "QuotaExceeded")],
        1.0,
    );
    at_least(
        &samples,
        refusals,
        &[("operation", "apply"), ("reason", "Invalid")],
        1.0,
    );
    at_least(
        &samples,
        "minicloud_apiserver_watches",
        &[("kind", "App")],
        1.0,
    );
    let open = value(
        &samples,
        "minicloud_apiserver_watches_open",
        &[("kind", "App")],
    );
    assert_eq!(open, Some(1.0), "the watch is open");
    let store = "minicloud_store_operation_duration_seconds";
    at_least(&samples, store, &[("operation", "txn")], 1.0);
    at_least(&samples, store, &[("operation", "get")], 1.0);
    let rate_limited = "minicloud_apiserver_rate_limited";
    at_least(&samples, rate_limited, &[("limit", "key")], limited as f64);
    assert!(
        !samples
            .iter()
            .any(|s| s.labels.values().any(|v| v.contains(&key[..12]))),
        "no label holds a key"
    );

    drop(events);
    let samples = scrape(&server, SCRAPE_TOKEN).await;
    let open = value(
        &samples,
        "minicloud_apiserver_watches_open",
        &[("kind", "App")],
    );
    assert_eq!(open, Some(0.0), "the dropped watch is closed");
    server.stop().await;
}

pub async fn only_admin_keys_and_the_scrape_token_read_metrics() {
    let server = server().await;
    let mut client = server.client().await;
    apply(&mut client, &tenant_manifest()).await.unwrap();
    let key = tenant_key(&server).await;
    let (status, body) = scrape_with(&server, Some(&key)).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("scrape token"),
        "the refusal says who may: {body}"
    );
    assert_eq!(scrape_with(&server, None).await.0, 401);
    assert_eq!(scrape_with(&server, Some("not-the-token")).await.0, 401);
    assert_eq!(scrape_with(&server, Some(SCRAPE_TOKEN)).await.0, 200);
    let elsewhere = reqwest::Client::new()
        .get(format!("{}/api/v1/apps", server.url()))
        .bearer_auth(SCRAPE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        elsewhere.status().as_u16(),
        401,
        "the scrape token opens only /metrics"
    );
    server.stop().await;
}
