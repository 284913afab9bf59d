//! The watch cache: one store watch per key prefix, fanned out to any number of clients.
//!
//! A [`Feed`](feed::Feed) follows its prefix in the store, decodes each event once, keeps the most
//! recent ones in a bounded ring and broadcasts them. A client subscribing "after revision R"
//! is served from the ring when R is recent enough, and otherwise from a watch of its own on the
//! store (which fails as [`WatchCacheError::Expired`] when the store has compacted R away).
//! Every client reads through a bounded buffer shared by all: a client that falls further behind
//! is cut off with [`WatchCacheError::TooSlow`], naming the revision to resume after, and never
//! slows the others.

mod cache;
mod error;
mod feed;
mod options;
mod subscription;

pub use cache::WatchCache;
pub use error::WatchCacheError;
pub use options::{Decoder, WatchCacheOptions};
pub use subscription::CachedEventStream;
