//! [`IngressMetrics`]: requests through the ingress by tenant, app and status class, and the
//! time until their responses started. A request for a host no App is served at counts with
//! empty `tenant` and `app` labels, so what clients put in `Host` never becomes a label. Each
//! App's requests and response body bytes are also kept as totals since the ingress started
//! ([`IngressMetrics::traffic`]), which usage records are metered from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::StatusCode;
use minicloud_common::metrics::{HistogramFamily, Metrics, histogram_family};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use super::routes::Route;

/// The App a request went to; empty for a request that matched none.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct AppLabels {
    tenant: String,
    app: String,
}

impl AppLabels {
    /// The labels of requests routed by `route`.
    pub(super) fn of(route: &Route) -> AppLabels {
        AppLabels {
            tenant: route.tenant().to_owned(),
            app: route.app().to_owned(),
        }
    }
}

/// A request's App and the class of its status (`2xx` … `5xx`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    app: String,
    code: &'static str,
}

/// One App's traffic through the ingress since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppTraffic {
    /// The App's tenant.
    pub tenant: String,
    /// The App.
    pub app: String,
    /// Requests sent to it (answered by it or refused on its behalf).
    pub requests: u64,
    /// Bytes of the response bodies sent back to clients.
    pub response_bytes: u64,
}

/// One App's running totals.
#[derive(Clone, Debug, Default)]
struct AppCounters {
    requests: Counter,
    response_bytes: Counter,
}

/// The ingress's metric families; cheap to clone, clones share them.
#[derive(Clone, Debug)]
pub struct IngressMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<AppLabels>,
    traffic: Arc<Mutex<HashMap<AppLabels, AppCounters>>>,
    epoch: u64,
}

impl Default for IngressMetrics {
    fn default() -> Self {
        IngressMetrics {
            requests: Family::default(),
            duration: histogram_family(),
            traffic: Arc::default(),
            epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos() as u64),
        }
    }
}

impl IngressMetrics {
    /// Adds `minicloud_ingress_requests_total{tenant, app, code}` and
    /// `minicloud_ingress_request_duration_seconds{tenant, app}` to `metrics`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(|registry| {
            registry.register(
                "ingress_requests",
                "Requests through the ingress, by tenant, app and status class (empty tenant and app: no app at that host)",
                self.requests.clone(),
            );
            registry.register(
                "ingress_request_duration_seconds",
                "Time until the response to a request through the ingress started, by tenant and app",
                self.duration.clone(),
            );
        });
    }

    /// The counter of the response bytes of requests to `app`; `None` for requests no App
    /// was found for.
    pub(super) fn response_bytes(&self, app: &AppLabels) -> Option<Counter> {
        (!app.app.is_empty()).then(|| self.counters(app).response_bytes)
    }

    fn counters(&self, app: &AppLabels) -> AppCounters {
        let mut traffic = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
        traffic.entry(app.clone()).or_default().clone()
    }

    /// Every App's traffic since the ingress started, and what identifies this start: a new
    /// epoch means the totals began again from zero.
    pub fn traffic(&self) -> (u64, Vec<AppTraffic>) {
        let traffic = self.traffic.lock().unwrap_or_else(|e| e.into_inner());
        let apps = traffic
            .iter()
            .map(|(labels, counters)| AppTraffic {
                tenant: labels.tenant.clone(),
                app: labels.app.clone(),
                requests: counters.requests.get(),
                response_bytes: counters.response_bytes.get(),
            })
            .collect();
        (self.epoch, apps)
    }

    /// Records a request to `app` answered with `status` after `took`.
    pub(super) fn record(&self, app: AppLabels, status: StatusCode, took: Duration) {
        self.duration
            .get_or_create(&app)
            .observe(took.as_secs_f64());
        if !app.app.is_empty() {
            self.counters(&app).requests.inc();
        }
        let labels = RequestLabels {
            tenant: app.tenant,
            app: app.app,
            code: status_class(status),
        };
        self.requests.get_or_create(&labels).inc();
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}
