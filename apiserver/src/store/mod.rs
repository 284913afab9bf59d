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

pub mod embedded;
mod error;
pub mod etcd;
pub mod keys;

use async_trait::async_trait;
use futures::stream::BoxStream;

pub use error::{Result, StoreError};

/// A store-wide logical clock: each committed write gets the next revision.
pub type Revision = i64;

/// One stored key with its value and the revisions that created and last modified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, e.g. `/minicloud/apps/acme/web`.
    pub key: String,
    /// The stored bytes (JSON objects, for the API server).
    pub value: Vec<u8>,
    /// Revision of the write that created this key (reset when a key is deleted and re-created).
    pub create_revision: Revision,
    /// Revision of the latest write to this key.
    pub mod_revision: Revision,
}

/// The result of a prefix listing: the items and the revision they were all read at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Matching keys in key order.
    pub items: Vec<KeyValue>,
    /// The store revision of this consistent read; watch from `revision + 1` to follow on.
    pub revision: Revision,
}

/// A bounded read of the keys in `[start, end)`, in key order or its reverse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// The first key of the range (inclusive).
    pub start: String,
    /// The key after the range (exclusive).
    pub end: String,
    /// At most this many items; 0 means no limit.
    pub limit: usize,
    /// Largest keys first.
    pub reverse: bool,
}

/// One bounded read of a [`KeyRange`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The first `limit` keys of the range, in the requested order.
    pub items: Vec<KeyValue>,
    /// How many keys the whole range holds, `limit` regardless.
    pub total: u64,
    /// The store revision of this consistent read.
    pub revision: Revision,
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or its value replaced.
    Put,
    /// The key was deleted.
    Delete,
}

/// One change observed by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put, the new key-value; for a delete, the key with an empty value whose
    /// `mod_revision` is the revision of the deletion.
    pub kv: KeyValue,
    /// The key-value as it was before this change, when it existed.
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// The revision at which this change was committed.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A condition a [`Txn`] checks before it applies its operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist.
    Absent(String),
    /// The key exists, at any revision.
    Present(String),
    /// The key exists and was last modified at exactly this revision.
    ModRevision(String, Revision),
}

/// A write inside a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// Create or replace the key's value.
    Put(String, Vec<u8>),
    /// Delete the key; a no-op when it does not exist.
    Delete(String),
}

/// A multi-key transaction: when every compare holds, all ops are applied atomically at one
/// new revision; otherwise nothing is written. A key may appear in at most one op.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Txn {
    /// Conditions that must all hold.
    pub compares: Vec<Compare>,
    /// Writes applied when they do.
    pub ops: Vec<TxnOp>,
}

impl Txn {
    /// A transaction guarded by `compares`.
    pub fn when(compares: impl Into<Vec<Compare>>) -> Self {
        Self {
            compares: compares.into(),
            ops: Vec::new(),
        }
    }

    /// Adds the writes to apply when the compares hold.
    pub fn then(mut self, ops: impl Into<Vec<TxnOp>>) -> Self {
        self.ops.extend(ops.into());
        self
    }

    /// Checks the shape rules both backends enforce: at most one op per key.
    pub fn check_shape(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for op in &self.ops {
            let key = match op {
                TxnOp::Put(key, _) | TxnOp::Delete(key) => key,
            };
            if !seen.insert(key.as_str()) {
                return Err(StoreError::InvalidTxn(format!(
                    "key {key} appears in more than one operation; merge them into one"
                )));
            }
        }
        Ok(())
    }
}

/// What a transaction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOutcome {
    /// Whether every compare held and the ops were applied.
    pub succeeded: bool,
    /// The revision of the applied ops, or the current revision when nothing was written.
    pub revision: Revision,
}

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
