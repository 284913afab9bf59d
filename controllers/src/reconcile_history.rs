//! The reconcile history's sink in the API server: decisions are queued without waiting
//! (at most [`QUEUE_LEN`]; beyond that they are dropped and counted in a log line) and sent in
//! batches through `minicloud.v1.Reconciles/Record` by one task, which keeps them outside the
//! objects (so recording never triggers a reconcile).

use std::time::SystemTime;

use minicloud_proto::v1::ReconcileRecord;
use tokio::sync::mpsc;

use crate::client::ApiClient;
use crate::runtime::{Decision, HistorySink};

/// Decisions waiting to be sent at most.
const QUEUE_LEN: usize = 1024;
/// Decisions sent in one call at most.
const BATCH: usize = 100;

/// Sends decisions to the API server.
pub struct ApiHistory {
    sender: mpsc::Sender<ReconcileRecord>,
}

impl ApiHistory {
    /// Starts sending through `client`. Must be called within a tokio runtime.
    pub fn spawn(client: ApiClient) -> ApiHistory {
        let (sender, mut receiver) = mpsc::channel(QUEUE_LEN);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                let records = std::mem::take(&mut batch);
                let count = records.len();
                if let Err(error) = client.record_reconciles(records).await {
                    tracing::warn!(%error, count, "cannot record reconcile decisions");
                }
            }
        });
        ApiHistory { sender }
    }
}

impl HistorySink for ApiHistory {
    fn record(&self, decision: Decision) {
        if self.sender.try_send(record(decision)).is_err() {
            tracing::warn!("the reconcile history queue is full; a decision was dropped");
        }
    }
}

/// The wire form of `decision`, stamped now.
fn record(decision: Decision) -> ReconcileRecord {
    ReconcileRecord {
        controller: decision.controller.to_owned(),
        kind: decision.subject.kind.to_owned(),
        tenant: decision.subject.tenant.unwrap_or_default(),
        name: decision.subject.name,
        time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        triggers: decision.triggers,
        actions: decision.actions,
        outcome: decision.outcome,
        error: decision.error.unwrap_or_default(),
        duration_millis: u64::try_from(decision.took.as_millis()).unwrap_or(u64::MAX),
    }
}
