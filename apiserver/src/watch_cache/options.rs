//! What a watch cache is made with: the sizes of its buffers and the decoder of store events.

use std::sync::Arc;

use crate::store::WatchEvent;

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
