//! [`AuditRecord`]: one recorded request, and where the log keeps it — under [`PREFIX`], at a
//! key that sorts by time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::store::TxnOp;

/// The root of the audit log's keys; no object key starts with it.
pub const PREFIX: &str = "/minicloud-audit/";
/// The first key after every audit key (`/` + 1 is `0`).
pub(super) const END: &str = "/minicloud-audit0";

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
pub(super) fn time_key(time: SystemTime) -> String {
    let nanos = time
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    format!("{PREFIX}{nanos:020}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
