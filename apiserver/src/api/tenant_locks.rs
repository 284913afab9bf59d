//! One lock per tenant around the writes that can move its quota usage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Locks kept before those nobody holds or waits for are dropped (tenants come and go).
const MAX_IDLE_LOCKS: usize = 1024;

/// One lock per tenant, held by this server's applies of Apps, Volumes and Tenants and by its
/// deletes in the tenant (the writes that can move its usage), so concurrent creates queue
/// here instead of failing each other's transactions. The store
/// transaction, not this lock, is what keeps the accounting exact (several API servers may
/// share one etcd).
#[derive(Default)]
pub(super) struct TenantLocks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl TenantLocks {
    /// Waits for `tenant`'s lock.
    pub(super) async fn lock(&self, tenant: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().expect("tenant lock table is never poisoned");
            if locks.len() >= MAX_IDLE_LOCKS {
                locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            locks.entry(tenant.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}
