//! The one writer of the log store: a task that takes the collectors' batches, commits
//! whatever has arrived together in one transaction (so a flood costs few commits), applies
//! the age limit every [`EXPIRY_INTERVAL`], and announces each commit to the readers that
//! follow. Collectors wait when its queue is full, and the engine keeps their containers'
//! output meanwhile: a slow disk slows collection, it loses nothing.

use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};

use super::retention::Retention;
use super::store::{Batch, LogStore};

/// Batches waiting for the writer at most.
const QUEUE: usize = 256;
/// Lines committed in one transaction at most.
const LINES_PER_COMMIT: usize = 50_000;
/// How often lines beyond the age limit are dropped.
pub const EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

/// A batch and, when its sender waits for it, the signal that it was committed.
struct Queued {
    batch: Batch,
    committed: Option<oneshot::Sender<()>>,
}

/// A handle on the writer; the task stops when the last handle is gone.
#[derive(Clone)]
pub struct LogWriter {
    queue: mpsc::Sender<Queued>,
    commits: watch::Receiver<u64>,
}

impl LogWriter {
    /// Starts the writer on `store`, on the current tokio runtime.
    pub fn spawn(store: LogStore, retention: Retention) -> LogWriter {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let last_seq = store
            .last_seq()
            .inspect_err(|error| tracing::warn!(%error, "cannot read the log store's end"))
            .unwrap_or(0);
        let (announce, commits) = watch::channel(last_seq);
        tokio::spawn(write_loop(store, retention, receiver, announce));
        LogWriter { queue, commits }
    }

    /// Queues `batch`, waiting while the queue is full.
    pub async fn write(&self, batch: Batch) {
        let queued = Queued {
            batch,
            committed: None,
        };
        let _ = self.queue.send(queued).await;
    }

    /// Queues `batch` and waits until it is committed (or failed to be).
    pub async fn write_and_wait(&self, batch: Batch) {
        let (committed, done) = oneshot::channel();
        let queued = Queued {
            batch,
            committed: Some(committed),
        };
        if self.queue.send(queued).await.is_ok() {
            let _ = done.await;
        }
    }

    /// A receiver of the last committed sequence number, moving on every commit.
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.commits.clone()
    }
}

async fn write_loop(
    store: LogStore,
    retention: Retention,
    mut receiver: mpsc::Receiver<Queued>,
    announce: watch::Sender<u64>,
) {
    let mut expiry = tokio::time::interval(EXPIRY_INTERVAL);
    loop {
        let first = tokio::select! {
            queued = receiver.recv() => match queued {
                Some(queued) => queued,
                None => return,
            },
            _ = expiry.tick() => {
                expire(&store, retention).await;
                continue;
            }
        };
        let mut lines = first.batch.lines.len();
        let mut taken = vec![first];
        while lines < LINES_PER_COMMIT {
            let Ok(next) = receiver.try_recv() else { break };
            lines += next.batch.lines.len();
            taken.push(next);
        }
        let (batches, waiters): (Vec<Batch>, Vec<_>) = taken
            .into_iter()
            .map(|queued| (queued.batch, queued.committed))
            .unzip();
        let appending = store.clone();
        let appended =
            tokio::task::spawn_blocking(move || appending.append(&batches, &retention)).await;
        match appended {
            Ok(Ok(last_seq)) => {
                announce.send_replace(last_seq);
            }
            Ok(Err(error)) => tracing::error!(%error, lines, "cannot keep log lines"),
            Err(error) => tracing::error!(%error, lines, "the log writer failed"),
        }
        for waiter in waiters.into_iter().flatten() {
            let _ = waiter.send(());
        }
    }
}

/// Drops the lines beyond the age limit.
async fn expire(store: &LogStore, retention: Retention) {
    let store = store.clone();
    let expired = tokio::task::spawn_blocking(move || store.expire(&retention, SystemTime::now()));
    match expired.await {
        Ok(Ok(0)) => {}
        Ok(Ok(dropped)) => tracing::debug!(dropped, "dropped log lines beyond the age limit"),
        Ok(Err(error)) => tracing::warn!(%error, "cannot drop old log lines"),
        Err(error) => tracing::warn!(%error, "the log expiry failed"),
    }
}
