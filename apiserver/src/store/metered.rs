//! [`MeteredStore`]: any [`Store`] with the latency of each of its operations recorded, so
//! both backends are measured in one place.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use minicloud_common::metrics::{HistogramFamily, Metrics, histogram_family};
use prometheus_client::encoding::EncodeLabelSet;

use super::{
    KeyRange, KeyValue, KvRead, KvWatch, KvWrite, Listing, Page, Result, Revision, Store, Txn,
    TxnOutcome, WatchStream,
};

/// The label of a store operation's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

/// The store's latency histograms, one per operation.
#[derive(Clone)]
pub struct StoreMetrics {
    duration: HistogramFamily<OperationLabels>,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            duration: histogram_family(),
        }
    }
}

impl StoreMetrics {
    /// Adds `minicloud_store_operation_duration_seconds{operation}` to `metrics`.
    pub fn register(&self, metrics: &Metrics) {
        metrics.register(|registry| {
            registry.register(
                "store_operation_duration_seconds",
                "How long store operations took, successful or not (watch: until it started)",
                self.duration.clone(),
            );
        });
    }

    async fn timed<T>(&self, operation: &'static str, run: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = run.await;
        self.duration
            .get_or_create(&OperationLabels { operation })
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

/// A store whose every operation is timed into [`StoreMetrics`].
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: StoreMetrics,
}

impl MeteredStore {
    /// `inner`, timed into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: StoreMetrics) -> MeteredStore {
        MeteredStore { inner, metrics }
    }
}

#[async_trait]
impl KvRead for MeteredStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.metrics.timed("get", self.inner.get(key)).await
    }

    async fn list(&self, prefix: &str) -> Result<Listing> {
        self.metrics.timed("list", self.inner.list(prefix)).await
    }

    async fn range(&self, range: &KeyRange) -> Result<Page> {
        self.metrics.timed("range", self.inner.range(range)).await
    }
}

#[async_trait]
impl KvWrite for MeteredStore {
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        let run = self.inner.create(key, value);
        self.metrics.timed("create", run).await
    }

    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        let run = self.inner.update(key, value, expected);
        self.metrics.timed("update", run).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Revision> {
        let run = self.inner.delete(key, expected);
        self.metrics.timed("delete", run).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        self.metrics.timed("txn", self.inner.txn(txn)).await
    }
}

#[async_trait]
impl KvWatch for MeteredStore {
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream> {
        let run = self.inner.watch(prefix, from_revision);
        self.metrics.timed("watch", run).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.metrics
            .timed("compact", self.inner.compact(revision))
            .await
    }
}
