//! The `Store`: the key-value contract every part of the API server persists through.
//!
//! Two backends implement it — [`etcd::EtcdStore`] for clusters and [`embedded::EmbeddedStore`]
//! (durable files in a data directory) for a single machine — and one conformance suite
//! (`apiserver/tests/store`) holds both to the same semantics:
//!
//! - Every write is stamped with a store-wide, strictly increasing [`Revision`]. A key's
//!   `mod_revision` is the revision of its last write; it is the object's `resourceVersion`.
//! - `update` and `delete` with an expected revision are compare-and-swap: a stale writer gets
//!   [`StoreError::Conflict`], never a lost update.
//! - A [`Txn`] applies all its operations at one revision, or none of them.
//! - `watch(prefix, from)` replays every change with revision `>= from` and then follows live
//!   changes, in revision order, each exactly once. History older than the compaction point is
//!   gone: asking for it fails with [`StoreError::Compacted`], and the caller must list again.
//!
//! [`metered::MeteredStore`] wraps either backend to time its operations.

pub mod embedded;
mod error;
pub mod etcd;
pub mod keys;
mod kv;
pub mod metered;
mod txn;

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use error::{Result, StoreError};
pub use kv::{EventKind, KeyRange, KeyValue, Listing, Page, Revision, WatchEvent};
pub use txn::{Compare, Txn, TxnOp, TxnOutcome};

/// A live stream of changes under a prefix, in revision order. It ends with an error item when
/// the store can no longer continue it (for example [`StoreError::Compacted`]).
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// Reads: point lookups and consistent prefix listings.
#[async_trait]
pub trait KvRead: Send + Sync {
    /// The key's current value, or `None`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;
    /// Every key starting with `prefix`, in key order, read at one revision.
    async fn list(&self, prefix: &str) -> Result<Listing>;
    /// At most `range.limit` keys of the range, in order, with the size of the whole range —
    /// for key spaces too large to list whole (the audit log).
    async fn range(&self, range: &KeyRange) -> Result<Page>;
}

/// Writes: single-key compare-and-swap operations and multi-key transactions.
#[async_trait]
pub trait KvWrite: Send + Sync {
    /// Creates `key`; fails with [`StoreError::AlreadyExists`] if it exists. Returns the revision.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision>;
    /// Replaces `key`'s value if it was last modified at `expected`; a stale `expected` fails
    /// with [`StoreError::Conflict`], a missing key with [`StoreError::NotFound`].
    async fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision>;
    /// Deletes `key` (only if last modified at `expected`, when given). Returns the revision of
    /// the deletion.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Revision>;
    /// Applies a transaction; see [`Txn`].
    async fn txn(&self, txn: Txn) -> Result<TxnOutcome>;
}

/// Change streams and history compaction.
#[async_trait]
pub trait KvWatch: Send + Sync {
    /// Streams every change under `prefix` with revision `>= from_revision`, then live changes.
    /// `from_revision == 0` means "only changes after now". Fails with
    /// [`StoreError::Compacted`] when `from_revision` is older than the retained history.
    async fn watch(&self, prefix: &str, from_revision: Revision) -> Result<WatchStream>;
    /// Discards history older than `revision`; watches from before it then fail as compacted.
    async fn compact(&self, revision: Revision) -> Result<()>;
}

/// The whole storage contract the API server runs on.
pub trait Store: KvRead + KvWrite + KvWatch {}

impl<T: KvRead + KvWrite + KvWatch> Store for T {}
