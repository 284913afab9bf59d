//! The stream a client reads: replayed ring events then broadcast ones, or a direct store watch
//! for clients resuming from before the ring.

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use std::collections::VecDeque;
use tokio::sync::broadcast::{self, error::RecvError};

use super::error::WatchCacheError;
use super::options::Decoder;
use crate::store::{Revision, Store, StoreError};

/// The decoded events a client receives; an error item is always the last one.
pub type CachedEventStream<T> = BoxStream<'static, Result<T, WatchCacheError>>;

/// What a feed broadcasts to its subscriptions.
#[derive(Clone)]
pub(super) enum Delivery<T> {
    /// A decoded event at its revision.
    Event(Revision, T),
    /// The feed lost history it cannot replay (the store compacted it while the watch was
    /// down); every subscription must relist.
    Broken {
        /// The oldest revision the store still has.
        oldest: Revision,
    },
}

struct Cursor<T> {
    replay: VecDeque<(Revision, T)>,
    receiver: broadcast::Receiver<Delivery<T>>,
    last: Revision,
    buffer: usize,
    done: bool,
}

/// A subscription served from the feed: `replay` first, then the broadcast.
pub(super) fn cached<T: Clone + Send + Sync + 'static>(
    replay: VecDeque<(Revision, T)>,
    receiver: broadcast::Receiver<Delivery<T>>,
    after: Revision,
    buffer: usize,
) -> CachedEventStream<T> {
    let cursor = Cursor {
        replay,
        receiver,
        last: after,
        buffer,
        done: false,
    };
    stream::unfold(cursor, next).boxed()
}

async fn next<T: Clone + Send + Sync + 'static>(
    mut cursor: Cursor<T>,
) -> Option<(Result<T, WatchCacheError>, Cursor<T>)> {
    if cursor.done {
        return None;
    }
    if let Some((revision, event)) = cursor.replay.pop_front() {
        cursor.last = revision;
        return Some((Ok(event), cursor));
    }
    let item = match cursor.receiver.recv().await {
        Ok(Delivery::Event(revision, event)) => {
            cursor.last = revision;
            return Some((Ok(event), cursor));
        }
        Ok(Delivery::Broken { oldest }) => WatchCacheError::Expired {
            requested: cursor.last,
            oldest,
        },
        Err(RecvError::Lagged(_)) => WatchCacheError::TooSlow {
            last: cursor.last,
            buffer: cursor.buffer,
        },
        Err(RecvError::Closed) => {
            WatchCacheError::Store(StoreError::WatchEnded("the server is shutting down".into()))
        }
    };
    cursor.done = true;
    Some((Err(item), cursor))
}

/// A subscription served by a store watch of its own, for a revision older than the ring.
pub(super) async fn direct<T: Send + 'static>(
    store: &dyn Store,
    prefix: &str,
    after: Revision,
    decode: Decoder<T>,
) -> Result<CachedEventStream<T>, WatchCacheError> {
    let events = store
        .watch(prefix, after + 1)
        .await
        .map_err(|error| expired(error, after))?;
    let decoded = events.filter_map(move |item| {
        let mapped = match item {
            Ok(event) => decode(&event).map(Ok),
            Err(error) => Some(Err(expired(error, after))),
        };
        std::future::ready(mapped)
    });
    Ok(decoded.boxed())
}

/// The cache error for a store error met while watching after `after`.
pub(super) fn expired(error: StoreError, after: Revision) -> WatchCacheError {
    match error {
        StoreError::Compacted { compacted, .. } => WatchCacheError::Expired {
            requested: after,
            oldest: compacted,
        },
        other => WatchCacheError::Store(other),
    }
}
