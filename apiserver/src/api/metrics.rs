//! [`ApiMetrics`]: what the resource API measures beside the requests themselves — refused
//! writes by their stable reason, watches opened and open, and (through [`StoreMetrics`]) the
//! store's latency.

use minicloud_common::metrics::Metrics;
use minicloud_manifests::Kind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::ApiError;
use crate::store::metered::StoreMetrics;

/// A refused write: what was asked, and the [`ApiError::reason`] it was refused for.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    operation: &'static str,
    reason: &'static str,
}

/// The kind a watch follows.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// The resource API's metric families.
#[derive(Clone, Default)]
pub struct ApiMetrics {
    refusals: Family<RefusalLabels, Counter>,
    watches_started: Family<KindLabels, Counter>,
    watches_open: Family<KindLabels, Gauge>,
    /// The store's latencies.
    pub(crate) store: StoreMetrics,
}

impl ApiMetrics {
    /// Adds the API's families and the store's to `metrics`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(|registry| {
            registry.register(
                "apiserver_admission_refusals",
                "Writes refused by admission (validation, quota, authorization, conflicts), by operation and reason",
                self.refusals.clone(),
            );
            registry.register(
                "apiserver_watches",
                "Watches started, by kind",
                self.watches_started.clone(),
            );
            registry.register(
                "apiserver_watches_open",
                "Watch streams open now, by kind",
                self.watches_open.clone(),
            );
        });
        self.store.register(metrics);
    }

    /// Counts `operation` refused with `error` — unless the error is a failure of the server
    /// (the store unavailable, a bug) rather than a refusal of the request.
    pub(super) fn refused(&self, operation: &'static str, error: &ApiError) {
        if matches!(error, ApiError::Unavailable(_) | ApiError::Internal(_)) {
            return;
        }
        let labels = RefusalLabels {
            operation,
            reason: error.reason(),
        };
        self.refusals.get_or_create(&labels).inc();
    }

    /// Counts a watch of `kind` started, open until the returned guard is dropped.
    pub(super) fn watch_opened(&self, kind: Kind) -> OpenWatch {
        let labels = KindLabels {
            kind: kind.as_str(),
        };
        self.watches_started.get_or_create(&labels).inc();
        let open = self.watches_open.get_or_create(&labels).clone();
        open.inc();
        OpenWatch(open)
    }
}

/// Counts one open watch while it lives.
pub(super) struct OpenWatch(Gauge);

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.dec();
    }
}
