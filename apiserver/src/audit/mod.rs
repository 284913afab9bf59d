//! The audit log: every mutation, and every authentication or authorization failure, as one
//! [`AuditRecord`] stored durably under [`PREFIX`] — outside the object key space, so no watch
//! and no tenant cascade ever sees it — at `<PREFIX><unix nanos, 20 digits>-<sequence>-<uuid>`,
//! which orders the records by time (then, within one timestamp, by the order one server keyed
//! them in).
//!
//! Recording never carries a request body: a record names the caller (key prefix, tenant),
//! the verb, the object's kind and name, the result and a short, body-free reason.
//!
//! A successful change writes its record in its own store transaction ([`stored_with`]): the
//! change and its record are stored together or not at all. Everything else goes through
//! [`AuditLog`], the handle the request path records through; one background writer per process
//! (see [`writer`]) stores those records in batches and trims the log to its retention. What
//! happens under pressure:
//! - a change made without a transaction of its own (a Secret key rotation) is *committed*: the
//!   request waits (in the same batch as every other waiting request) until its record is
//!   stored — the writer retries a batch the store refuses until it is stored — so it is
//!   acknowledged only with its record;
//! - denials and failed requests are *noted*: never waited for; when the queue is full they are
//!   counted and the writer stores one `audit-overflow` record saying how many were dropped;
//! - [`AuditLog::flush`] (the server calls it at shutdown) returns once everything queued
//!   before it is stored.

mod query;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use query::AuditQuery;

use crate::store::{Store, TxnOp};

/// The root of the audit log's keys; no object key starts with it.
pub const PREFIX: &str = "/minicloud-audit/";
/// The first key after every audit key (`/` + 1 is `0`).
const END: &str = "/minicloud-audit0";

/// One recorded request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// When the server decided the request (RFC 3339, UTC).
    pub time: String,
    /// The id returned to the caller in the `x-request-id` header.
    pub request_id: String,
    /// The public prefix of the key presented, when there was a key that parses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The tenant of that key (a claimed one, when authentication failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_tenant: Option<String>,
    /// The tenant acted in: the object's tenant, else the key's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// What was asked: `apply`, `delete`, `update-status`, `create-key`, `get`, `list`,
    /// `watch`, `list-audit`, `authenticate`, `rate-limit`, `audit-overflow`.
    pub verb: String,
    /// The object's kind, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The object's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `OK`, or the failure's reason (`Forbidden`, `NotFound`, `Unauthenticated`, …).
    pub result: String,
    /// What happened (`created`, `deleted`, …) or why it failed, without request content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Whether the mutation was a dry run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// The caller's address, for requests refused before a key was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

impl AuditRecord {
    /// A record of `verb` stamped now.
    pub fn new(verb: &str, request_id: &str, result: &str) -> AuditRecord {
        AuditRecord {
            time: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            request_id: request_id.to_owned(),
            verb: verb.to_owned(),
            result: result.to_owned(),
            ..AuditRecord::default()
        }
    }

    /// Whether a tenant-admin of `tenant` may read this record: it acted in the tenant or
    /// was made with one of the tenant's keys.
    pub fn concerns(&self, tenant: &str) -> bool {
        self.tenant.as_deref() == Some(tenant) || self.key_tenant.as_deref() == Some(tenant)
    }
}

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

/// How many records may wait for the writer before noted ones are dropped (and counted).
const QUEUE: usize = 10_000;

/// What the request path sends the writer.
enum Message {
    /// A record, with the sender to tell once it is stored (committed records).
    Record(Box<AuditRecord>, Option<oneshot::Sender<()>>),
    /// Tell once everything sent before is stored.
    Flush(oneshot::Sender<()>),
}

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

    /// Notes that a record was stored in its change's own transaction (see [`stored_with`]),
    /// so the writer counts it towards the next trim.
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

/// The write that stores `record` inside the transaction of the change it records: the change
/// and its record are then stored together or not at all.
pub fn stored_with(record: &AuditRecord) -> TxnOp {
    let time = humantime::parse_rfc3339(&record.time).unwrap_or_else(|_| SystemTime::now());
    let value = serde_json::to_vec(record).expect("audit records serialize");
    TxnOp::Put(record_key(time), value)
}

/// Records keyed by this process so far: orders records keyed in the same nanosecond.
static KEYED: AtomicU64 = AtomicU64::new(0);

/// The key of a record made at `time`: sorts by time, then by the order this process keyed
/// them in; unique across servers sharing a store by its uuid.
fn record_key(time: SystemTime) -> String {
    let sequence = KEYED.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}-{sequence:016}-{}",
        time_key(time),
        uuid::Uuid::new_v4().simple()
    )
}

/// The first key of the records made at or after `time`.
fn time_key(time: SystemTime) -> String {
    let nanos = time
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    format!("{PREFIX}{nanos:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_sort_by_time_and_stay_inside_the_prefix() {
        let early = record_key(UNIX_EPOCH + Duration::from_secs(9));
        let late = record_key(UNIX_EPOCH + Duration::from_secs(10));
        assert!(early < late, "{early} < {late}");
        for key in [&early, &late] {
            assert!(key.starts_with(PREFIX) && key.as_str() < END);
        }
        assert!(time_key(UNIX_EPOCH + Duration::from_secs(10)) <= late);
    }

    #[test]
    fn a_tenant_admin_sees_records_of_its_tenant_and_of_its_keys() {
        let mut record = AuditRecord::new("get", "r1", "NotFound");
        record.tenant = Some("beta".into());
        record.key_tenant = Some("acme".into());
        assert!(record.concerns("acme") && record.concerns("beta"));
        assert!(!record.concerns("gamma"));
    }
}
