//! The audit writer: one task per process that stores queued records in batches (one store
//! transaction each, so a burst of requests costs a few writes) and trims the log to its
//! retention — the oldest records beyond `max_records`, and those older than `max_age` — after
//! every tenth of `max_records` new records and once a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot};

use super::record::{AuditRecord, END, PREFIX, stored_with, time_key};
use crate::store::{KeyRange, Result, Store, Txn, TxnOp};

/// How much of the log is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditOptions {
    /// At most this many records; the oldest go first.
    pub max_records: u64,
    /// Records older than this go (`None`: no age limit).
    pub max_age: Option<Duration>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            max_records: 100_000,
            max_age: Some(Duration::from_secs(90 * 24 * 3600)),
        }
    }
}

/// What the request path sends the writer.
pub(super) enum Message {
    /// A record, with the sender to tell once it is stored (committed records).
    Record(Box<AuditRecord>, Option<oneshot::Sender<()>>),
    /// Tell once everything sent before is stored.
    Flush(oneshot::Sender<()>),
}

/// Records (and deletions) per store transaction; etcd allows 128 operations in one.
const BATCH: usize = 100;
/// How often the retention is enforced when few records arrive.
const TRIM_EVERY: Duration = Duration::from_secs(60);
/// The pause after a batch the store refused, growing by this much per failed attempt up to
/// [`MAX_RETRY_PAUSE`]. A batch is retried until it is stored: the requests waiting on its
/// records are answered only then.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between attempts at one batch.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// What the request path counts for the writer, beside the queue.
pub(super) struct Counts {
    /// Noted records dropped because the queue was full.
    pub(super) dropped: Arc<AtomicU64>,
    /// Records stored in the transactions of the changes they record.
    pub(super) stored_elsewhere: Arc<AtomicU64>,
}

/// Runs until every [`super::AuditLog`] handle is gone and the queue is drained.
pub(super) async fn run(
    store: Arc<dyn Store>,
    mut receiver: mpsc::Receiver<Message>,
    counts: Counts,
    options: AuditOptions,
) {
    let mut ticker = tokio::time::interval(TRIM_EVERY);
    let trim_after = (options.max_records / 10).max(1);
    let mut since_trim = 0;
    loop {
        tokio::select! {
            message = receiver.recv() => {
                let Some(first) = message else { break };
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match receiver.try_recv() {
                        Ok(message) => batch.push(message),
                        Err(_) => break,
                    }
                }
                since_trim += store_batch(store.as_ref(), batch, &counts.dropped).await
                    + counts.stored_elsewhere.swap(0, Ordering::Relaxed);
                if since_trim >= trim_after {
                    since_trim = 0;
                    trim_logged(store.as_ref(), options).await;
                }
            }
            _ = ticker.tick() => {
                since_trim = 0;
                counts.stored_elsewhere.store(0, Ordering::Relaxed);
                trim_logged(store.as_ref(), options).await;
            }
        }
    }
}

/// Stores the records of `batch` (and an overflow record when some were dropped), then tells
/// every waiter; returns how many records were stored.
async fn store_batch(store: &dyn Store, batch: Vec<Message>, dropped: &AtomicU64) -> u64 {
    let mut records = Vec::with_capacity(batch.len() + 1);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    for message in batch {
        match message {
            Message::Record(record, waiter) => {
                records.push(*record);
                waiters.extend(waiter);
            }
            Message::Flush(waiter) => waiters.push(waiter),
        }
    }
    let lost = dropped.swap(0, Ordering::Relaxed);
    if lost > 0 {
        let mut overflow = AuditRecord::new("audit-overflow", "", "ResourceExhausted");
        overflow.message =
            format!("{lost} records of refused or failed requests were dropped: queue full");
        records.push(overflow);
    }
    let count = records.len() as u64;
    if records.is_empty() {
        for waiter in waiters {
            let _ = waiter.send(());
        }
        return 0;
    }
    let ops: Vec<TxnOp> = records.iter().map(stored_with).collect();
    let mut attempt: u32 = 0;
    while let Err(error) = store.txn(Txn::default().then(ops.clone())).await {
        attempt += 1;
        tracing::warn!(%error, attempt, records = count, "cannot store audit records; retrying");
        tokio::time::sleep(RETRY_PAUSE.saturating_mul(attempt).min(MAX_RETRY_PAUSE)).await;
    }
    for waiter in waiters {
        let _ = waiter.send(());
    }
    count
}

async fn trim_logged(store: &dyn Store, options: AuditOptions) {
    match trim(store, options, SystemTime::now()).await {
        Ok(0) => {}
        Ok(removed) => tracing::debug!(removed, "audit log trimmed"),
        Err(error) => tracing::warn!(%error, "cannot trim the audit log"),
    }
}

/// Deletes the records beyond `options` (as of `now`), oldest first; returns how many.
pub(super) async fn trim(store: &dyn Store, options: AuditOptions, now: SystemTime) -> Result<u64> {
    let mut removed = 0;
    if let Some(cutoff) = options.max_age.and_then(|age| now.checked_sub(age)) {
        let expired = KeyRange {
            start: PREFIX.to_owned(),
            end: time_key(cutoff),
            limit: BATCH,
            reverse: false,
        };
        loop {
            let deleted = delete_page(store, &expired).await?;
            removed += deleted;
            if deleted < BATCH as u64 {
                break;
            }
        }
    }
    let whole = KeyRange {
        start: PREFIX.to_owned(),
        end: END.to_owned(),
        limit: 1,
        reverse: false,
    };
    let mut excess = store
        .range(&whole)
        .await?
        .total
        .saturating_sub(options.max_records);
    while excess > 0 {
        let oldest = KeyRange {
            limit: usize::try_from(excess).unwrap_or(BATCH).min(BATCH),
            ..whole.clone()
        };
        let deleted = delete_page(store, &oldest).await?;
        if deleted == 0 {
            break;
        }
        removed += deleted;
        excess = excess.saturating_sub(deleted);
    }
    Ok(removed)
}

/// Deletes the keys of one page of `range`; returns how many.
async fn delete_page(store: &dyn Store, range: &KeyRange) -> Result<u64> {
    let page = store.range(range).await?;
    if page.items.is_empty() {
        return Ok(0);
    }
    let ops: Vec<TxnOp> = page
        .items
        .iter()
        .map(|kv| TxnOp::Delete(kv.key.clone()))
        .collect();
    store.txn(Txn::default().then(ops)).await?;
    Ok(page.items.len() as u64)
}
