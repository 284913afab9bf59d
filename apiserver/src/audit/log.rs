//! [`AuditLog`]: the handle the request path records through, in front of the one writer per
//! process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::query::{self, AuditQuery};
use super::record::AuditRecord;
use super::writer::{self, AuditOptions, Message};
use crate::store::Store;

/// How many records may wait for the writer before noted ones are dropped (and counted).
const QUEUE: usize = 10_000;

/// The handle requests record through; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    sender: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
    stored_elsewhere: Arc<AtomicU64>,
    store: Arc<dyn Store>,
}

impl AuditLog {
    /// A log in `store`, with its writer running on the current tokio runtime until every
    /// handle is dropped.
    pub fn start(store: Arc<dyn Store>, options: AuditOptions) -> AuditLog {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let stored_elsewhere = Arc::new(AtomicU64::new(0));
        let counts = writer::Counts {
            dropped: dropped.clone(),
            stored_elsewhere: stored_elsewhere.clone(),
        };
        tokio::spawn(writer::run(store.clone(), receiver, counts, options));
        AuditLog {
            sender,
            dropped,
            stored_elsewhere,
            store,
        }
    }

    /// Records a change that was made and waits until the record is stored.
    pub async fn commit(&self, record: AuditRecord) {
        let (stored, done) = oneshot::channel();
        if self
            .sender
            .send(Message::Record(Box::new(record), Some(stored)))
            .await
            .is_err()
        {
            tracing::error!("the audit writer has stopped; a mutation goes unrecorded");
            return;
        }
        let _ = done.await;
    }

    /// Notes that a record was stored in its change's own transaction (see
    /// [`super::stored_with`]), so the writer counts it towards the next trim.
    pub fn stored_elsewhere(&self) {
        self.stored_elsewhere.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a refusal or failure without waiting; when the queue is full it is counted.
    pub fn note(&self, record: AuditRecord) {
        if self
            .sender
            .try_send(Message::Record(Box::new(record), None))
            .is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Returns once every record queued before the call is stored.
    pub async fn flush(&self) {
        let (flushed, done) = oneshot::channel();
        if self.sender.send(Message::Flush(flushed)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// The newest records `query` selects, oldest first.
    pub async fn list(&self, query: &AuditQuery) -> crate::store::Result<Vec<AuditRecord>> {
        query::read(self.store.as_ref(), query).await
    }
}
