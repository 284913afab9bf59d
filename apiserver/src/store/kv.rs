//! What the store holds and reports: revisions, key-values, listings, bounded pages and the
//! events of a watch.

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
