//! Keeps a [`Cache`] in step with the API server: list, then watch from the list's version;
//! on an expired version, a failed watch or the end of the stream, list again.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use super::cache::Cache;
use crate::client::{ApiClient, ClientError, TenantScope, WatchEvent};
use crate::object::Object;

/// First delay after a failure to reach the server; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// Longest delay between attempts to reach the server.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Mirrors every object of kind `T` into `cache` until `shutdown`.
pub async fn reflect<T: Object>(client: ApiClient, cache: Cache<T>, shutdown: CancellationToken) {
    let mut retry = FIRST_RETRY;
    while !shutdown.is_cancelled() {
        let outcome = tokio::select! {
            outcome = list_and_watch(&client, &cache) => outcome,
            () = shutdown.cancelled() => return,
        };
        match outcome {
            Ok(()) => retry = FIRST_RETRY,
            Err(error) if error.is_expired() => {
                tracing::debug!(kind = %T::KIND, %error, "watch expired; listing again");
                retry = FIRST_RETRY;
                continue;
            }
            Err(error) => {
                tracing::warn!(kind = %T::KIND, %error, "cannot follow the API server; retrying");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            () = shutdown.cancelled() => return,
        }
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// One list followed by one watch, until the watch ends (`Ok`) or fails.
async fn list_and_watch<T: Object>(
    client: &ApiClient,
    cache: &Cache<T>,
) -> Result<(), ClientError> {
    let listing = client.list::<T>(&TenantScope::All, "").await?;
    cache.replace(listing.items);
    let mut events = client
        .watch::<T>(&TenantScope::All, "", Some(&listing.resource_version))
        .await?;
    while let Some(event) = events.next().await {
        match event? {
            WatchEvent::Added(object) | WatchEvent::Modified(object) => cache.applied(object),
            WatchEvent::Deleted(object) => cache.deleted(object),
            WatchEvent::Bookmark(_) => {}
        }
    }
    Ok(())
}
