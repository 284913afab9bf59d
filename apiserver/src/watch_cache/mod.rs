//! The watch cache: one store watch per key prefix, fanned out to any number of clients.
//!
//! A [`Feed`](feed::Feed) follows its prefix in the store, decodes each event once, keeps the most
//! recent ones in a bounded ring and broadcasts them. A client subscribing "after revision R"
//! is served from the ring when R is recent enough, and otherwise from a watch of its own on the
//! store (which fails as [`WatchCacheError::Expired`] when the store has compacted R away).
//! Every client reads through a bounded buffer shared by all: a client that falls further behind
//! is cut off with [`WatchCacheError::TooSlow`], naming the revision to resume after, and never
//! slows the others.

mod feed;
mod subscription;

use std::collections::HashMap;
use std::sync::Arc;

use crate::store::{Revision, Store, StoreError, WatchEvent};
use feed::Feed;
pub use subscription::CachedEventStream;

/// Why a cached watch could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum WatchCacheError {
    /// The requested revision is older than any history still kept.
    #[error(
        "resourceVersion {requested} is too old (history now starts at {oldest}); list again and watch from the listed resourceVersion"
    )]
    Expired {
        /// The revision the client asked to resume after.
        requested: Revision,
        /// The oldest revision still available.
        oldest: Revision,
    },
    /// The client read too slowly and was disconnected.
    #[error(
        "the watch fell more than {buffer} events behind and was cut off; resume after resourceVersion {last}"
    )]
    TooSlow {
        /// The last revision delivered to the client.
        last: Revision,
        /// The buffer size the client exceeded.
        buffer: usize,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sizes of the cache's buffers.
#[derive(Clone, Copy, Debug)]
pub struct WatchCacheOptions {
    /// Events kept per prefix for clients resuming from a recent revision.
    pub history: usize,
    /// Events a client may fall behind the newest before it is cut off.
    pub client_buffer: usize,
}

impl Default for WatchCacheOptions {
    fn default() -> Self {
        Self {
            history: 10_000,
            client_buffer: 4_096,
        }
    }
}

/// Turns a store event into what clients receive, once per event for all clients; `None` drops
/// the event (for example an undecodable value, which the decoder should log).
pub type Decoder<T> = Arc<dyn Fn(&WatchEvent) -> Option<T> + Send + Sync>;

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
