//! Prometheus metrics, shared by every component of a minicloud process: one [`Metrics`]
//! registry a process exposes at `/metrics` (OpenMetrics text), the latency buckets all
//! histograms use, and the [`ScrapeToken`] that lets a scraper read them and nothing else.
//!
//! Each component owns its metric families, creates them unregistered (so it works the same
//! without metrics, in tests) and registers them once, at startup, into the [`Metrics`] it is
//! given. Labels carry only bounded, non-secret values: routes, codes, kinds, tenant and app
//! names — never a key, a token, a Secret value or a raw request path.

mod scrape_token;

use std::fmt;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub use scrape_token::{METRICS_TOKEN_ENV, ScrapeToken, ScrapeTokenError};

/// The prefix of every metric name: `minicloud_apiserver_requests_total`.
pub const PREFIX: &str = "minicloud";

/// The path every minicloud server exposes its metrics at.
pub const METRICS_PATH: &str = "/metrics";

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A family of latency histograms (in seconds), one per label set, with [`latency_buckets`].
pub type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// A process's metric registry; cheap to clone, clones share it.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            registry: Arc::new(Mutex::new(Registry::with_prefix(PREFIX))),
        }
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Lets `register` add a component's families to the registry.
    pub fn register(&self, register: impl FnOnce(&mut Registry)) {
        register(&mut self.lock());
    }

    /// Every registered metric in the OpenMetrics text format (ending in `# EOF`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.lock()).expect("writing to a String does not fail");
        text
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Upper bounds, in seconds, of the latency histograms' buckets: 1 ms doubling to about 16 s.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 15)
}

/// An empty family of latency histograms.
pub fn histogram_family<L>() -> HistogramFamily<L>
where
    L: Clone + std::hash::Hash + Eq,
{
    Family::new_with_constructor(|| Histogram::new(latency_buckets()))
}

#[cfg(test)]
mod tests {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Labels {
        route: &'static str,
    }

    #[test]
    fn registered_families_are_encoded_with_the_prefix() {
        let metrics = Metrics::default();
        let requests = Family::<Labels, Counter>::default();
        let latency = histogram_family::<Labels>();
        metrics.register(|registry| {
            registry.register("requests", "Requests", requests.clone());
            registry.register("latency_seconds", "Latency", latency.clone());
        });
        requests.get_or_create(&Labels { route: "/a" }).inc();
        latency
            .get_or_create(&Labels { route: "/a" })
            .observe(0.003);
        let text = metrics.clone().encode();
        assert!(
            text.contains("minicloud_requests_total{route=\"/a\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("minicloud_latency_seconds_bucket{le=\"0.004\",route=\"/a\"} 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
