//! Reading the audit log: the newest records a query selects, read backwards from the end of
//! the log one bounded page at a time (so a large log is never listed whole), returned oldest
//! first.

use std::time::SystemTime;

use super::record::{AuditRecord, END, PREFIX, time_key};
use crate::store::{KeyRange, Result, Store};

/// Records read per store call.
const PAGE: usize = 500;

/// Which records to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only the records concerning this tenant (see [`AuditRecord::concerns`]).
    pub tenant: Option<String>,
    /// Only records made at or after this time.
    pub since: Option<SystemTime>,
    /// At most this many (the newest).
    pub limit: usize,
}

/// The newest records `query` selects, oldest first.
pub(super) async fn read(store: &dyn Store, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
    let start = query.since.map_or_else(|| PREFIX.to_owned(), time_key);
    let mut end = END.to_owned();
    let mut found = Vec::new();
    while found.len() < query.limit {
        let range = KeyRange {
            start: start.clone(),
            end,
            limit: PAGE,
            reverse: true,
        };
        let page = store.range(&range).await?;
        for kv in &page.items {
            let Ok(record) = serde_json::from_slice::<AuditRecord>(&kv.value) else {
                tracing::warn!(key = %kv.key, "skipping an audit record that does not parse");
                continue;
            };
            let wanted = query
                .tenant
                .as_deref()
                .is_none_or(|tenant| record.concerns(tenant));
            if wanted && found.len() < query.limit {
                found.push(record);
            }
        }
        match page.items.last() {
            Some(last) if page.items.len() == PAGE => end = last.key.clone(),
            _ => break,
        }
    }
    found.reverse();
    Ok(found)
}
