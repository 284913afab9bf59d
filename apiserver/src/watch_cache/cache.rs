//! [`WatchCache`]: one feed per key prefix, started on first use and restarted once broken.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::WatchCacheError;
use super::feed::Feed;
use super::options::{Decoder, WatchCacheOptions};
use super::subscription::{self, CachedEventStream};
use crate::store::{Revision, Store};

/// Fans store watches out to many clients; see the module documentation.
pub struct WatchCache<T> {
    store: Arc<dyn Store>,
    decode: Decoder<T>,
    options: WatchCacheOptions,
    feeds: tokio::sync::Mutex<HashMap<String, Arc<Feed<T>>>>,
}

impl<T: Clone + Send + Sync + 'static> WatchCache<T> {
    /// A cache over `store` that decodes events with `decode`.
    pub fn new(store: Arc<dyn Store>, decode: Decoder<T>, options: WatchCacheOptions) -> Self {
        Self {
            store,
            decode,
            options,
            feeds: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Streams the decoded events under `prefix` with revision greater than `after`.
    pub async fn watch(
        &self,
        prefix: &str,
        after: Revision,
    ) -> Result<CachedEventStream<T>, WatchCacheError> {
        let feed = self.feed(prefix, after).await?;
        match feed.subscribe(after) {
            Some(stream) => Ok(stream),
            None => {
                subscription::direct(self.store.as_ref(), prefix, after, self.decode.clone()).await
            }
        }
    }

    /// The running feed for `prefix`; a new one (first use, or after the old one broke)
    /// starts just after `after`, so the subscriber that starts it is always served by it.
    async fn feed(&self, prefix: &str, after: Revision) -> Result<Arc<Feed<T>>, WatchCacheError> {
        let mut feeds = self.feeds.lock().await;
        if let Some(feed) = feeds.get(prefix).filter(|feed| !feed.is_broken()) {
            return Ok(feed.clone());
        }
        let store = self.store.clone();
        let feed = Feed::start(store, prefix, after, self.decode.clone(), self.options)
            .await
            .map_err(|error| subscription::expired(error, after))?;
        feeds.insert(prefix.to_owned(), feed.clone());
        Ok(feed)
    }
}
